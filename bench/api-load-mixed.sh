#!/usr/bin/env bash
# Mixed API load (issue #10, item 5; a script, not a test): `lucid serve` (release build) with PSK auth on,
# on the embedded PostgreSQL (or DATABASE_URL), Debian's OVAL loaded, two bookworm manifests indexed (1,000
# and 88 dpkg packages) and one notification set produced by a real feed change; then wrk sends DURATION
# seconds of mixed traffic over CONNECTIONS keep-alive connections (bench/api-load-mixed.lua): vulnerability
# and index reports, POST index_report of known manifests, the notification set, update operations, index
# state, health, readiness, and 404s for unknown manifests, each with a valid JWT. Prints the request count,
# req/s, answers by class (every answer must be 2xx, or 404 for the unknown manifests; anything else is
# "unexpected"), p50/p99 latency, and the load average of the (shared) machine.
#
#   bench/api-load-mixed.sh [FEEDS_DIR]   (default ../shared/feeds/debian-oval)
#   DURATION=60 CONNECTIONS=16 THREADS=2
#   RATE=600      pace each connection to about RATE req/s in total (wrk's delay()); unset: as fast as possible
#   MIX_IMAGES="big small"    the images whose reports the mix asks for (big: 1,000 packages, small: 88)
#   ENDPOINT_SECONDS=5        first, each kind of request alone for that long
#   LUCID_BENCH_PROFILE=dev   reuse the debug build instead of building release
set -euo pipefail
cd "$(dirname "$0")/.."
feeds="$(realpath "${1:-../shared/feeds/debian-oval}")"
profile="${LUCID_BENCH_PROFILE:-release}"
duration="${DURATION:-60}"
connections="${CONNECTIONS:-16}"
threads="${THREADS:-2}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

if ! command -v wrk >/dev/null 2>&1; then
  echo "api-load-mixed: wrk is missing (Debian: apt-get install wrk)" >&2
  exit 1
fi

cargo build -q -p lucid-cli --profile "$profile"
# Cargo's output folder: `dev` builds into debug/, `bench` (like `release`) into release/.
case "$profile" in dev) dir=debug ;; bench | release) dir=release ;; *) dir="$profile" ;; esac
lucid="$CARGO_TARGET_DIR/$dir/lucid"

work="$(mktemp -d)"
chmod 755 "$work" # as root, the embedded PostgreSQL runs as the postgres user and must reach its data
export LUCID_HOME="$work/home"
mkdir -p "$LUCID_HOME"
chmod 755 "$LUCID_HOME"
server=""
receiver=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  [ -n "$receiver" ] && kill "$receiver" 2>/dev/null
  "$lucid" db status >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# PSK auth on: a random key and a token valid for the run (HS256, minted as any client would).
export LUCID_PSK="$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')"
token="$(python3 - <<'PY'
import base64, hashlib, hmac, json, os, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
key = base64.b64decode(os.environ["LUCID_PSK"])
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
claims = b64(json.dumps({"iss": "api-load", "iat": int(time.time()), "exp": int(time.time()) + 3600}).encode())
sig = b64(hmac.new(key, f"{head}.{claims}".encode(), hashlib.sha256).digest())
print(f"{head}.{claims}.{sig}")
PY
)"
auth=(-H "Authorization: Bearer $token")

# The feed change that produces the notification set: the first load lacks every bookworm definition of three
# source packages the bench image has at old versions; the second load is the full feed.
mkdir -p "$work/feeds-before/debian"
python3 - "$feeds" "$work/feeds-before/debian" "$work/dropped" <<'PY'
import bz2, glob, os, re, sys
feeds, out, dropped_file = sys.argv[1:4]
for path in glob.glob(f"{feeds}/debian/*.xml.bz2"):
    name = os.path.basename(path)
    if "bookworm" not in name:
        os.symlink(path, f"{out}/{name}")
        continue
    data = bz2.open(path).read().decode()
    names = sorted(set(re.findall(r"<(?:linux-def:)?name>([a-z0-9][a-z0-9.+-]*)</(?:linux-def:)?name>", data)))
    # The generator below puts synthetic package i (i % 10 == 0: old version) on source names[(i*7919) % n].
    old = []
    for i in range(0, 912, 10):
        src = names[(i * 7919) % len(names)]
        if src not in old:
            old.append(src)
    drop = set(old[:3])
    kept, removed = [], 0
    for block in re.split(r"(?=<definition )", data):
        product = re.search(r"<product>([^<]*)</product>", block)
        if block.startswith("<definition ") and product and product.group(1) in drop:
            # keep the closing tags that follow the last definition
            tail = block[block.index("</definition>") + len("</definition>"):]
            kept.append(tail if "</definitions>" in tail else "")
            removed += 1
        else:
            kept.append(block)
    open(dropped_file, "w").write(f"{removed} definitions of {sorted(drop)}\n")
    with bz2.open(f"{out}/{name}", "wt", compresslevel=1) as f:
        f.write("".join(kept))
PY
echo "api-load-mixed: first load without $(cat "$work/dropped")" >&2
"$lucid" update --from "$work/feeds-before" >/dev/null

# Layers: the bench image of bench/api-load.sh (1,000 dpkg packages) and Debian's minbase alone (88).
python3 - "$work" "$feeds" <<'PY'
import bz2, glob, gzip, io, re, sys, tarfile
work, feeds = sys.argv[1:3]
base = open("shared/src/ecosystems/dpkg/testdata/bookworm-minbase-status").read().rstrip("\n") + "\n\n"
have = len(re.findall(r"^Package: ", base, re.M))
names = set()
for path in glob.glob(f"{feeds}/**/oval-definitions-bookworm.xml*", recursive=True):
    data = bz2.open(path).read() if path.endswith(".bz2") else open(path, "rb").read()
    names.update(m.decode() for m in re.findall(rb"<(?:linux-def:)?name>([a-z0-9][a-z0-9.+-]*)</(?:linux-def:)?name>", data))
names = sorted(names)
stanzas = []
for i in range(1000 - have):
    src = names[(i * 7919) % len(names)]
    version = "0.1-1" if i % 10 == 0 else "99:1.0-1"
    stanzas.append(
        f"Package: {src}-bench{i}\nStatus: install ok installed\nArchitecture: amd64\n"
        f"Source: {src}\nVersion: {version}\nDescription: bench\n\n")
osr = open("shared/src/ecosystems/distribution/testdata/debian-12.os-release", "rb").read()
for out, status in [("big", base + "".join(stanzas)), ("small", base)]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in [("etc/os-release", osr), ("var/lib/dpkg/status", status.encode())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    open(f"{work}/{out}.tar.gz", "wb").write(gzip.compress(buf.getvalue(), mtime=0))
PY

start_server() {
  port="$(free_port)"
  base="http://127.0.0.1:$port"
  LUCID_LOG=error "$lucid" serve --listen "127.0.0.1:$port" --no-update >/dev/null &
  server=$!
  for _ in $(seq 1 300); do curl -sf "$base/healthz" >/dev/null && return; sleep 0.1; done
  echo "api-load-mixed: lucid serve did not start" >&2
  exit 1
}
stop_server() { kill "$server"; wait "$server" 2>/dev/null || true; server=""; }

start_server
known=()
for layer_file in big small; do
  layer="sha256:$(sha256sum "$work/$layer_file.tar.gz" | cut -d' ' -f1)"
  manifest="sha256:$(printf 'api-load-mixed %s' "$layer_file" | sha256sum | cut -d' ' -f1)"
  body="{\"hash\":\"$manifest\",\"layers\":[{\"hash\":\"$layer\"}]}"
  curl -sf "${auth[@]}" -H 'Content-Type: application/json' -d "$body" "$base/indexer/api/v1/index_report" >/dev/null
  curl -sf "${auth[@]}" -T "$work/$layer_file.tar.gz" "$base/lucid/api/v1/layers/$layer" >/dev/null
  case " ${MIX_IMAGES:-big small} " in *" $layer_file "*) known+=("$manifest|$body") ;; esac
done
stop_server

# The full feed: the diff adds the dropped definitions, the image is affected, the set is delivered to a
# local webhook receiver.
hook_port="$(free_port)"
python3 - "$hook_port" "$work/hooks" <<'PY' &
import http.server, sys
port, out = int(sys.argv[1]), sys.argv[2]
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "ab") as f:
            f.write(body + b"\n")
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Hook).serve_forever()
PY
receiver=$!
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$hook_port") 2>/dev/null && break; sleep 0.1; done
export LUCID_SUBSCRIBERS="[{\"target\": \"http://127.0.0.1:$hook_port/hook\"}]"
export LUCID_WEBHOOK_ALLOW_PRIVATE=true
export LUCID_NOTIFIER_CALLBACK_URL="http://127.0.0.1/notifier/api/v1/notification/"
"$lucid" update --from "$feeds" >/dev/null
notification="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["notification_id"])' "$work/hooks" 2>/dev/null || true)"
[ -n "$notification" ] || { echo "api-load-mixed: no notification was delivered" >&2; exit 1; }
kill "$receiver" 2>/dev/null || true
receiver=""

start_server
check() { # expected status, then curl arguments
  local want=$1 got
  shift
  got="$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$@")"
  [ "$got" = "$want" ] || { echo "api-load-mixed: $* answered $got, expected $want" >&2; exit 1; }
}
lua_known=""
for entry in "${known[@]}"; do
  manifest="${entry%%|*}"
  body="${entry#*|}"
  check 200 "$base/matcher/api/v1/vulnerability_report/$manifest" # also fills the report cache
  check 200 "$base/indexer/api/v1/index_report/$manifest"
  check 201 -H 'Content-Type: application/json' -d "$body" "$base/indexer/api/v1/index_report"
  lua_known+="{manifest=\"$manifest\", body='$body'},"
done
check 200 "$base/notifier/api/v1/notification/$notification?page_size=100"
check 200 "$base/matcher/api/v1/internal/update_operation"
check 200 "$base/indexer/api/v1/index_state"
check 200 "$base/healthz"
check 200 "$base/readyz"
check 404 "$base/indexer/api/v1/index_report/sha256:$(printf unknown | sha256sum | cut -d' ' -f1)"
unauthenticated="$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "$base/indexer/api/v1/index_state")"
[ "$unauthenticated" = 401 ] || { echo "api-load-mixed: a bad token answered $unauthenticated, expected 401" >&2; exit 1; }
notes="$(curl -sf "${auth[@]}" "$base/notifier/api/v1/notification/$notification?page_size=1000" |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)["notifications"]))')"
echo "api-load-mixed: notification set $notification with $notes notifications" >&2

# Optionally, each kind of request alone first (ENDPOINT_SECONDS each), to see what the mix is made of.
if [ -n "${ENDPOINT_SECONDS:-}" ]; then
  big="${known[0]%%|*}"
  big_body="${known[0]#*|}"
  for probe in "GET /matcher/api/v1/vulnerability_report/$big" "GET /indexer/api/v1/index_report/$big" \
    "POST /indexer/api/v1/index_report" "GET /notifier/api/v1/notification/$notification?page_size=100" \
    "GET /matcher/api/v1/internal/update_operation" "GET /indexer/api/v1/index_state" "GET /healthz" \
    "GET /readyz" "GET /indexer/api/v1/index_report/sha256:$(printf unknown | sha256sum | cut -d' ' -f1)"; do
    method="${probe%% *}"
    path="${probe#* }"
    cat >"$work/probe.lua" <<LUA
wrk.method = "$method"
wrk.path = "$path"
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Content-Type"] = "application/json"
if wrk.method == "POST" then wrk.body = '$big_body' end
LUA
    out="$(wrk -t"$threads" -c"$connections" -d"${ENDPOINT_SECONDS}s" --latency -s "$work/probe.lua" "$base")"
    printf 'api-load-mixed: alone: %-70s %8s req/s  p50 %-9s p99 %-9s %s\n' "$method ${path:0:60}" \
      "$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")" "$(awk '$1 == "50%" {print $2}' <<<"$out")" \
      "$(awk '$1 == "99%" {print $2}' <<<"$out")" "$(awk '/Non-2xx/ {print "non-2xx " $NF}' <<<"$out")" >&2
  done
fi

delay=0
if [ -n "${RATE:-}" ]; then delay=$((connections * 1000 / RATE)); fi
script="$work/mixed.lua"
{
  echo "TOKEN = \"$token\""
  echo "KNOWN = { $lua_known }"
  echo "NOTIFICATION = \"$notification\""
  echo "DELAY_MS = $delay"
  cat bench/api-load-mixed.lua
} >"$script"

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "api-load-mixed: wrk -t$threads -c$connections -d${duration}s, delay ${delay} ms (load before: $load_before)" >&2
( sleep "$((duration / 2))"; echo "api-load-mixed: load at mid-run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2 ) &
result="$(wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$script" "$base")"
echo "$result"
echo
echo "api-load-mixed: load after: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; profile $profile"
case "$result" in *"unexpected 0,"*) exit 0 ;; *) exit 1 ;; esac
