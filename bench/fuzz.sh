#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ one at a time and writes a results table to bench/fuzz-results.md.
#
#   bash bench/fuzz.sh                 # every target
#   bash bench/fuzz.sh layer rpm_bdb   # the named targets
#
# Each target runs until FUZZ_RUNS executions (default 10,000,000) or FUZZ_SECONDS (default 1800), whichever
# comes first, under FUZZ_RSS_MB (default 2048) and FUZZ_TIMEOUT seconds per input (default 10). Needs the
# nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Builds into $CARGO_TARGET_DIR (default
# /var/tmp/target-fuzz) without a sanitizer (the library is safe Rust; panics, hangs and OOMs are what is
# looked for) and with debug assertions (integer overflow panics). Crashing inputs land in
# fuzz/artifacts/<target>/: add each to shared/tests/fuzz-regressions/<target>/ once fixed.
# Do not pause a running fuzzer (SIGSTOP) to free the machine: libFuzzer's per-input timeout is wall-clock
# time, so the input running at the pause is reported as a timeout when it resumes, and the run ends there.
# Set FUZZ_APPEND=1 to add rows to the existing table instead of starting a new one, FUZZ_NO_BUILD=1 to run
# the binaries already built, FUZZ_JOBS=N to run N targets at a time (one per core; rows are added as each
# target ends).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${FUZZ_RUNS:-10000000}"
seconds="${FUZZ_SECONDS:-1800}"
rss="${FUZZ_RSS_MB:-2048}"
timeout="${FUZZ_TIMEOUT:-10}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/target-fuzz}"
results="$root/bench/fuzz-results.md"
logs="$root/fuzz/logs"
mkdir -p "$logs"

if [ "$#" -gt 0 ]; then targets=("$@"); else
  mapfile -t targets < <(sed -n 's/^name = "\([a-z0-9_]*\)"$/\1/p' "$root/fuzz/Cargo.toml" | grep -v '^lucid-fuzz$')
fi

[ -d "$root/fuzz/corpus" ] || bash "$root/bench/fuzz-seed.sh"
if [ "${FUZZ_NO_BUILD:-}" = 1 ]; then
  : # run the binaries already built
elif [ "$#" -gt 0 ]; then
  (cd "$root/fuzz" && for t in "${targets[@]}"; do cargo +nightly fuzz build -s none -a "$t"; done)
else
  (cd "$root/fuzz" && cargo +nightly fuzz build -s none -a)
fi
bin_dir="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"
jobs="${FUZZ_JOBS:-1}"

if [ "${FUZZ_APPEND:-}" != 1 ] || [ ! -f "$results" ]; then
  {
    echo "# Fuzzing results"
    echo
    echo "Written by \`bench/fuzz.sh\` ($(date -u +%Y-%m-%d), $(nproc) cores shared with other work, $jobs fuzzer(s) at a"
    echo "time, \`nice -n 10\`, no sanitizer, debug assertions on, -rss_limit_mb=$rss -timeout=$timeout)."
    echo "Limit per target: $runs executions or $seconds s, whichever first. \"crashes\" counts new crash, timeout, OOM"
    echo "or leak inputs in \`fuzz/artifacts/<target>/\` (slow-unit reports are not counted)."
    echo
    echo "| target | execs | seconds | execs/s | ≥ 10 M | crashes | corpus |"
    echo "|---|---:|---:|---:|---|---:|---:|"
  } > "$results"
fi

if [ "$jobs" -gt 1 ]; then
  # The table header is written above; each child runs one target and appends its row.
  printf '%s\n' "${targets[@]}" |
    FUZZ_NO_BUILD=1 FUZZ_APPEND=1 FUZZ_JOBS=1 xargs -P "$jobs" -I{} bash "$0" {}
  exit 0
fi

for t in "${targets[@]}"; do
  corpus="$root/fuzz/corpus/$t"
  artifacts="$root/fuzz/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  # Crash, timeout, OOM and leak inputs count; slow-unit reports (inputs over 10 s) are informational.
  before=$(ls "$artifacts" | grep -cv '^slow-unit-' || true)
  start=$(date +%s)
  set +e
  nice -n 10 "$bin_dir/$t" "$corpus" -runs="$runs" -max_total_time="$seconds" -rss_limit_mb="$rss" \
    -timeout="$timeout" -artifact_prefix="$artifacts/" -print_final_stats=1 > "$logs/$t.log" 2>&1
  status=$?
  set -e
  elapsed=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
  [ -n "$execs" ] || execs=$(grep -o '#[0-9]*' "$logs/$t.log" | tail -1 | tr -d '#')
  execs="${execs:-0}"
  after=$(ls "$artifacts" | grep -cv '^slow-unit-' || true)
  crashes=$(( after - before ))
  rate=$(( elapsed > 0 ? execs / elapsed : execs ))
  reached=$([ "$execs" -ge 10000000 ] && echo yes || echo no)
  size=$(ls "$corpus" | wc -l)
  echo "| $t | $execs | $elapsed | $rate | $reached | $crashes | $size |" >> "$results"
  printf '%-22s exit %d, %s execs in %ss, %d crash files\n' "$t" "$status" "$execs" "$elapsed" "$crashes"
done
