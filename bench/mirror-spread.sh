#!/usr/bin/env bash
# Live benchmark of a mirror session (run as root): one ERSPAN type II
# session carrying 1000 conversations, every frame also sent raw (as a
# switch that mirrors a packet twice does), captured by ringflow AF_PACKET
# with 2 workers and --dedup 1ms, once with `--fanout inner` (the default:
# the spread follows the mirrored packets) and once with `--fanout hash`
# (the kernel's hash of the outer headers). Evenly paced at RATE (default
# 100000 frames/s) and as a burst (as fast as `ringflow gen` sends). Prints
# per run: the frames offered and captured per second, each worker's share
# of them, the raw copies sent and those --dedup dropped (every one, when
# copies meet their original on one worker), drops, and the capture's CPU
# per frame.
#
#   bench/mirror-spread.sh
#   RATE=250000 PACKETS=2000000 bench/mirror-spread.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/capture-lib.sh
[ "$(id -u)" -eq 0 ] || { echo "bench/mirror-spread.sh: needs root (network namespaces)"; exit 2; }

RATE=${RATE:-100000}
PACKETS=${PACKETS:-1000000}
GEN_CPU=${GEN_CPU:-0}
CAP_CPU=${CAP_CPU:-1}
TX=rfmirror-tx-$$ RX=rfmirror-rx-$$ TXIF=rfmt$$ RXIF=rfmr$$
cargo build --release --quiet --bin ringflow
BIN=$PWD/target/release/ringflow
work=$(mktemp -d)
cleanup() {
  veth_teardown "$TX" "$RX" "$RXIF"
  rm -rf "$work"
}
trap cleanup EXIT
veth_path "$TX" "$RX" "$TXIF" "$RXIF" "$CAP_CPU"
sleep 1

printf '%-7s %-7s %12s %12s %15s %10s %12s %8s %12s\n' fanout load offered_fps captured_fps worker_shares raw_copies dedup_dropped drops cpu_ns/frame
for load in paced burst; do
  for fanout in inner hash; do
    log=$work/log
    ip netns exec "$RX" "$BIN" --iface "$RXIF" --workers 2 --fanout "$fanout" --dedup 1ms \
      --listen 127.0.0.1:19398 --print >"$work/out" 2>"$log" &
    sleep 0.2
    pid=$(pgrep -f -n "$RXIF" | head -1)
    wait_ready "$log" serving || true
    c0=$(cpu_ns "$pid")
    gen_args=(--iface "$TXIF" --flows 1000 --packets "$PACKETS" --duration 30s
      --mirror-session erspan2 --mirror-raw)
    [ "$load" = paced ] && gen_args+=(--rate "$RATE")
    gen=$(ip netns exec "$TX" taskset -c "$GEN_CPU" "$BIN" gen "${gen_args[@]}" 2>&1 | tail -1)
    settle ringflow
    c1=$(cpu_ns "$pid")
    kill -TERM "$pid"; wait "$pid" || true
    # gen counts the frames inside the session; each went out twice
    read -r inner secs < <(gen_figures "$gen") || true
    awk -v f="$fanout" -v l="$load" -v secs="$secs" -v inner="$inner" -v sent=$((2 * inner)) -v cpu=$((c1 - c0)) '
      /^ringflow_packets_total/ {c = $2}
      /^ringflow_capture_drops_total/ {d += $2}
      /^ringflow_dedup_dropped_total/ {dd = $2}
      /^ringflow_capture_packets_total/ {w[n++] = $2}
      END {
        shares = ""
        for (i = 0; i < n; i++) shares = shares (i ? "/" : "") sprintf("%.0f%%", c ? 100 * w[i] / c : 0)
        printf "%-7s %-7s %12.0f %12.0f %15s %10d %12d %8d %12.0f\n", f, l, sent / secs, c / secs, shares, inner, dd, d,
          (c > 0 ? cpu / c : 0)
      }' "$work/out"
  done
done
