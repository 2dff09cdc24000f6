# Shared by the benchmarks that time a served replay over HTTP
# (bench/scrape_http.sh, bench/auth_load.sh; sourced, not run): the build
# to run (RINGFLOW=path for another, say an earlier commit's), a scratch
# directory, a replay served on 127.0.0.1:$port, and latency summaries.
# The replay and the scratch directory go when the script ends.
cargo build --release --quiet
bin=${RINGFLOW:-$PWD/target/release/ringflow}
work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  pkill -P $$ curl 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# serve_replay PORT ARGS...: `ringflow replay ARGS` served on PORT, its pid
# in $pid; returns once the input is complete (30 s at most)
serve_replay() {
  local port=$1 _
  shift
  "$bin" replay "$@" --listen "127.0.0.1:$port" 2>"$work/log" &
  pid=$!
  for _ in $(seq 300); do
    grep -q "input complete" "$work/log" && return 0
    sleep 0.1
  done
  return 1
}

stop_replay() {
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
}

# median and worst of the milliseconds on stdin, one a line
summary() {
  sort -n | awk '{ v[NR] = $1 } END { printf "median %s ms, worst %s ms (%d scrapes)", v[int((NR + 1) / 2)], v[NR], NR }'
}
