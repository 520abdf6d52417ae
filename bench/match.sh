#!/usr/bin/env bash
# Matcher benchmark: loads every feed of a folder (default: the machine's reference copy of the public
# feeds) into a fresh database, then prints p50/p99 vulnerability-report latency for manifests of 100,
# 1,000 and 5,000 packages. Goal: p99 <= 20 ms at 1,000 packages.
#
# LUCID_BENCH_PROFILE=bench for optimized (release-like) numbers; the default `dev` reuses the test build
# (deps at opt-level 1, the crate at 0), which is what fits a shared 2-core machine.
# LUCID_BENCH_DATABASE_URL reuses a database a previous run loaded; LUCID_BENCH_SIZES=1000 runs one size;
# LUCID_BENCH_RUNTIME=multi_thread runs the reports on `lucid serve`'s runtime rather than the API function's.
# LUCID_BENCH_PURGE=1 leaves mimalloc returning freed memory to the OS (the API keeps it: `lucid::allocator`).
# DATABASE_URL selects the PostgreSQL server (a fresh database is created on it); unset, a throwaway
# cluster is started.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${LUCID_BENCH_PROFILE:-dev}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export LUCID_BENCH_FEEDS="${LUCID_BENCH_FEEDS:-$PWD/../shared/feeds}"
cargo bench -p lucid-tests --bench match --profile "$profile"
