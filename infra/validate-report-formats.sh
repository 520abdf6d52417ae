#!/usr/bin/env bash
# Validates report outputs against the official validators/schemas (see validate_report_formats.py).
# Usage: infra/validate-report-formats.sh [FILE...]   (default: the golden files of shared/src/report_format)
# Needs python3 (venv) and npm; installs into ${LUCID_SCHEMA_VENV:-/var/tmp/lucid-schema-venv}.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${LUCID_SCHEMA_VENV:-/var/tmp/lucid-schema-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "cyclonedx-python-lib[json-validation]" spdx-tools jsonschema
fi
schema_dir="$venv/sarif-schema"
if [ ! -f "$schema_dir/package/lib/schemas/sarif-2.1.0-rtm.5.json" ]; then
  mkdir -p "$schema_dir"
  (cd "$schema_dir" && npm pack -s @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null && tar xzf microsoft-jest-sarif-*.tgz)
fi
if [ $# -eq 0 ]; then
  golden="$here/../shared/src/report_format/testdata/golden"
  set -- "$golden/cyclonedx.json" "$golden/spdx.json" "$golden/sarif.json"
fi
exec "$venv/bin/python" "$here/validate_report_formats.py" \
  --sarif-schema "$schema_dir/package/lib/schemas/sarif-2.1.0-rtm.5.json" "$@"
