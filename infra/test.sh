#!/usr/bin/env bash
# The test command: installs what the tests need (infra/setup.sh), then runs every test in the workspace
# against real PostgreSQL clusters (started per test process) and the S3/SQS emulator.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/setup.sh
exec cargo test --workspace --all-targets "$@"
