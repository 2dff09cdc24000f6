#!/usr/bin/env bash
# CPU against rate (run as root): bench/live.sh at evenly paced rates,
# the receive NAPI inline on the sender's core (RECEIVE=inline), so the
# capture CPU runs the capture alone, each rate for SECS seconds of packets.
# Prints, per rate and tool, the captured rate, the drops and the share
# of a core the capture process took (all its threads).
#
#   bench/cpu-rate.sh
#   RATES="100000 250000" FLOWS=1000000 WARM=1 SECS=5 bench/cpu-rate.sh
#
# RATES (packets/s, default 50000 100000 250000 500000 1000000 2000000
# 3000000), FLOWS (1000), TOOLS ("xdp-native ringflow tcpdump"),
# SECS (4). WARM=1 (passed to bench/live.sh) sends every flow twice at
# the rate before the measured packets, so the CPU is that of flows
# already known, as on a link monitored for longer than a flow lives;
# without it a run at a million flows is mostly the collector meeting new
# flows.
set -euo pipefail
cd "$(dirname "$0")/.."
RATES=${RATES:-"50000 100000 250000 500000 1000000 2000000 3000000"}
FLOWS=${FLOWS:-1000}
TOOLS=${TOOLS:-"xdp-native ringflow tcpdump"}
SECONDS_EACH=${SECS:-4}
printf '%-10s %-12s %12s %10s %7s\n' rate tool captured_pps drops cpu_%
for rate in $RATES; do
  packets=$((rate * SECONDS_EACH))
  RECEIVE=inline RATE=$rate PACKETS=$packets FLOWS=$FLOWS TOOLS=$TOOLS bench/live.sh 2>/dev/null |
    awk -v r="$rate" 'NR > 1 && $2 ~ /^[0-9]+$/ && NF == 10 {printf "%-10s %-12s %12s %10s %7s\n", r, $1, $5, $6, $9}'
done
