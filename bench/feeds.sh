#!/usr/bin/env bash
# Feed bootstrap benchmark: `lucid update --from FEEDS` into a fresh embedded database (cold), then again
# (unchanged), against a baseline measured in the same run: reading every feed file once (bzip2 files
# decompressed), which is the least any loader must do. Prints seconds, records/s, ratios and the database
# size after load. Goals (issue #4): cold ≤ 60 s, unchanged re-run ≤ 2 s on a 2-core machine.
#
#   bench/feeds.sh [FEEDS_DIR]      (default ../shared/feeds, the reference snapshot of real feeds)
#   LUCID_BENCH_PROFILE=release     optimized binary (default: dev, reusing the test build)
set -euo pipefail
cd "$(dirname "$0")/.."
feeds="$(realpath "${1:-../shared/feeds}")"
profile="${LUCID_BENCH_PROFILE:-dev}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build -q -p lucid-cli --profile "$profile"
dir="$([ "$profile" = dev ] && echo debug || echo "$profile")"
lucid="$CARGO_TARGET_DIR/$dir/lucid"

home="$(mktemp -d)"
chmod 755 "$home" # as root, the embedded PostgreSQL runs as the postgres user and must reach its data
trap 'LUCID_HOME="$home" "$lucid" db status >/dev/null 2>&1 || true; rm -rf "$home"' EXIT
export LUCID_HOME="$home"
# Start the embedded database before timing (its initdb is not feed work).
"$lucid" migrate >/dev/null

now() { date +%s.%N; }
t0=$(now)
find "$feeds" -type f -name '*.bz2' -print0 | xargs -0 -r bzcat >/dev/null
find "$feeds" -type f ! -name '*.bz2' -print0 | xargs -0 -r cat >/dev/null
t1=$(now)
out="$("$lucid" update --from "$feeds" 2>/dev/null | tail -n1)"
t2=$(now)
"$lucid" update --from "$feeds" >/dev/null 2>&1
t3=$(now)
records="$(echo "$out" | sed -E 's/.* ([0-9]+) records parsed.*/\1/')"
size="$(du -sm "$home/pg/data/base" 2>/dev/null | cut -f1)"
python3 - "$t0" "$t1" "$t2" "$t3" "$records" "$size" "$out" <<'PY'
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:5])
records, size, line = int(sys.argv[5]), sys.argv[6], sys.argv[7]
base, cold, warm = t1 - t0, t2 - t1, t3 - t2
print(line)
print(f"baseline (read + bunzip2 every file): {base:.2f} s")
print(f"cold bootstrap: {cold:.2f} s, {records / cold:,.0f} records/s, {cold / base:.1f}x baseline")
print(f"unchanged re-run: {warm:.2f} s, {warm / base:.2f}x baseline")
print(f"database size after load: {size} MiB (base/ directory)")
PY
