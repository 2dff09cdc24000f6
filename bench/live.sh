#!/usr/bin/env bash
# Live benchmark (run as root). Builds a veth pair between two network
# namespaces, gives the receiving end threaded NAPI pinned to the capture
# CPU (one receive core, like a NIC queue's IRQ), runs `ringflow gen` on
# the other CPU as fast as it can, and captures with ringflow and with
# `tcpdump -w /dev/null` in turn on the same load, for 1k and 64k flows.
# Prints offered and captured packets per second, drops, the capture
# process's CPU time per captured packet and its peak memory.
#
#   bench/live.sh            PACKETS=2000000 FLOWS="1000 65536" bench/live.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench/live.sh: needs root (network namespaces)"; exit 2; }
command -v tcpdump >/dev/null || { echo "bench/live.sh: needs tcpdump (apt-get install tcpdump)"; exit 2; }

PACKETS=${PACKETS:-3000000}
FLOWS=${FLOWS:-"1000 65536"}
GEN_CPU=${GEN_CPU:-0}
CAP_CPU=${CAP_CPU:-1}
TX=rfbench-tx-$$ RX=rfbench-rx-$$ TXIF=rfbt$$ RXIF=rfbr$$
cargo build --release --quiet
BIN=$PWD/target/release/ringflow
work=$(mktemp -d)
cleanup() {
  pkill -f "$RXIF" 2>/dev/null || true
  ip netns del "$TX" 2>/dev/null || true
  ip netns del "$RX" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$TX"; ip netns add "$RX"
ip link add "$TXIF" netns "$TX" type veth peer name "$RXIF" netns "$RX"
ip netns exec "$TX" sysctl -qw "net.ipv6.conf.$TXIF.disable_ipv6=1"
ip netns exec "$RX" sysctl -qw "net.ipv6.conf.$RXIF.disable_ipv6=1"
ip -n "$TX" link set "$TXIF" up; ip -n "$RX" link set "$RXIF" up
sleep 1
# veth only runs NAPI with GRO (or XDP) on; then threaded NAPI on the
# receive side, its kthread pinned to the capture CPU.
ip netns exec "$RX" ethtool -K "$RXIF" gro on >/dev/null
ip netns exec "$RX" sh -c "echo 1 > /sys/class/net/$RXIF/threaded"
for pid in $(pgrep -f "napi/$RXIF" || true); do taskset -pc "$CAP_CPU" "$pid" >/dev/null; done

# CPU time of all the process's threads in ns (schedstat is exact, the
# tick-based utime/stime are not)
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%d", s}'; }
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

printf '%-9s %-6s %12s %12s %10s %12s %12s %10s\n' tool flows offered_pps captured_pps drops captured cpu_ns/pkt peak_MiB
for flows in $FLOWS; do
  for tool in ringflow tcpdump; do
    log=$work/$tool.log
    if [ "$tool" = ringflow ]; then
      ip netns exec "$RX" taskset -c "$CAP_CPU" "$BIN" --iface "$RXIF" --workers 1 --cpus "$CAP_CPU" ${RINGFLOW_ARGS:-} \
        --listen 127.0.0.1:19399 --print >"$work/out" 2>"$log" &
      ready="serving"
    else
      ip netns exec "$RX" taskset -c "$CAP_CPU" tcpdump -i "$RXIF" -s 256 -B 65536 -w /dev/null 2>"$log" &
      ready="listening on"
    fi
    sleep 0.2
    pid=$(pgrep -f -n "$RXIF" | head -1)
    for _ in $(seq 100); do grep -q "$ready" "$log" && break; sleep 0.05; done
    c0=$(cpu_ns "$pid")
    gen=$(ip netns exec "$TX" taskset -c "$GEN_CPU" "$BIN" gen --iface "$TXIF" --flows "$flows" \
      --packets "$PACKETS" --duration 30s 2>&1 | tail -1)
    sleep 0.3
    c1=$(cpu_ns "$pid")
    hwm=$(hwm_kib "$pid")
    sent=$(echo "$gen" | sed -E 's/.*sent ([0-9]+) packets.*/\1/')
    secs=$(echo "$gen" | sed -E 's/.* in ([0-9.]+) s.*/\1/')
    if [ "$tool" = ringflow ]; then
      kill -TERM "$pid"; wait "$pid" || true
      captured=$(awk '/^ringflow_packets_total/ {print $2}' "$work/out")
      drops=$(awk '/^ringflow_capture_drops_total/ {s += $2} END {print s + 0}' "$work/out")
    else
      kill -INT "$pid"; wait "$pid" || true
      captured=$(awk '/packets captured/ {print $1}' "$log")
      drops=$(awk '/dropped by kernel/ {print $1}' "$log")
    fi
    awk -v t="$tool" -v f="$flows" -v s="$sent" -v secs="$secs" -v c="$captured" -v d="$drops" \
        -v cpu=$((c1 - c0)) -v hwm="$hwm" 'BEGIN {
      printf "%-9s %-6s %12.0f %12.0f %10d %12d %12.0f %10.1f\n", t, f, s / secs, c / secs, d, c,
        (c > 0 ? cpu / c : 0), hwm / 1024 }'
  done
done
