#!/usr/bin/env bash
# Notifier fan-out benchmark: time from a committed feed diff to all notifications written for
# LUCID_BENCH_MANIFESTS (default 100,000) affected manifests. Goal: <= 10 s on a 2-core machine.
#
# LUCID_BENCH_PROFILE=bench for an optimized build; the default `dev` reuses the test build (the work is in
# PostgreSQL either way). LUCID_NOTIFIER_CHUNK_MANIFESTS sets the chunk size (default 5000).
# DATABASE_URL selects the PostgreSQL server (a fresh database is created on it); unset, a throwaway
# cluster is started.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${LUCID_BENCH_PROFILE:-dev}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo bench -p lucid-tests --bench notify --profile "$profile"
