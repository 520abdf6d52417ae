#!/usr/bin/env bash
# Checks that ELF binaries need no glibc newer than Lambda's `provided.al2023` runtime has (Amazon Linux
# 2023: glibc 2.34). A binary linked against a newer glibc fails on Lambda before `main` with
# "version `GLIBC_2.xx' not found".
#
#   infra/check-glibc.sh [--max 2.34] BINARY…
#
# Reads the dynamic symbol table (readelf, binutils) and fails naming every GLIBC_x.y above the maximum.
# CI runs it over the function binaries its test build already produced (a native build links the newest
# version of each symbol the build machine's glibc offers, so this is the stricter check); infra/package.sh
# runs it over the packaged `bootstrap`s (cargo-lambda links against an older glibc through zig).
set -euo pipefail
max=2.34
if [ "${1:-}" = "--max" ]; then
  max="$2"
  shift 2
fi
[ "$#" -gt 0 ] || { echo "usage: $0 [--max 2.34] BINARY…" >&2; exit 2; }
command -v readelf >/dev/null || { echo "check-glibc: readelf not found (apt-get install binutils)" >&2; exit 2; }

status=0
for bin in "$@"; do
  if [ ! -f "$bin" ]; then
    echo "check-glibc: $bin: no such file" >&2
    status=1
    continue
  fi
  # Version references (.gnu.version_r) name every GLIBC_x.y the binary needs, one per line.
  versions="$(readelf --version-info --wide "$bin" | grep -o 'Name: GLIBC_[0-9][0-9.]*' | sed 's/Name: GLIBC_//' | sort -uV)"
  if [ -z "$versions" ]; then
    echo "check-glibc: $bin: needs no glibc (static or not linked against glibc)"
    continue
  fi
  newest="$(printf '%s\n' "$versions" | tail -1)"
  too_new="$(printf '%s\n' "$versions" | while read -r v; do
    if [ "$(printf '%s\n%s\n' "$v" "$max" | sort -V | tail -1)" != "$max" ]; then echo "GLIBC_$v"; fi
  done)"
  if [ -n "$too_new" ]; then
    echo "check-glibc: $bin needs $(echo $too_new) (> GLIBC_$max, Amazon Linux 2023):" >&2
    # Name the symbols, so the change that pulled them in is easy to find.
    for v in $too_new; do
      readelf --dyn-syms --wide "$bin" |
        awk -v v="$v" '{ for (i = 1; i <= NF; i++) { n = split($i, p, "@+"); if (n > 1 && p[n] == v) print "  " $i } }' >&2
    done
    status=1
  else
    echo "check-glibc: $bin: newest GLIBC_$newest (<= $max)"
  fi
done
exit "$status"
