#!/usr/bin/env bash
# Packages the four functions as Lambda deploys them: `sam build` (BuildMethod rust-cargolambda: cargo-lambda
# cross-compiles a release `bootstrap` per function with zig as the linker), then one zip per function, as
# `sam deploy` uploads them.
#
#   infra/package.sh [arm64] [x86_64]        (default: arm64, the template's default Architecture)
#
# Output: .aws-sam/build-<arch>/ (sam build's artifacts and built template) and dist/<arch>/<Function>.zip,
# with a size table. Each bootstrap is checked: right CPU, and no glibc symbol newer than Amazon Linux 2023's
# 2.34 (infra/check-glibc.sh).
#
# Tools, installed on first use into virtualenvs under /var/tmp (reused between runs):
#   LUCID_LINT_VENVS/sam     aws-sam-cli (shared with infra/lint-template.sh)
#   LUCID_LAMBDA_VENV        cargo-lambda and ziglang from PyPI (prebuilt; `cargo install cargo-lambda` takes ~25 min)
# and the Rust standard library for aarch64 (`rustup target add aarch64-unknown-linux-gnu`).
# Release builds go to LUCID_LAMBDA_TARGET_DIR (default /var/tmp/lucid-lambda-target), apart from debug
# builds. A cold release build of all four takes several minutes per architecture; it is not part of CI
# (CI checks the glibc symbols of its debug build instead).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
archs=("$@")
[ "${#archs[@]}" -gt 0 ] || archs=(arm64)

venvs="${LUCID_LINT_VENVS:-/var/tmp/lucid-lint}"
lambda_venv="${LUCID_LAMBDA_VENV:-/var/tmp/lucid-lambda}"
export CARGO_TARGET_DIR="${LUCID_LAMBDA_TARGET_DIR:-/var/tmp/lucid-lambda-target}"
if [ ! -x "$venvs/sam/bin/sam" ]; then
  echo "package: installing aws-sam-cli into $venvs/sam"
  python3 -m venv "$venvs/sam"
  "$venvs/sam/bin/pip" install --quiet "aws-sam-cli==1.170.0"
fi
if [ ! -x "$lambda_venv/bin/cargo-lambda" ]; then
  echo "package: installing cargo-lambda and ziglang into $lambda_venv"
  python3 -m venv "$lambda_venv"
  "$lambda_venv/bin/pip" install --quiet "cargo-lambda==1.9.2" "ziglang==0.17.0"
fi
# cargo finds `cargo-lambda` on PATH; cargo-lambda finds zig as `python3 -m ziglang` (the venv's python3).
export PATH="$lambda_venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0 AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

functions=(ApiFunction IndexerFunction UpdaterFunction NotifierFunction)
for arch in "${archs[@]}"; do
  case "$arch" in
    arm64) triple=aarch64-unknown-linux-gnu machine=AArch64 ;;
    x86_64) triple=x86_64-unknown-linux-gnu machine=X86-64 ;;
    *) echo "package: unknown architecture $arch (arm64 or x86_64)" >&2; exit 2 ;;
  esac
  if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
    echo "package: adding the Rust standard library for $triple"
    rustup target add "$triple"
  fi
  build="$root/.aws-sam/build-$arch"
  dist="$root/dist/$arch"
  echo "package: sam build ($arch) → $build"
  start=$(date +%s)
  "$venvs/sam/bin/sam" build --template template.yaml --build-dir "$build" \
    --parameter-overrides "Architecture=$arch" --no-cached
  echo "package: sam build ($arch) took $(( $(date +%s) - start )) s"
  rm -rf "$dist"
  mkdir -p "$dist"
  for fn in "${functions[@]}"; do
    bin="$build/$fn/bootstrap"
    [ -x "$bin" ] || { echo "package: $bin missing" >&2; exit 1; }
    readelf -h "$bin" | grep -q "Machine:.*$machine" || {
      echo "package: $bin is not a $machine binary" >&2
      exit 1
    }
    bash infra/check-glibc.sh "$bin"
    # As `sam deploy` zips a function: the bootstrap at the root, executable.
    python3 - "$bin" "$dist/$fn.zip" <<'EOF'
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = 0o755 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(src, "rb") as f:
        z.writestr(info, f.read(), compresslevel=9)
EOF
  done
  echo "package: $arch"
  printf '%-18s %12s %12s\n' function bootstrap zip
  for fn in "${functions[@]}"; do
    awk -v f="$fn" -v b="$(stat -c %s "$build/$fn/bootstrap")" -v z="$(stat -c %s "$dist/$fn.zip")" \
      'BEGIN { printf "%-18s %8.1f MiB %8.1f MiB\n", f, b / 1048576, z / 1048576 }'
  done
done
