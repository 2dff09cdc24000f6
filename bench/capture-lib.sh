# Shared by bench/live.sh, bench/mirror-spread.sh and tuning/sweep
# (sourced, not run): the veth path between two namespaces, and how a
# capture's figures are read.

# veth_path TX RX TXIF RXIF CAP_CPU: two network namespaces and a veth
# pair between them (no address, IPv6 off: nothing leaves them), lo up in
# RX; veth only runs NAPI with GRO (or XDP) on, so GRO on and threaded
# NAPI on the receiving end, its thread on the capture CPU (one receive
# core, like a NIC queue's interrupt).
veth_path() {
  local tx=$1 rx=$2 txif=$3 rxif=$4 cpu=$5
  ip netns add "$tx"; ip netns add "$rx"
  ip link add "$txif" netns "$tx" type veth peer name "$rxif" netns "$rx"
  ip netns exec "$tx" sysctl -qw "net.ipv6.conf.$txif.disable_ipv6=1"
  ip netns exec "$rx" sysctl -qw "net.ipv6.conf.$rxif.disable_ipv6=1"
  ip -n "$tx" link set "$txif" up; ip -n "$rx" link set "$rxif" up
  ip -n "$rx" link set lo up
  ip netns exec "$rx" ethtool -K "$rxif" gro on >/dev/null
  ip netns exec "$rx" sh -c "echo 1 > /sys/class/net/$rxif/threaded"
  local pid
  for pid in $(pgrep -f "napi/$rxif" || true); do taskset -pc "$cpu" "$pid" >/dev/null; done
}

# veth_teardown TX RX RXIF: what veth_path made, and the captures still
# running on RXIF, gone
veth_teardown() {
  pkill -f "$3" 2>/dev/null || true
  ip netns del "$1" 2>/dev/null || true
  ip netns del "$2" 2>/dev/null || true
}

# CPU time of all a process's threads in ns (schedstat is exact, the
# tick-based utime/stime are not; but it counts only the threads still
# there, so not for a process whose threads come and go), and its peak
# memory in KiB. (%.0f: mawk's %d stops at 2^31, 2.1 s.)
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'; }
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

# quiet PID: up to 60 s until the process uses less than 5 % of a core
# (its collector has caught up with what came before)
quiet() {
  local a b _
  for _ in $(seq 120); do
    a=$(cpu_ns "$1"); sleep 0.5; b=$(cpu_ns "$1")
    [ $((b - a)) -lt 25000000 ] && return 0
  done
  return 1
}

# wait_ready LOG TEXT: up to 5 s for a capture to say it runs
wait_ready() {
  local _
  for _ in $(seq 100); do grep -q "$2" "$1" && return 0; sleep 0.05; done
  return 1
}

# settle TOOL: after the load, before the capture is stopped. tcpdump's
# ring hands a block over when it is full or a second old: its last one
# needs that second to come.
settle() { if [ "$1" = tcpdump ]; then sleep 1.5; else sleep 0.3; fi; }

# "captured drops" from tcpdump's closing lines (its stderr); nothing if
# it did not say
tcpdump_counts() {
  awk '/packets captured/ {c = $1} /dropped by kernel/ {d = $1} END {if (c != "") print c, d + 0}' "$1"
}

# "captured drops" from ringflow's final exposition (--print); nothing if
# there is none. AF_XDP in copy mode counts a frame that found the fill
# ring empty in rx_dropped as well: that reason is not added again.
ringflow_counts() {
  awk '/^ringflow_packets_total/ {c = $2}
       /^ringflow_capture_drops_total/ && !/rx_fill_ring_empty_descs/ {d += $2}
       END {if (c != "") print c, d + 0}' "$1"
}

# "sent seconds" from `ringflow gen`'s last line
gen_figures() {
  echo "$1" | sed -nE 's/.*sent ([0-9]+) packets.* in ([0-9.]+) s.*/\1 \2/p'
}
