#!/usr/bin/env bash
# The test command: installs what the tests need (infra/setup.sh), then runs every test in the workspace
# against real PostgreSQL clusters (started per test process) and the S3/SQS emulator.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/setup.sh
# The function binaries first: tests/tests/lambda_runtime.rs runs them as Lambda does (cargo builds a
# package's binaries only for that package's own integration tests). Same profile, so nothing is built twice.
cargo build --workspace --bins
exec cargo test --workspace --all-targets "$@"
