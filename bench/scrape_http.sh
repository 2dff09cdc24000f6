#!/usr/bin/env bash
# Times real HTTP scrapes of /metrics with more than 100k flow series:
# replays a synthetic capture of 60k conversations, keeps serving, and
# scrapes it five times with curl in each way a client can ask: the text
# format and OpenMetrics, each plain and gzipped.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/ringflow
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
port=${PORT:-19299}
url="http://127.0.0.1:$port/metrics"
"$bin" synth "$work/flows.pcap" --flows 60000 --packets 300000 2>/dev/null
"$bin" replay "$work/flows.pcap" --max-flow-series 300000 --listen "127.0.0.1:$port" 2>"$work/log" &
pid=$!
for _ in $(seq 100); do
  grep -q "input complete" "$work/log" && break
  sleep 0.1
done
curl -s "$url" -o "$work/m.txt"
echo "flow series: $(grep -c '^ringflow_flow_bytes_total' "$work/m.txt") per family, $(grep -c '^ringflow_flow_' "$work/m.txt") in all; $(wc -c <"$work/m.txt") bytes"
om="Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
gz="Accept-Encoding: gzip"
for way in "text" "text gzip" "openmetrics" "openmetrics gzip"; do
  args=()
  case $way in openmetrics*) args+=(-H "$om") ;; esac
  case $way in *gzip) args+=(-H "$gz") ;; esac
  times=()
  for _ in 1 2 3 4 5; do
    times+=("$(curl -s "${args[@]}" -o "$work/body" -w "%{time_total}" "$url")")
  done
  echo "$way: $(wc -c <"$work/body") bytes on the wire; scrapes: ${times[*]} s"
done
