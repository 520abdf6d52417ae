#!/usr/bin/env bash
# Validates report outputs against the official validators/schemas (see validate_report_formats.py).
# Usage: infra/validate-report-formats.sh [FILE...]   (default: the golden files of shared/src/report_format)
# The validators live in the repository's .venv-formats (infra/setup.sh installs them from
# infra/formats-requirements.txt; LUCID_SCHEMA_VENV names another venv holding them).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${LUCID_SCHEMA_VENV:-$here/../.venv-formats}"
if [ ! -x "$venv/bin/python" ]; then
  (cd "$here/.." && bash infra/setup.sh)
fi
schema_dir="$venv/sarif-schema"
if [ $# -eq 0 ]; then
  golden="$here/../shared/src/report_format/testdata/golden"
  set -- "$golden/cyclonedx.json" "$golden/spdx.json" "$golden/sarif.json"
fi
exec "$venv/bin/python" "$here/validate_report_formats.py" \
  --sarif-schema "$schema_dir/package/lib/schemas/sarif-2.1.0-rtm.5.json" "$@"
