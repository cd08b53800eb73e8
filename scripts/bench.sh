#!/usr/bin/env bash
# Benchmark: generate conn.log + dns.log of N rows over a fixed set of destinations, triage them
# with the default intel, and print wall time, rows/s, MB/s and peak RSS, beside `wc -l` and a
# one-column mawk extraction on the same files.
#
#   scripts/bench.sh [ROWS ...]          default: 100000 1000000
#   FORMAT=json GZIP=1 DESTS=5000 scripts/bench.sh 1000000
set -euo pipefail
cd "$(dirname "$0")/.."
FORMAT=${FORMAT:-tsv}
DESTS=${DESTS:-5000}
GZIP=${GZIP:-0}
ROWS=("$@")
[ ${#ROWS[@]} -gt 0 ] || ROWS=(100000 1000000)

cargo build --release --quiet --example genlogs
cargo build --release --quiet
BIN=target/release/captriage

# Runs a command, prints "wall_seconds peak_rss_kib" of it (children's ru_maxrss).
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
wall = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
if p.returncode not in (0, 1):
    sys.exit(f"command failed with {p.returncode}: {' '.join(sys.argv[1:])}")
print(f"{wall:.3f} {rss}")
PY
}

printf '%-10s %-6s %9s %9s %12s %9s %10s %9s %9s\n' rows format MB wall_s rows/s MB/s rss_MiB wc_s mawk_s
for n in "${ROWS[@]}"; do
  dir="target/bench/${FORMAT}-${GZIP}-${n}"
  if [ ! -e "$dir/.done" ]; then
    rm -rf "$dir"
    extra=()
    [ "$GZIP" = 1 ] && extra+=(--gzip)
    target/release/examples/genlogs --rows "$n" --dests "$DESTS" --format "$FORMAT" --out "$dir" "${extra[@]}" 2>/dev/null
    touch "$dir/.done"
  fi
  bytes=$(cat "$dir"/conn.* "$dir"/dns.* | wc -c)
  total_rows=$(( n + (n / 10 > DESTS ? n / 10 : DESTS) ))
  cat "$dir"/* >/dev/null  # warm the page cache
  read -r wall rss < <(measure "$BIN" analyze "$dir" --format json -o /dev/null --quiet)
  read -r wcs _ < <(measure sh -c "cat $dir/conn.* $dir/dns.* | wc -l")
  if command -v mawk >/dev/null 2>&1 && [ "$GZIP" = 0 ] && [ "$FORMAT" = tsv ]; then
    read -r mawks _ < <(measure mawk -F'\t' '{print $5}' "$dir/conn.log")
  else
    mawks=-
  fi
  python3 - "$n" "$FORMAT" "$bytes" "$wall" "$total_rows" "$rss" "$wcs" "$mawks" <<'PY'
import sys
n, fmt, b, wall, rows, rss, wcs, mawks = sys.argv[1:]
b, wall, rows, rss = int(b), float(wall), int(rows), int(rss)
print(f"{n:<10} {fmt:<6} {b/1e6:9.1f} {wall:9.3f} {rows/wall:12.0f} {b/1e6/wall:9.1f} {rss/1024:10.1f} {wcs:>9} {mawks:>9}")
PY
done
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(uname -sr)"
