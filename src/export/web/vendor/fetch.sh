#!/usr/bin/env bash
# Fetches the dashboard's vendored front-end packages from the npm registry
# and checks them against the integrity the registry publishes. The
# versions and licences are recorded in vendor/README.md; to upgrade,
# change the version here and there, run this script, and commit the result.
set -euo pipefail
cd "$(dirname "$0")"
fetch() { # name version integrity files...
  local name=$1 version=$2 integrity=$3
  shift 3
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  (cd "$tmp" && npm pack --silent "$name@$version" >/dev/null)
  local got
  got="sha512-$(openssl dgst -sha512 -binary "$tmp/$name-$version.tgz" | base64 -w0)"
  [ "$got" = "$integrity" ] || { echo "$name@$version: integrity $got, expected $integrity" >&2; exit 1; }
  tar -xzf "$tmp/$name-$version.tgz" -C "$tmp"
  mkdir -p "$name"
  for f in "$@"; do cp "$tmp/package/$f" "$name/"; done
}
fetch uplot 1.6.32 \
  'sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==' \
  dist/uPlot.iife.min.js dist/uPlot.min.css LICENSE
