#!/usr/bin/env bash
# Lints template.yaml offline, three ways (cfn-lint alone no longer applies the SAM transform and misses most
# errors inside AWS::Serverless::* resources):
#   1. `sam validate` (aws-sam-cli; dummy credentials, no network calls),
#   2. `cfn-lint template.yaml`,
#   3. cfn-lint on the template translated to plain CloudFormation by aws-sam-translator (infra/sam-translate.py).
# The linters live in virtualenvs under LUCID_LINT_VENVS (default /var/tmp/lucid-lint, reused between runs;
# aws-sam-cli and cfn-lint pin conflicting boto3 versions, hence two).
set -euo pipefail
cd "$(dirname "$0")/.."
venvs="${LUCID_LINT_VENVS:-/var/tmp/lucid-lint}"
mkdir -p "$venvs"
install() { # venv, check-binary, packages…
  local venv="$venvs/$1" bin="$2"
  shift 2
  if [ ! -x "$venv/bin/$bin" ]; then
    echo "lint: installing $* into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "$@"
  fi
}
install sam sam "aws-sam-cli==1.170.0"
install cfn cfn-lint "cfn-lint==1.58.0" "aws-sam-translator==1.115.0"

export AWS_ACCESS_KEY_ID=lint AWS_SECRET_ACCESS_KEY=lint AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export SAM_CLI_TELEMETRY=0
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "lint: sam validate"
"$venvs/sam/bin/sam" validate --template template.yaml
echo "lint: cfn-lint template.yaml"
"$venvs/cfn/bin/cfn-lint" template.yaml
echo "lint: cfn-lint on the translated template"
"$venvs/cfn/bin/python" infra/sam-translate.py template.yaml "$out/translated.json"
"$venvs/cfn/bin/cfn-lint" "$out/translated.json"
echo "lint: template.yaml passed all three"
