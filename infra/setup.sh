#!/usr/bin/env bash
# Installs what Lucid's tests need on a fresh Debian machine, idempotently:
#   - PostgreSQL server binaries (initdb, pg_ctl): the test harness and the embedded default start their own;
#   - moto's S3/SQS emulator in .venv-moto (the adapters' tests speak the real protocols to it);
#   - reference implementations the version comparators are property-tested against (.venv-ref, .ref).
# Safe to run repeatedly; installs nothing that is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

apt_packages=()
have_pg_bin() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; }
have_pg_bin || apt_packages+=(postgresql)
command -v dpkg >/dev/null 2>&1 || apt_packages+=(dpkg)
command -v runuser >/dev/null 2>&1 || apt_packages+=(util-linux)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_packages+=(python3-venv)
# Extra system packages needed by individual test suites are listed in infra/apt-packages.txt.
if [ -f infra/apt-packages.txt ]; then
  while read -r pkg check; do
    [ -z "$pkg" ] || [ "${pkg#\#}" != "$pkg" ] && continue
    if [ -n "${check:-}" ]; then
      sh -c "$check" >/dev/null 2>&1 || apt_packages+=("$pkg")
    else
      dpkg -s "$pkg" >/dev/null 2>&1 || apt_packages+=("$pkg")
    fi
  done < infra/apt-packages.txt
fi
if [ ${#apt_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing system packages: ${apt_packages[*]} (run as root or install them: apt-get install ${apt_packages[*]})"
    exit 1
  fi
  say "installing ${apt_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
  # Debian starts a cluster when it installs postgresql; the tests start their own, so that one may stay.
fi

if [ ! -x .venv-moto/bin/moto_server ]; then
  say "installing moto[server] into .venv-moto"
  python3 -m venv .venv-moto
  .venv-moto/bin/pip install -q --disable-pip-version-check "moto[server]==5.*"
fi

# A venv from a pinned requirements file, rebuilt when the file changes: venv_from DIR FILE CHECK WHAT.
venv_from() {
  local venv=$1 requirements=$2 check=$3 what=$4
  [ -f "$requirements" ] || return 0
  if [ ! -x "$venv/bin/$check" ] || ! cmp -s "$requirements" "$venv/.requirements"; then
    say "installing $what into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/.requirements"
  fi
}
venv_from .venv-ref infra/ref-requirements.txt python "reference implementations"
venv_from .venv-contract infra/contract-requirements.txt st "schemathesis (the API contract test)"
venv_from .venv-formats infra/formats-requirements.txt python "the CycloneDX/SPDX/SARIF validators"

if [ -f infra/formats-requirements.txt ]; then
  # SARIF 2.1.0's JSON schema, as the npm package @microsoft/jest-sarif ships it.
  if [ ! -f .venv-formats/sarif-schema/package/lib/schemas/sarif-2.1.0-rtm.5.json ]; then
    mkdir -p .venv-formats/sarif-schema
    (cd .venv-formats/sarif-schema && npm pack -s @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null \
      && tar xzf microsoft-jest-sarif-*.tgz)
  fi
fi

if [ -f infra/ref-package.json ]; then
  if ! cmp -s infra/ref-package.json .ref/package.json 2>/dev/null || [ ! -d .ref/node_modules ]; then
    say "installing node reference packages into .ref"
    mkdir -p .ref
    cp infra/ref-package.json .ref/package.json
    (cd .ref && npm install --silent --no-audit --no-fund >/dev/null)
  fi
fi
