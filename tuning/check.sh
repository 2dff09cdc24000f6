#!/usr/bin/env bash
# Reports the system settings that decide how fast a capture box can count:
# CPUs, memory, transparent huge pages, and for each interface given, its
# RX queues, ring sizes and the offloads that change what a capture sees.
# Read-only: it changes nothing.
#
#   tuning/check.sh [IFACE...]
set -u

say() { printf '%-28s %s\n' "$1" "$2"; }

say "kernel" "$(uname -r)"
say "online CPUs" "$(nproc)"
say "memory" "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
say "transparent huge pages" "$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)"
say "net.core.rmem_max" "$(sysctl -n net.core.rmem_max 2>/dev/null || echo unknown)"
say "net.core.netdev_budget" "$(sysctl -n net.core.netdev_budget 2>/dev/null || echo unknown)"

for ifc in "$@"; do
  echo
  if [ ! -e "/sys/class/net/$ifc" ]; then
    echo "$ifc: no such interface (available: $(ls /sys/class/net | tr '\n' ' '))"
    continue
  fi
  say "$ifc state" "$(cat /sys/class/net/$ifc/operstate)"
  say "$ifc speed (Mb/s)" "$(cat /sys/class/net/$ifc/speed 2>/dev/null || echo unknown)"
  say "$ifc RX queues" "$(ls -d /sys/class/net/$ifc/queues/rx-* 2>/dev/null | wc -l)"
  say "$ifc threaded NAPI" "$(cat /sys/class/net/$ifc/threaded 2>/dev/null || echo n/a)"
  if command -v ethtool >/dev/null; then
    say "$ifc RX ring" "$(ethtool -g "$ifc" 2>/dev/null | awk '/^Current/ {c=1} c && /^RX:/ {print $2; exit}')"
    for o in generic-receive-offload large-receive-offload rx-vlan-offload; do
      say "$ifc $o" "$(ethtool -k "$ifc" 2>/dev/null | awk -v o="$o:" '$1 == o {print $2}')"
    done
  else
    say "$ifc rings/offloads" "install ethtool to see them"
  fi
done
