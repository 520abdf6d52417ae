#!/usr/bin/env python3
"""Validates Lucid's CycloneDX, SPDX and SARIF outputs against the official schemas and validators.

Usage: validate_report_formats.py [--sarif-schema FILE] FILE...
Each FILE is recognised by its content (bomFormat / spdxVersion / SARIF version).

- CycloneDX 1.5: the CycloneDX project's own JSON validator (PyPI cyclonedx-python-lib[json-validation]),
  which uses the bom-1.5 schema it ships.
- SPDX 2.3: spdx-tools (PyPI), the SPDX project's parser and validator.
- SARIF 2.1.0: the OASIS SARIF 2.1.0 JSON schema as shipped in the npm package @microsoft/jest-sarif
  (lib/schemas/sarif-2.1.0-rtm.5.json), checked with jsonschema (PyPI).

infra/validate-report-formats.sh installs all of that into a throwaway venv and runs this script.
Exit status 0 only when every file is valid.
"""
import json
import sys


def validate_cyclonedx(path):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    with open(path) as f:
        text = f.read()
    errors = JsonStrictValidator(SchemaVersion.V1_5).validate_str(text)
    return [str(errors)] if errors else []


def validate_spdx(path):
    from spdx_tools.spdx.parser.parse_anything import parse_file
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    doc = parse_file(path)
    return [m.validation_message for m in validate_full_spdx_document(doc, "SPDX-2.3")]


def validate_sarif(path, schema_path):
    import jsonschema

    with open(schema_path) as f:
        schema = json.load(f)
    with open(path) as f:
        log = json.load(f)
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)]


def main(argv):
    sarif_schema = None
    files = []
    it = iter(argv)
    for a in it:
        if a == "--sarif-schema":
            sarif_schema = next(it)
        else:
            files.append(a)
    failed = 0
    for path in files:
        with open(path) as f:
            doc = json.load(f)
        if doc.get("bomFormat") == "CycloneDX":
            kind, errors = "CycloneDX", validate_cyclonedx(path)
        elif str(doc.get("spdxVersion", "")).startswith("SPDX-"):
            kind, errors = "SPDX", validate_spdx(path)
        elif doc.get("version") == "2.1.0" and "runs" in doc:
            if not sarif_schema:
                print(f"{path}: SARIF needs --sarif-schema", file=sys.stderr)
                return 2
            kind, errors = "SARIF", validate_sarif(path, sarif_schema)
        else:
            print(f"{path}: not CycloneDX, SPDX or SARIF", file=sys.stderr)
            failed += 1
            continue
        if errors:
            failed += 1
            print(f"INVALID {kind} {path}")
            for e in errors:
                print(f"  {e}")
        else:
            print(f"valid {kind} {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
