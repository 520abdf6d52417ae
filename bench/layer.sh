#!/usr/bin/env bash
# Layer reader benchmark: read_layer time vs plain gzip decompression of the same ≥100 MB layer (same
# inflater, same process), and read_layer's peak RSS in a process of its own.
# Goals: ratio ≤ 1.10, peak RSS ≤ 64 MiB.
#
# LUCID_BENCH_PROFILE=bench for optimized (release-like) numbers; the default `dev` reuses the test build
# (deps at opt-level 1, the crate at 0), which is what fits a shared 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${LUCID_BENCH_PROFILE:-dev}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo bench -p lucid-shared --bench layer --profile "$profile" -- compare
cargo bench -p lucid-shared --bench layer --profile "$profile" -- rss
