#!/usr/bin/env bash
# Times real HTTP scrapes of /metrics, alone and many at once, and the API
# while scrapes run. For each size (about 10k and 100k flow series per
# family) it replays a synthetic capture, keeps serving it, and scrapes it
# with curl as Prometheus does (gzip): 1 scraper, then 16 at once, three
# rounds each, every round on a fresh render (the server renders a
# snapshot once and keeps it for at most a second, so each round starts
# after that). At 100k series, 4 clients each scrape three times in a row
# while /api/v1/status is asked 8 times, 100 ms apart.
#
#   bench/scrape_http.sh          # both sizes
#   SIZES=10000 bench/scrape_http.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/serve-lib.sh
port=${PORT:-19299}
base="http://127.0.0.1:$port"
gz="Accept-Encoding: gzip"

# time_total of `curl URL` in ms, one per line, for N parallel clients
# each asking R times
scrape() {
  local n=$1 r=$2 url=$3 i
  for i in $(seq "$n"); do
    (for _ in $(seq "$r"); do
      curl -s -H "$gz" -o /dev/null -w "%{time_total}\n" "$url"
    done) >"$work/t.$i" &
  done
  wait
  cat "$work"/t.* | awk '{ printf "%.0f\n", $1 * 1000 }'
  rm -f "$work"/t.*
}

for series in ${SIZES:-10000 100000}; do
  # two series per conversation and family: one each way
  flows=$((series * 56 / 100))
  "$bin" synth "$work/flows.pcap" --flows "$flows" --packets $((flows * 5)) 2>/dev/null
  serve_replay "$port" "$work/flows.pcap" --max-flow-series $((series * 3))
  curl -s "$base/metrics" -o "$work/m.txt"
  n=$(grep -c '^ringflow_flow_bytes_total' "$work/m.txt")
  echo "== $n flow series per family ($(wc -c <"$work/m.txt") bytes of text)"
  for c in 1 16; do
    all=()
    for _ in 1 2 3; do
      sleep 1.2
      all+=($(scrape "$c" 1 "$base/metrics"))
    done
    echo "$c scraper(s) at once: $(printf '%s\n' "${all[@]}" | summary)"
  done
  if [ "$series" -ge 100000 ]; then
    sleep 1.2
    scrape 4 3 "$base/metrics" >"$work/scrapes" &
    load=$!
    st=()
    for _ in $(seq 8); do
      st+=("$(curl -s -o /dev/null -w "%{time_total}" "$base/api/v1/status" | awk '{ printf "%.0f", $1 * 1000 }')")
      sleep 0.1
    done
    wait "$load"
    echo "/api/v1/status while 4 clients scrape 3 times each: ${st[*]} ms (worst $(printf '%s\n' "${st[@]}" | sort -n | tail -1) ms); the scrapes: $(summary <"$work/scrapes")"
  fi
  stop_replay
done
