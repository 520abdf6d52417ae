#!/usr/bin/env bash
# Builds the offline feed snapshot shipped inside the `lucid` binary (cli/snapshot/feeds.jsonl.zst): the
# feed folders below, loaded with `lucid update --from` into a throwaway embedded PostgreSQL and written with
# `lucid export-feeds` (zstd JSON lines, shared/src/feeds/archive.rs). `lucid scan` and `lucid serve` load
# it only when every live feed is unreachable and the database holds no vulnerability data.
#
#   bash infra/build-feed-snapshot.sh [FEEDS_DIR]     # default: ../shared/feeds next to the repository
#
# Each folder of FEEDS_DIR names its source and license in SOURCE.md (and LICENSE*): they are collected into
# cli/snapshot/NOTICE.md, which must ship with the snapshot.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FEEDS=$(cd "${1:-$ROOT/../shared/feeds}" && pwd)
OUT=$ROOT/cli/snapshot
# Real upstream advisories in formats `lucid update --from` reads (Red Hat: an OVAL folder loads as the
# alternative source `rhel-oval/<major>`; a VEX folder, i.e. a `csaf_vex_<date>.tar.zst` archive with its
# `deletions.csv` and any newer documents, loads as the default source `rhel`). Left out: debian-tracker-lists (DSA/DLA
# lists without package versions) and ghsa-npm-subset (nine hand-picked records, not a feed).
FOLDERS=${LUCID_SNAPSHOT_FOLDERS:-"alpine-secdb debian-oval ubuntu-oval rhel-oval pypi-osv go-vulndb rustsec-osv"}
# Kept small (a few MB): only current releases of the distributions (paths under the folders above, removed
# from the copy before loading).
PRUNE=${LUCID_SNAPSHOT_PRUNE:-"debian-oval/debian/oval-definitions-bullseye.* debian-oval/debian/oval-definitions-buster.*
  alpine-secdb/alpine/v3.[2-9] alpine-secdb/alpine/v3.1[0-8] ubuntu-oval/ubuntu/*jammy* ubuntu-oval/ubuntu/*lunar*
  ubuntu-oval/ubuntu/*oracular*"}

LUCID=${LUCID_BIN:-}
if [ -z "$LUCID" ]; then
  cargo build -q -p lucid-cli
  LUCID="${CARGO_TARGET_DIR:-$ROOT/target}/debug/lucid"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"   # the embedded PostgreSQL runs as the postgres user when we are root
mkdir -p "$work/feeds" "$work/home"
for f in $FOLDERS; do
  [ -d "$FEEDS/$f" ] || { echo "missing feed folder $FEEDS/$f" >&2; exit 2; }
  cp -r "$FEEDS/$f" "$work/feeds/$f"
done
(cd "$work/feeds" && for p in $PRUNE; do rm -rf $p; done)

export LUCID_HOME=$work/home LUCID_LOG=${LUCID_LOG:-warn}
unset DATABASE_URL LUCID_FEED_DIR
"$LUCID" update --from "$work/feeds"
mkdir -p "$OUT"
"$LUCID" export-feeds "$work/export.jsonl.zst"
if command -v zstd >/dev/null; then
  # Same format, denser: export-feeds writes level 9.
  zstd -q -d -c "$work/export.jsonl.zst" | zstd -q -19 -T0 -o "$OUT/feeds.jsonl.zst" -f
else
  cp "$work/export.jsonl.zst" "$OUT/feeds.jsonl.zst"
fi

{
  echo "# Offline feed snapshot: sources and licenses"
  echo
  echo "\`feeds.jsonl.zst\` was built on $(date -u +%F) by \`infra/build-feed-snapshot.sh\` from these folders"
  echo "of real upstream advisories (each section is the folder's SOURCE.md, verbatim). Their licenses apply to"
  echo "the snapshot's records; license texts shipped with a folder are under \`licenses/\`. Left out to keep"
  echo "it small: $(echo $PRUNE)."
  echo
  echo "It is a snapshot: advisories published after each source's date below are missing. \`lucid update\`"
  echo "replaces it with live data."
  for f in $FOLDERS; do
    echo
    echo "## $f"
    echo
    sed 's/^# /### /' "$FEEDS/$f/SOURCE.md"
  done
} > "$OUT/NOTICE.md"
rm -rf "$OUT/licenses"
for f in $FOLDERS; do
  for l in "$FEEDS/$f"/LICENSE*; do
    [ -f "$l" ] || continue
    mkdir -p "$OUT/licenses"
    cp "$l" "$OUT/licenses/$f-$(basename "$l")"
  done
done
ls -l "$OUT/feeds.jsonl.zst"
