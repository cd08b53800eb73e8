#!/usr/bin/env bash
# Benchmark: generate Zeek logs (conn, dns, ssl, x509) of N conn rows over a fixed set of
# destinations as TSV, gzip-compressed TSV and JSON lines, triage them with the default intel, and
# print wall time, rows/s, MB/s (of decompressed log text) and peak RSS, beside `wc -l` and a
# one-column mawk extraction of conn.log on the same files; then build a capture of CAPTURE_MB
# from the traces in tests/data and triage it with the native decoder, beside `tcpdump -r`.
#
#   scripts/bench.sh [ROWS ...]                  default: 100000 1000000
#   FORMATS="tsv tsv.gz json" DESTS=5000 SSL_EVERY=1 CAPTURE_MB=256 THREADS=0 scripts/bench.sh
#
# SSL_EVERY=K writes an ssl.log row for every K-th TLS connection (0: no ssl.log, x509.log).
set -euo pipefail
cd "$(dirname "$0")/.."
FORMATS=${FORMATS:-tsv tsv.gz json}
DESTS=${DESTS:-5000}
SSL_EVERY=${SSL_EVERY:-1}
CAPTURE_MB=${CAPTURE_MB:-256}
THREADS=${THREADS:-0}
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
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
if p.returncode not in (0, 1):
    sys.exit(f"command failed with {p.returncode}: {' '.join(sys.argv[1:])}")
print(f"{wall:.3f} {rss}")
PY
}

row() {
  python3 - "$@" <<'PY'
import sys
what, fmt, b, wall, rows, rss, wcs, mawks = sys.argv[1:]
b, wall, rows, rss = int(b), float(wall), int(rows), int(rss)
print(f"{what:<10} {fmt:<7} {b/1e6:9.1f} {wall:8.3f} {rows/wall:11.0f} {b/1e6/wall:8.1f} {rss/1024:8.1f} {wcs:>7} {mawks:>7}")
PY
}

printf '%-10s %-7s %9s %8s %11s %8s %8s %7s %7s\n' conn_rows format MB wall_s rows/s MB/s rss_MiB wc_s mawk_s
for n in "${ROWS[@]}"; do
  for f in $FORMATS; do
    dir="target/bench/${f}-${n}-${DESTS}-${SSL_EVERY}"
    if [ ! -e "$dir/.done" ]; then
      rm -rf "$dir"
      extra=()
      case "$f" in
        tsv) ;;
        tsv.gz) extra+=(--gzip) ;;
        json) extra+=(--format json) ;;
        *) echo "unknown format $f" >&2; exit 2 ;;
      esac
      target/release/examples/genlogs --rows "$n" --dests "$DESTS" --ssl-every "$SSL_EVERY" \
        --out "$dir" "${extra[@]}" 2>/dev/null
      touch "$dir/.done"
    fi
    shopt -s nullglob
    files=("$dir"/*.log* "$dir"/*.json*)
    shopt -u nullglob
    if [ "$f" = tsv.gz ]; then
      bytes=$(zcat "${files[@]}" | wc -c)
      rows=$(zcat "${files[@]}" | grep -vc '^#')
    else
      cat "${files[@]}" >/dev/null  # warm the page cache
      bytes=$(cat "${files[@]}" | wc -c)
      rows=$(cat "${files[@]}" | grep -vc '^#')
    fi
    read -r wall rss < <(measure "$BIN" analyze "$dir" --format json -o /dev/null --quiet --threads "$THREADS")
    if [ "$f" = tsv.gz ]; then
      read -r wcs _ < <(measure sh -c "zcat ${files[*]} | wc -l")
      mawks=-
    else
      read -r wcs _ < <(measure sh -c "cat ${files[*]} | wc -l")
      if command -v mawk >/dev/null 2>&1 && [ "$f" = tsv ]; then
        read -r mawks _ < <(measure mawk -F'\t' '{print $5}' "$dir/conn.log")
      else
        mawks=-
      fi
    fi
    row "$n" "$f" "$bytes" "$wall" "$rows" "$rss" "$wcs" "$mawks"
  done
done

if [ "$CAPTURE_MB" != 0 ]; then
  cap="target/bench/capture-${CAPTURE_MB}.pcap"
  if [ ! -e "$cap" ]; then
    python3 scripts/make-big-capture.py "$cap" "$CAPTURE_MB" tests/data/zeek-traces/*/trace.pcap >/dev/null
  fi
  cat "$cap" >/dev/null
  bytes=$(wc -c <"$cap")
  packets=$(python3 - "$cap" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
off, n = 24, 0
while off + 16 <= len(data):
    off += 16 + struct.unpack_from("<I", data, off + 8)[0]
    n += 1
print(n)
PY
)
  read -r wall rss < <(measure "$BIN" analyze "$cap" --engine native --format json -o /dev/null --quiet --threads "$THREADS")
  if command -v tcpdump >/dev/null 2>&1; then
    read -r tcpd _ < <(measure tcpdump -r "$cap" -w /dev/null)
  else
    tcpd=-
  fi
  echo
  printf '%-10s %-7s %9s %8s %11s %8s %8s %9s\n' packets format MB wall_s packets/s MB/s rss_MiB tcpdump_s
  python3 - "$packets" "$bytes" "$wall" "$rss" "$tcpd" <<'PY'
import sys
n, b, wall, rss, tcpd = sys.argv[1:]
n, b, wall, rss = int(n), int(b), float(wall), int(rss)
print(f"{n:<10} {'pcap':<7} {b/1e6:9.1f} {wall:8.3f} {n/wall:11.0f} {b/1e6/wall:8.1f} {rss/1024:8.1f} {tcpd:>9}")
PY
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(uname -sr); load $(cut -d' ' -f1-3 /proc/loadavg)"
