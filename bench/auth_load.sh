#!/usr/bin/env bash
# Failed logins against an authorised scraper: a replay served with
# --web-config (one user, a cost-10 bcrypt hash), scraped with the right
# password once a second, first alone (10 scrapes), then while 64 clients,
# each from a loopback address of its own, send wrong passwords RATE times
# a second for DURATION seconds (defaults 10 and 30). Prints the scraper's latencies both
# ways, what the 64 got (401: checked, 429: told to wait), and the CPU the
# ringflow process used meanwhile.
#
#   bench/auth_load.sh
#   DURATION=60 RINGFLOW=path/to/an/older/ringflow bench/auth_load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/serve-lib.sh
port=${PORT:-19298}
base="http://127.0.0.1:$port"
duration=${DURATION:-30}
# bcrypt("right", cost 10), as `htpasswd -nbBC 10 "" right` makes it
hash='$2b$10$v3.7xCcUuVCTNXAZsoliIujBaamUAhtgd7Ts4fzon6zIXZaca5cPO'
printf 'basic_auth_users:\n  prometheus: %s\n' "$hash" >"$work/web.yml"
serve_replay "$port" tests/data/sample.pcap --web-config "$work/web.yml"
# the first check costs a hash; what follows is remembered for a minute
curl -s -o /dev/null -u prometheus:right "$base/metrics"
scrapes() { # N: scrape once a second, the times in ms
  for _ in $(seq "$1"); do
    curl -s -m 30 -o /dev/null -u prometheus:right -w "%{time_total}\n" "$base/metrics"
    sleep 1
  done | awk '{ printf "%.1f\n", $1 * 1000 }'
}
alone=$(scrapes 10 | summary)
# the process's own clock ticks (/proc/PID/stat), not capture-lib's
# cpu_ns: the threads that check passwords end when idle, and schedstat
# counts only the threads still there
cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
start=$(cpu)
t0=$(date +%s.%N)
# each client one curl, a wrong password RATE times a second (default
# 10: 640 tries a second in all) on a kept-alive connection, so that the
# load is the server's and not the cost of starting curl
rate=${RATE:-10}
for i in $(seq 64); do
  urls=()
  for _ in $(seq $((duration * rate))); do urls+=(-o /dev/null "$base/metrics"); done
  curl -s --rate "$rate/s" --interface "127.0.9.$i" -u "prometheus:wrong$i" \
    -w "%{http_code}\n" "${urls[@]}" >"$work/codes.$i" &
done
loaded=$(scrapes "$duration" | summary)
# clients a slow server left behind stop with the scraper (a scrape that
# waited 30 s counts as 30 s)
for j in $(jobs -p); do [ "$j" = "$pid" ] || kill "$j" 2>/dev/null || true; done
wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
t1=$(date +%s.%N)
end=$(cpu)
cat "$work"/codes.* | sort | uniq -c | awk '{ printf "%s: %s  ", $2, $1 }' >"$work/codes"
echo "scraper alone: $alone"
echo "scraper while 64 clients fail logins: $loaded"
echo "the 64 got: $(cat "$work/codes")"
awk -v a="$start" -v b="$end" -v hz="$hz" -v t0="$t0" -v t1="$t1" \
  'BEGIN { s = (b - a) / hz; printf "ringflow CPU meanwhile: %.1f s in %.0f s (%.0f %% of one core)\n", s, t1 - t0, 100 * s / (t1 - t0) }'
