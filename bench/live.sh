#!/usr/bin/env bash
# Live benchmark (run as root). Builds a veth pair between two network
# namespaces, gives the receiving end threaded NAPI pinned to the capture
# CPU (one receive core, like a NIC queue's IRQ), runs `ringflow gen` on
# the other CPU as fast as it can, and captures the same load in turn with
# ringflow AF_PACKET, `tcpdump -w /dev/null`, ringflow AF_XDP in native and
# SKB mode, and the bare AF_XDP receive-and-drop loop (bench/xdp_drop.rs,
# the ceiling, and the same loop reading each frame's first 64 bytes:
# the reference ringflow is judged against), for 1k, 64k and 1M flows, each in turn (uniform: every
# packet a different flow, the stress case) and, with ZIPF=S, also shared
# by a Zipf law (a few elephants, many mice). Prints offered and captured
# packets per second, drops, the capture process's CPU time per captured
# packet, the share of a core it took while the load ran (cpu_%), and
# its peak memory. Above 150000 flows ringflow runs with
# --flow-table-size 1.1 times the flows (printed), so the table holds them
# (with GEN=sock, whose flows are conversations, 2.2 times).
#
#   bench/live.sh
#   ZIPF=1.0 FLOWS="65536 1000000" bench/live.sh
#   RATE=200000 PACKETS=1000000 FLOWS=1000 bench/live.sh   (CPU at a moderate rate)
#   GEN=sock TOOLS="ringflow tcpdump" PACKETS=3000000 bench/live.sh
#   IPFIX=1 TOOLS=ringflow FLOWS=65536 bench/live.sh   (flow export on)
#   RECEIVE=inline RATE=250000 FLOWS=1000000 TOOLS="xdp-native read-native" bench/live.sh
#   WARM=1 RECEIVE=inline RATE=100000 PACKETS=500000 FLOWS=1000000 bench/live.sh
#
# RECEIVE=thread (default) runs the receiving end's NAPI in a thread on
# the capture CPU, beside the capture (one receive core, like a NIC
# queue's interrupt); RECEIVE=inline leaves it to the sender's core (the
# generator's system call runs it), so the capture CPU runs the capture
# alone. RATE paces the generator evenly (every frame on time, by the
# kernel's clock), else it sends as fast as it can. WARM=1 (with RATE)
# sends every flow twice more in front of PACKETS, in the same paced
# load, and takes the CPU from two seconds after those rounds to the
# end: the CPU of a capture that knows its flows, as on a link watched
# for longer than a flow lives (the counts are the whole load's).
#
# IPFIX=1 starts nfcapd in the receive namespace and runs the ringflow
# captures with --ipfix to it (export on); the records sent and dropped
# are printed at the end.
#
# GEN=xdp (default) sends with `ringflow gen --xdp` (the kernel transmits
# from an XDP program, several Mpps: more than any capture here can take);
# GEN=sock with sendmmsg (about 0.6 Mpps, throttled by the receive core).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/capture-lib.sh
[ "$(id -u)" -eq 0 ] || { echo "bench/live.sh: needs root (network namespaces)"; exit 2; }
command -v tcpdump >/dev/null || { echo "bench/live.sh: needs tcpdump (apt-get install tcpdump)"; exit 2; }

GEN=${GEN:-xdp}
if [ "$GEN" = xdp ]; then PACKETS=${PACKETS:-20000000}; else PACKETS=${PACKETS:-3000000}; fi
FLOWS=${FLOWS:-"1000 65536 1000000"}
# mixes: uniform, and zipf when ZIPF is set (its exponent)
MIXES="uniform${ZIPF:+ zipf}"
TOOLS=${TOOLS:-"ringflow tcpdump xdp-native xdp-skb drop-native drop-skb read-native read-skb"}
RECEIVE=${RECEIVE:-thread}
GEN_CPU=${GEN_CPU:-0}
CAP_CPU=${CAP_CPU:-1}
TX=rfbench-tx-$$ RX=rfbench-rx-$$ TXIF=rfbt$$ RXIF=rfbr$$
cargo build --release --quiet --bin ringflow --example xdp_drop
BIN=$PWD/target/release/ringflow
DROP=$PWD/target/release/examples/xdp_drop
work=$(mktemp -d)
cleanup() {
  veth_teardown "$TX" "$RX" "$RXIF"
  pkill -f "nfcapd -b 127.0.0.1 -p 4739 -t 3600 -w $work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

veth_path "$TX" "$RX" "$TXIF" "$RXIF" "$CAP_CPU"
[ "$RECEIVE" = inline ] && ip netns exec "$RX" sh -c "echo 0 > /sys/class/net/$RXIF/threaded"
export_args=""
if [ -n "${IPFIX:-}" ]; then
  command -v nfcapd >/dev/null || { echo "bench/live.sh: IPFIX=1 needs nfcapd (apt-get install nfdump)"; exit 2; }
  mkdir -p "$work/nfcapd"
  ip netns exec "$RX" nfcapd -b 127.0.0.1 -p 4739 -t 3600 -w "$work/nfcapd" >"$work/nfcapd.log" 2>&1 &
  export_args="--ipfix 127.0.0.1:4739"
fi
sleep 1
# "thread-name ns" per thread, summed by name
threads_ns() {
  for t in /proc/"$1"/task/*; do echo "$(cat "$t/comm") $(cut -d' ' -f1 "$t/schedstat")"; done |
    awk '{s[$1] += $2} END {for (n in s) printf "%s %.0f\n", n, s[n]}' | sort
}

printf '%-12s %-8s %-7s %12s %12s %10s %12s %12s %6s %10s\n' tool flows mix offered_pps captured_pps drops captured cpu_ns/pkt cpu_% peak_MiB
for flows in $FLOWS; do
 table=""
 # the socket generator's flows are conversations: two flows each
 keys=$flows
 [ "$GEN" = sock ] && keys=$((2 * flows))
 if [ "$keys" -gt 150000 ]; then
   table="--flow-table-size $((keys * 11 / 10)) --flow-table-size-v6 1024"
   echo "# $flows flows: ringflow $table" >&2
 fi
 for mix in $MIXES; do
  for tool in $TOOLS; do
    log=$work/$tool.log
    : >"$work/out"
    case $tool in
      ringflow|xdp-native|xdp-skb)
        case $tool in
          ringflow) backend="--backend af-packet" ;;
          xdp-native) backend="--backend af-xdp --xdp-mode native" ;;
          xdp-skb) backend="--backend af-xdp --xdp-mode skb" ;;
        esac
        # the worker on the receive CPU; the collector and the other
        # threads keep off it (ringflow's default), so on the other one
        ip netns exec "$RX" "$BIN" --iface "$RXIF" $backend --cpus "$CAP_CPU" $table $export_args ${RINGFLOW_ARGS:-} \
          --listen 127.0.0.1:19399 --print >"$work/out" 2>"$log" &
        ready="serving" ;;
      tcpdump)
        ip netns exec "$RX" taskset -c "$CAP_CPU" tcpdump -i "$RXIF" -s 256 -B 65536 -w /dev/null 2>"$log" &
        ready="listening on" ;;
      drop-native|drop-skb)
        ip netns exec "$RX" taskset -c "$CAP_CPU" "$DROP" "$RXIF" 1 "${tool#drop-}" >"$work/out" 2>"$log" &
        ready="receiving" ;;
      read-native|read-skb)
        ip netns exec "$RX" taskset -c "$CAP_CPU" "$DROP" "$RXIF" 1 "${tool#read-}" 3600 read >"$work/out" 2>"$log" &
        ready="receiving" ;;
    esac
    sleep 0.2
    pid=$(pgrep -f -n "$RXIF" | head -1)
    wait_ready "$log" "$ready" || true
    gen_args=(--iface "$TXIF" --flows "$flows" --packets "$PACKETS" --duration 30s)
    [ "$GEN" = xdp ] && gen_args+=(--xdp)
    [ "$mix" = zipf ] && gen_args+=(--zipf "$ZIPF")
    [ -n "${RATE:-}" ] && gen_args+=(--rate "$RATE")
    if [ -n "${WARM:-}" ]; then
      # one load, every flow twice more in front, measured from two
      # seconds after those two rounds were due to the end: the flows
      # stay in the tables, as on a link that keeps them busy, and the
      # tables have settled (the first round fills them, and what a
      # table freed for room comes back in the second)
      gen_args=(--iface "$TXIF" --flows "$flows" --packets $((PACKETS + 2 * flows)) --duration 90s --rate "$RATE")
      [ "$GEN" = xdp ] && gen_args+=(--xdp)
      ip netns exec "$TX" taskset -c "$GEN_CPU" "$BIN" gen "${gen_args[@]}" >"$work/gen" 2>&1 &
      gen_pid=$!
      sleep "$(awk -v f="$flows" -v r="$RATE" 'BEGIN {print 2 * f / r + 2}')"
      c0=$(cpu_ns "$pid"); t0=$(date +%s.%N)
      threads_ns "$pid" >"$work/t0"
      wait "$gen_pid" || true
      gen=$(tail -1 "$work/gen")
    else
      c0=$(cpu_ns "$pid"); t0=$(date +%s.%N)
      threads_ns "$pid" >"$work/t0"
      gen=$(ip netns exec "$TX" taskset -c "$GEN_CPU" "$BIN" gen "${gen_args[@]}" 2>&1 | tail -1)
    fi
    settle "$tool"
    c1=$(cpu_ns "$pid"); t1=$(date +%s.%N)
    threads_ns "$pid" >"$work/t1"
    hwm=$(hwm_kib "$pid")
    read -r sent secs < <(gen_figures "$gen") || true
    case $tool in
      tcpdump)
        kill -INT "$pid"; wait "$pid" || true
        read -r captured drops < <(tcpdump_counts "$log") || true ;;
      drop-*|read-*)
        kill -INT "$pid"; wait "$pid" || true
        captured=$(awk '/received/ {print $3}' "$work/out")
        drops=$(awk '/received/ {print $5}' "$work/out") ;;
      *)
        kill -TERM "$pid"; wait "$pid" || true
        read -r captured drops < <(ringflow_counts "$work/out") || true ;;
    esac
    # the CPU's window: the load (the measured part of it with WARM)
    # and the settling after it; with WARM, per packet of the rate
    window=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
    in_window=$captured
    [ -n "${WARM:-}" ] && in_window=$(awk -v w="$window" -v r="$RATE" 'BEGIN {printf "%.0f", w * r}')
    awk -v t="$tool" -v f="$flows" -v m="$mix" -v s="$sent" -v secs="$secs" -v c="$captured" -v d="$drops" \
        -v cpu=$((c1 - c0)) -v hwm="$hwm" -v w="$window" -v n="$in_window" 'BEGIN {
      printf "%-12s %-8s %-7s %12.0f %12.0f %10d %12d %12.0f %6.1f %10.1f\n", t, f, m, s / secs, c / secs, d, c,
        (n > 0 ? cpu / n : 0), cpu / w / 1e7, hwm / 1024 }'
    # where a ringflow process spent its CPU, per thread, for the end
    case $tool in
      ringflow|xdp-*)
        join "$work/t0" "$work/t1" | awk -v t="$tool" -v f="$flows" -v m="$mix" -v c="$in_window" '
          $3 > $2 && c > 0 {printf "%s %s %s: %s %.0f ms (%.0f ns/pkt)\n", t, f, m, $1, ($3 - $2) / 1e6, ($3 - $2) / c}' \
          >>"$work/threads"
        # and what it took at start, and what found its flow table full
        grep -o 'memory: .*' "$log" | sed "s/^/$tool $flows $mix: /" >>"$work/threads" || true
        awk -v p="$tool $flows $mix: " '/^ringflow_flow_table_overflow_total/ {print p "flow table overflow " $2 " packets"}' \
          "$work/out" >>"$work/threads"
        # and what its tables held at the end
        awk -v p="$tool $flows $mix: at the end, " '/^ringflow_(flow_table|collector|detection)_memory_bytes/ {
            sub(/^ringflow_/, "", $1); s = s sprintf("%s%s %.1f MiB", (s == "" ? "" : ", "), $1, $2 / 1048576) }
          END {if (s != "") print p s}' "$work/out" >>"$work/threads"
        awk -v p="$tool $flows $mix: " '/^ringflow_ipfix_records_total/ {print p $0}' \
          "$work/out" >>"$work/threads" ;;
    esac
  done
 done
done
if [ -s "$work/threads" ]; then
  echo
  echo "CPU per thread of the ringflow runs:"
  cat "$work/threads"
fi
