#!/usr/bin/env bash
# API load benchmark (not a timed test): `lucid serve` (release build) on the embedded default (or
# DATABASE_URL), Debian's bookworm OVAL loaded, one manifest of 1,000 dpkg packages indexed through the API
# (POST index_report + layer upload), then wrk GETs its vulnerability_report for DURATION seconds over
# CONNECTIONS keep-alive connections. Prints requests/s and latency percentiles against the goal
# (≥ 1,000 req/s, p99 ≤ 50 ms on a 2-core machine). Other work on the machine skews the figures: the load
# average is printed with them.
#
#   bench/api-load.sh [FEEDS_DIR]        (default ../shared/feeds/debian-oval)
#   LUCID_BENCH_PROFILE=dev              reuse the debug build instead of building release
#   DURATION=30 CONNECTIONS=16 THREADS=2
#   OLD_EVERY=10                         one synthetic package in OLD_EVERY at an old version (affected by
#                                        every fixed record of its source); 2 gives a ~4 MB worst-case report
set -euo pipefail
cd "$(dirname "$0")/.."
feeds="$(realpath "${1:-../shared/feeds/debian-oval}")"
profile="${LUCID_BENCH_PROFILE:-release}"
duration="${DURATION:-30}"
connections="${CONNECTIONS:-16}"
threads="${THREADS:-2}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

if ! command -v wrk >/dev/null 2>&1; then
  echo "api-load: installing wrk" >&2
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
  else
    echo "api-load: wrk is missing (apt-get install wrk)" >&2
    exit 1
  fi
fi

cargo build -q -p lucid-cli --profile "$profile"
dir="$([ "$profile" = dev ] && echo debug || echo "$profile")"
lucid="$CARGO_TARGET_DIR/$dir/lucid"

work="$(mktemp -d)"
chmod 755 "$work" # as root, the embedded PostgreSQL runs as the postgres user and must reach its data
export LUCID_HOME="$work/home"
mkdir -p "$LUCID_HOME"
chmod 755 "$LUCID_HOME"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  "$lucid" db status >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "api-load: loading feeds from $feeds" >&2
"$lucid" update --from "$feeds" >/dev/null

# A bookworm layer of 1,000 dpkg packages: the real minbase status, then binaries named after source
# packages the OVAL knows (so lookups hit real records), at old and new versions.
python3 - "$work/layer.tar.gz" "$feeds" "${OLD_EVERY:-10}" <<'PY'
import bz2, glob, gzip, io, re, sys, tarfile
out, feeds, old_every = sys.argv[1], sys.argv[2], int(sys.argv[3])
base = open("shared/src/ecosystems/dpkg/testdata/bookworm-minbase-status").read().rstrip("\n") + "\n\n"
have = len(re.findall(r"^Package: ", base, re.M))
names = set()
for path in glob.glob(f"{feeds}/**/oval-definitions-bookworm.xml*", recursive=True):
    data = bz2.open(path).read() if path.endswith(".bz2") else open(path, "rb").read()
    names.update(m.decode() for m in re.findall(rb"<(?:linux-def:)?name>([a-z0-9][a-z0-9.+-]*)</(?:linux-def:)?name>", data))
names = sorted(names)
stanzas = []
for i in range(1000 - have):
    src = names[(i * 7919) % len(names)] if names else f"pkg{i}"
    version = "0.1-1" if i % old_every == 0 else "99:1.0-1"
    stanzas.append(
        f"Package: {src}-bench{i}\nStatus: install ok installed\nArchitecture: amd64\n"
        f"Source: {src}\nVersion: {version}\nDescription: bench\n\n")
status = (base + "".join(stanzas)).encode()
osr = open("shared/src/ecosystems/distribution/testdata/debian-12.os-release", "rb").read()
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    for name, data in [("etc/os-release", osr), ("var/lib/dpkg/status", status)]:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
open(out, "wb").write(gzip.compress(buf.getvalue(), mtime=0))
PY

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
LUCID_LOG=error "$lucid" serve --listen "127.0.0.1:$port" >/dev/null &
server=$!
for _ in $(seq 1 300); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

layer="sha256:$(sha256sum "$work/layer.tar.gz" | cut -d' ' -f1)"
manifest="sha256:$(printf 'api-load bench manifest' | sha256sum | cut -d' ' -f1)"
curl -sf -H 'Content-Type: application/json' -d "{\"hash\":\"$manifest\",\"layers\":[{\"hash\":\"$layer\"}]}" \
  "$base/indexer/api/v1/index_report" >/dev/null
packages="$(curl -sf -T "$work/layer.tar.gz" "$base/lucid/api/v1/layers/$layer" | python3 -c 'import json,sys; print(json.load(sys.stdin)["packages"])')"
url="$base/matcher/api/v1/vulnerability_report/$manifest"
# The first request matches (nothing cached yet); later ones are served from the report cache.
read -r code size first < <(curl -s -o /dev/null -w '%{http_code} %{size_download} %{time_total}\n' "$url")
[ "$code" = 200 ] || { echo "api-load: vulnerability_report answered $code" >&2; exit 1; }
vulns="$(curl -sf "$url" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["vulnerabilities"]))')"
echo "api-load: $packages packages indexed, report $size bytes with $vulns vulnerabilities; first (uncached) request ${first}s" >&2

echo "api-load: wrk -t$threads -c$connections -d${duration}s (load before: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
result="$(wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "$url")"
echo "$result"
rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$result")"
p99="$(awk '$1 == "99%" {print $2}' <<<"$result")"
non2xx="$(awk '/Non-2xx/ {print $NF}' <<<"$result")"
echo
echo "api-load: ${rps} req/s (goal >= 1000), p99 ${p99} (goal <= 50ms), non-2xx ${non2xx:-0}; load after: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
