// ringflow dashboard: reads the JSON API of the server it came from and
// redraws every refresh. Every value goes into the page as text
// (textContent, attributes), never as markup.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const CLASSES = ["incoming", "outgoing", "internal", "transit"];
const COLOURS = { incoming: "#2a7ab0", outgoing: "#d9822b", internal: "#2e8b57", transit: "#8e44ad" };
const GRAPH_EDGES = 150;
const TOP_N = 20;
const RECENT_EVENTS = 100;

const state = {
  refreshMs: 1000,
  windowLabel: "1m",
  positions: new Map(), // ip -> {x, y}
  sorts: {}, // table id -> {key, asc}
  charts: {},
  events: [], // recent alert events, oldest first
  since: 0,
};

// What the browser test reads: timing of the last render and counts.
window.ringflowStats = { renders: 0, lastRenderMs: 0, maxRenderMs: 0, errors: [] };

const $ = (id) => document.getElementById(id);

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = String(text);
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

function si(v, unit) {
  const steps = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
  for (const [f, p] of steps) if (Math.abs(v) >= f) return (v / f).toFixed(v / f >= 100 ? 0 : 1) + " " + p + unit;
  return (v >= 100 || v === 0 ? v.toFixed(0) : v.toFixed(1)) + " " + unit;
}
const bits = (bytesPerSecond) => si(bytesPerSecond * 8, "bit/s");
const bytes = (n) => si(n, "B");
const pps = (n) => si(n, "p/s");

async function api(path) {
  const r = await fetch(path, { cache: "no-store" });
  const body = await r.json();
  if (!r.ok) throw new Error(path + ": " + (body.error || r.status));
  return body;
}

// A table with sortable columns. cols: [{key, label, num, fmt, link}]
function table(id, cols, rows, empty) {
  const t = $(id);
  const sort = state.sorts[id];
  if (sort) {
    const col = cols.find((c) => c.key === sort.key);
    if (col) {
      const get = col.sortValue || ((r) => r[col.key]);
      rows = rows.slice().sort((a, b) => {
        const x = get(a), y = get(b);
        const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
        return sort.asc ? c : -c;
      });
    }
  }
  const head = el("tr");
  for (const c of cols) {
    const th = el("th", { class: (c.num ? "num" : "") + (sort && sort.key === c.key ? " sorted" + (sort.asc ? " asc" : "") : "") }, c.label);
    th.addEventListener("click", () => {
      const s = state.sorts[id];
      state.sorts[id] = { key: c.key, asc: s && s.key === c.key ? !s.asc : !c.num };
      table(id, cols, rows, empty);
    });
    head.appendChild(th);
  }
  const body = [head];
  for (const r of rows) {
    const tr = el("tr", r._bad ? { class: "bad" } : {});
    for (const c of cols) {
      const v = r[c.key];
      const td = el("td", c.num ? { class: "num" } : {});
      const text = c.fmt ? c.fmt(v, r) : v === null || v === undefined ? "" : v;
      if (c.link && v) {
        const a = el("a", { href: "#host=" + encodeURIComponent(v) }, text);
        td.appendChild(a);
      } else {
        td.textContent = String(text);
      }
      tr.appendChild(td);
    }
    body.push(tr);
  }
  t.replaceChildren(...body);
  if (rows.length === 0) {
    const tr = el("tr");
    tr.appendChild(el("td", { colspan: cols.length }, empty || "none"));
    t.appendChild(tr);
  }
}

const services = (list) => (list || []).map((s) => (s.service || s.proto + (s.port !== null ? "/" + s.port : ""))).join(", ");

// --- the network flow chart ---------------------------------------------

function hash(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0) / 4294967296;
}

// Force-directed layout with a fixed budget; known hosts keep their place.
// Local hosts are drawn towards the left, the others towards the right.
function layout(nodes, edges, W, H) {
  let fresh = 0;
  const pos = nodes.map((n) => {
    let p = state.positions.get(n.ip);
    if (!p) {
      fresh += 1;
      const side = n.local ? 0.28 : 0.72;
      p = { x: W * (side + (hash(n.ip) - 0.5) * 0.3), y: H * (0.1 + 0.8 * hash(n.ip + "y")) };
    }
    return { x: p.x, y: p.y, local: n.local };
  });
  const index = new Map(nodes.map((n, i) => [n.ip, i]));
  const links = edges.map((e) => [index.get(e.src), index.get(e.dst)]).filter(([a, b]) => a !== undefined && b !== undefined);
  const n = pos.length;
  const k = Math.min(110, Math.sqrt((W * H) / Math.max(n, 1)) * 0.6);
  // a budget per refresh: the layout goes on from where the last refresh
  // left it, so a large graph settles over a few refreshes (and the first
  // one, mostly new hosts on a page just loaded, stays quick)
  const iterations = n <= 150 ? 60 : fresh > n / 2 ? 2 : 25;
  for (let it = 0; it < iterations; it++) {
    const dx = new Float64Array(n), dy = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        let x = pos[i].x - pos[j].x, y = pos[i].y - pos[j].y;
        const d2 = x * x + y * y + 0.01;
        const f = (k * k) / d2;
        x *= f; y *= f;
        dx[i] += x; dy[i] += y; dx[j] -= x; dy[j] -= y;
      }
    }
    for (const [a, b] of links) {
      const x = pos[a].x - pos[b].x, y = pos[a].y - pos[b].y;
      const d = Math.sqrt(x * x + y * y) + 0.01;
      const f = d / k;
      dx[a] -= x * f; dy[a] -= y * f; dx[b] += x * f; dy[b] += y * f;
    }
    const t = 12 * (1 - it / iterations) + 1;
    for (let i = 0; i < n; i++) {
      const target = pos[i].local ? W * 0.28 : W * 0.72;
      // pulled towards its side, and towards the middle, so that
      // unconnected pairs do not drift to the corners
      // (the repulsion of all nodes on one at the edge is about
      // 0.36 * W * H / W, whatever their number, so a pull of about one
      // per pixel keeps the crowd inside the frame without squeezing it)
      dx[i] += (target - pos[i].x) * 1.2;
      dy[i] += (H / 2 - pos[i].y) * 1.4;
      const len = Math.sqrt(dx[i] * dx[i] + dy[i] * dy[i]) + 0.01;
      pos[i].x = Math.min(W - 20, Math.max(20, pos[i].x + (dx[i] / len) * Math.min(len, t)));
      pos[i].y = Math.min(H - 20, Math.max(20, pos[i].y + (dy[i] / len) * Math.min(len, t)));
    }
  }
  const kept = new Map();
  nodes.forEach((node, i) => kept.set(node.ip, { x: pos[i].x, y: pos[i].y }));
  state.positions = kept;
  return pos;
}

function drawGraph(g) {
  const W = 1000, H = 560;
  const nodes = g.nodes, edges = g.edges;
  const pos = layout(nodes, edges, W, H);
  const at = new Map(nodes.map((n, i) => [n.ip, pos[i]]));
  const maxEdge = Math.max(1, ...edges.map((e) => e.bytes));
  const maxNode = Math.max(1, ...nodes.map((n) => n.bytes));
  const parts = [];
  for (const e of edges) {
    const a = at.get(e.src), b = at.get(e.dst);
    if (!a || !b) continue;
    const line = svg("line", {
      x1: a.x.toFixed(1), y1: a.y.toFixed(1), x2: b.x.toFixed(1), y2: b.y.toFixed(1),
      "stroke-width": (1 + 11 * Math.sqrt(e.bytes / maxEdge)).toFixed(2),
      "data-src": e.src, "data-dst": e.dst, "data-bytes": e.bytes,
    });
    const title = svg("title");
    title.textContent = e.src + " \u2194 " + e.dst + ": " + bits(e.bytes_per_second) + ", " + pps(e.packets_per_second) + (e.services.length ? " \u00b7 " + services(e.services) : "");
    line.appendChild(title);
    parts.push(line);
  }
  nodes.forEach((n, i) => {
    const p = pos[i];
    const c = svg("circle", {
      cx: p.x.toFixed(1), cy: p.y.toFixed(1), r: (3 + (nodes.length > 100 ? 7 : 12) * Math.sqrt(n.bytes / maxNode)).toFixed(1),
      class: n.local ? "local" : "remote", "data-ip": n.ip,
    });
    const title = svg("title");
    title.textContent = n.ip + (n.local ? " (local)" : "") + ": sent " + bits(n.sent.bytes_per_second) + ", received " + bits(n.received.bytes_per_second);
    c.appendChild(title);
    c.addEventListener("click", () => { location.hash = "host=" + encodeURIComponent(n.ip); });
    parts.push(c);
  });
  // labels for the heaviest hosts only, so that 200 nodes stay readable
  nodes.slice(0, 40).forEach((n, i) => {
    const p = pos[i];
    const t = svg("text", { x: (p.x + 8).toFixed(1), y: (p.y - 6).toFixed(1) });
    t.textContent = n.ip;
    parts.push(t);
  });
  $("graph").replaceChildren(...parts);
  $("graph-info").textContent = edges.length + " of " + g.total_edges + " host pairs, " + nodes.length + " hosts, over " + g.seconds.toFixed(g.seconds < 10 ? 1 : 0) + " s";
}

// --- throughput -----------------------------------------------------------

function chart(id, title, fmt) {
  const width = Math.max(300, $(id).clientWidth || 600);
  const series = [{}].concat(CLASSES.map((c) => ({ label: c, stroke: COLOURS[c], width: 1.5, value: (u, v) => (v === null ? "" : fmt(v)) })));
  return new uPlot({
    title, width, height: 200, series,
    axes: [{}, { values: (u, vals) => vals.map(fmt), size: 80 }],
    scales: { x: { time: true } },
  }, [[], [], [], [], []], $(id));
}

function drawThroughput(t) {
  if (typeof uPlot === "undefined") return;
  if (!state.charts.bits) {
    state.charts.bits = chart("chart-bits", "bits per second", (v) => si(v, "bit/s"));
    state.charts.packets = chart("chart-packets", "packets per second", (v) => si(v, "p/s"));
  }
  state.charts.bits.setData([t.time].concat(CLASSES.map((c) => t.classes[c].bits_per_second)));
  state.charts.packets.setData([t.time].concat(CLASSES.map((c) => t.classes[c].packets_per_second)));
  // at least a minute wide, so a short capture's few points have an axis
  const n = t.time.length;
  if (n > 0 && t.time[n - 1] - t.time[0] < 60) {
    for (const ch of [state.charts.bits, state.charts.packets]) {
      ch.setScale("x", { min: t.time[n - 1] - 60, max: t.time[n - 1] });
    }
  }
  window.ringflowStats.throughputPoints = t.time.length;
}

// --- health, tables, alerts -------------------------------------------------

function drawStatus(s) {
  const warnings = s.warnings || [];
  const banner = $("banner");
  banner.hidden = warnings.length === 0;
  banner.textContent = warnings.length ? "The monitor is losing packets or detail: " + warnings.join("; ") : "";
  const rows = s.sockets.map((x) => ({
    where: x.iface + " / " + x.queue, backend: x.backend + " " + x.mode,
    pps: x.packets_per_second, drops: x.drops_per_second, total: x.drops, _bad: x.drops_per_second > 0,
  }));
  table("health", [
    { key: "where", label: "interface / queue" }, { key: "backend", label: "backend" },
    { key: "pps", label: "packets", num: true, fmt: pps }, { key: "drops", label: "drops", num: true, fmt: pps },
    { key: "total", label: "dropped in all", num: true },
  ], rows, "no capture sockets: this is a replay");
  table("nics", [
    { key: "iface", label: "NIC" }, { key: "up", label: "link", fmt: (v) => (v ? "up" : "DOWN") },
    { key: "promiscuous", label: "promiscuous", fmt: (v) => (v ? "yes" : "no") },
  ], s.nics.map((n) => Object.assign({ _bad: !n.up }, n)), "no interfaces: this is a replay");
  const c = s.collector;
  const fill = c.max_entries ? c.entries / c.max_entries : 0;
  const box = $("collector");
  const bar = el("div", { class: "bar" + (fill > 0.9 ? " high" : "") });
  const inner = el("div");
  inner.style.width = (100 * Math.min(1, fill)).toFixed(1) + "%";
  bar.appendChild(inner);
  box.replaceChildren(
    el("div", {}, "collector: " + c.entries + " of " + c.max_entries + " entries (" + (100 * fill).toFixed(1) + " %), " + c.hosts + " hosts, " + c.untracked_packets + " packets untracked"),
    el("div", {}, "memory: " + memory(c.memory_bytes, s.sockets)),
    bar,
    el("div", {}, s.packets + " packets counted, " + s.parse_errors + " unparsable, " + s.overflow_packets + " past a full flow table" + (s.complete ? " · input complete" : "")),
  );
}

// The one memory figure the start line and the doctor give, in MiB as
// they give it: the capture's rings (or UMEM), flow tables, collector.
function memory(m, sockets) {
  const mib = (n) => Math.floor(n / 1048576) + " MiB";
  const parts = [];
  if (m.capture) {
    const xdp = sockets.length && sockets[0].backend === "af-xdp";
    parts.push((xdp ? "UMEM " : "rings ") + mib(m.capture));
  }
  parts.push("flow tables " + mib(m.shards), "collector " + mib(m.collector));
  return mib(m.capture + m.shards + m.collector) + " (" + parts.join(" + ") + ")";
}

function drawTops(hosts, pairs) {
  table("top-hosts", [
    { key: "ip", label: "host", link: true }, { key: "where", label: "" },
    { key: "tx", label: "sent", num: true, fmt: bits }, { key: "rx", label: "received", num: true, fmt: bits },
    { key: "pps", label: "packets", num: true, fmt: pps },
  ], hosts.items.map((h) => ({
    ip: h.ip, where: h.local ? "local" : "", tx: h.sent.bytes_per_second, rx: h.received.bytes_per_second, pps: h.packets_per_second,
  })));
  table("top-pairs", [
    { key: "src", label: "from", link: true }, { key: "dst", label: "to", link: true },
    { key: "rate", label: "rate", num: true, fmt: bits }, { key: "svc", label: "services" }, { key: "class", label: "class" },
    { key: "since", label: "since", fmt: (v) => String(v).replace("T", " ").slice(0, 19) },
  ], pairs.items.map((p) => ({ src: p.src, dst: p.dst, rate: p.bytes_per_second, svc: services(p.services), class: p.class, since: p.first_seen })));
}

function evidence(e) {
  return (e.peers || []).slice(0, 3).map((p) => p.ip + (p.port !== null ? ":" + p.port : "") + " " + bytes(p.bytes)).join(", ");
}

const alertCols = [
  { key: "id", label: "#", num: true }, { key: "kind", label: "kind" }, { key: "ip", label: "host", link: true },
  { key: "direction", label: "dir" }, { key: "value", label: "value", num: true, fmt: (v) => si(v, "") },
  { key: "threshold", label: "limit", num: true, fmt: (v) => si(v, "") }, { key: "start", label: "since" },
  { key: "evidence", label: "evidence" }, { key: "group", label: "group" },
];

function drawAlerts(active) {
  table("alerts-active", alertCols, active.map((e) => Object.assign({ evidence: evidence(e), _bad: true }, e)));
  const recent = state.events.slice().reverse();
  table("alerts-recent", [{ key: "event", label: "event" }, { key: "time", label: "time" }].concat(alertCols),
    recent.map((e) => Object.assign({ evidence: evidence(e) }, e)));
}

async function drawHost() {
  const m = /^#host=(.+)$/.exec(location.hash);
  $("host-sec").hidden = !m;
  if (!m) return;
  const ip = decodeURIComponent(m[1]);
  $("host-ip").textContent = ip;
  let h;
  try {
    h = await api("/api/v1/hosts/" + encodeURIComponent(ip) + "?window=" + state.windowLabel + "&n=" + TOP_N);
  } catch (e) {
    $("host-summary").textContent = String(e.message);
    for (const id of ["host-peers", "host-services", "host-alerts"]) $(id).replaceChildren();
    return;
  }
  $("host-summary").textContent = (h.local ? "local network · " : "") + "sends " + bits(h.sent.bytes_per_second) + " (" + pps(h.sent.packets_per_second) + "), receives " + bits(h.received.bytes_per_second) + " (" + pps(h.received.packets_per_second) + ") over " + h.seconds.toFixed(0) + " s";
  table("host-peers", [
    { key: "ip", label: "peer", link: true }, { key: "tx", label: "to it", num: true, fmt: bits }, { key: "rx", label: "from it", num: true, fmt: bits },
  ], h.peers.map((p) => ({ ip: p.ip, tx: p.received.bytes_per_second, rx: p.sent.bytes_per_second })));
  table("host-services", [
    { key: "svc", label: "service" }, { key: "tx", label: "sent", num: true, fmt: bits }, { key: "rx", label: "received", num: true, fmt: bits },
  ], h.services.map((s) => ({ svc: services([s]), tx: s.sent.bytes_per_second, rx: s.received.bytes_per_second })));
  table("host-alerts", alertCols, h.alerts.map((e) => Object.assign({ evidence: evidence(e) }, e)));
}

// --- the refresh loop -------------------------------------------------------

async function refresh() {
  try {
    const w = state.windowLabel;
    const [status, graph, hosts, pairs, throughput, active, events] = await Promise.all([
      api("/api/v1/status"),
      api("/api/v1/graph?window=" + w + "&n=" + GRAPH_EDGES),
      api("/api/v1/top?what=hosts&window=" + w + "&n=" + TOP_N),
      api("/api/v1/top?what=pairs&window=" + w + "&n=" + TOP_N),
      api("/api/v1/throughput"),
      api("/api/v1/alerts/active?n=1000"),
      api("/api/v1/alerts?since=" + state.since + "&n=1000"),
    ]);
    const t0 = performance.now();
    state.events = state.events.concat(events.events).slice(-RECENT_EVENTS);
    state.since = events.next;
    const parts = {};
    const timed = (name, f) => { const t = performance.now(); f(); parts[name] = performance.now() - t; };
    timed("status", () => drawStatus(status));
    timed("graph", () => drawGraph(graph));
    timed("tops", () => drawTops(hosts, pairs));
    timed("throughput", () => drawThroughput(throughput));
    timed("alerts", () => drawAlerts(active));
    const ms = performance.now() - t0;
    const st = window.ringflowStats;
    st.renders += 1;
    st.lastRenderMs = ms;
    if (ms >= st.maxRenderMs) st.slowestParts = parts;
    st.maxRenderMs = Math.max(st.maxRenderMs, ms);
    st.nodes = graph.nodes.length;
    st.edges = graph.edges.length;
    st.activeAlerts = active.length;
    $("updated").textContent = "as of " + status.at;
    await drawHost();
  } catch (e) {
    window.ringflowStats.errors.push(String(e.message || e));
    $("updated").textContent = "cannot reach ringflow: " + (e.message || e);
  }
}

async function loop() {
  await refresh();
  setTimeout(loop, state.refreshMs);
}

async function start() {
  try {
    const caps = await api("/api/v1/capabilities");
    state.refreshMs = Math.max(500, caps.refresh_seconds * 1000);
    const where = caps.interfaces.length ? caps.interfaces.join(", ") : "replay";
    $("meta").textContent = "v" + caps.version + " · " + where + " · " + caps.workers + " worker(s)";
  } catch (e) {
    window.ringflowStats.errors.push(String(e.message || e));
  }
  $("window").addEventListener("change", (e) => { state.windowLabel = e.target.value; refresh(); });
  $("host-close").addEventListener("click", (e) => { e.preventDefault(); location.hash = ""; });
  window.addEventListener("hashchange", drawHost);
  loop();
}

start();
