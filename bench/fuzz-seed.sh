#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the repository's real samples (testdata folders): copies made at run
# time, never committed (fuzz/.gitignore). Re-running adds what is missing; libFuzzer keeps what it finds
# next to the seeds.
#
#   bash bench/fuzz-seed.sh            # every target
#
# Layer seeds are tars (plain, gzip, zstd) built here from the samples. rpm NDB/BDB databases and bare
# header blobs have no sample file: the unit test `fuzzing::tests::synthetic_rpm_seeds_read_back` builds
# them from the real rpmdb.sqlite and writes them when LUCID_FUZZ_SEEDS is set.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
corpus="$root/fuzz/corpus"
eco="$root/shared/src/ecosystems"
feeds="$root/shared/src/feeds/testdata"
mkdir -p "$corpus"

seed() { # target files...
  local target="$1"; shift
  mkdir -p "$corpus/$target"
  for f in "$@"; do
    [ -f "$f" ] || continue
    cp -f "$f" "$corpus/$target/$(echo "${f#"$root"/}" | tr '/' '_')"
  done
}

seed dpkg_status "$eco"/dpkg/testdata/bookworm-minbase-status "$eco"/dpkg/testdata/status.d/* \
  "$root"/shared/src/layer/testdata/dpkg-status-bookworm
seed apk_installed "$eco"/apk/testdata/installed
seed rpm_sqlite "$eco"/rpm/testdata/rpmdb.sqlite
seed python_metadata "$eco"/python/testdata/scanner/*METADATA* "$eco"/python/testdata/scanner/*egg-info* \
  "$root"/shared/src/layer/testdata/pip-24.2-METADATA
seed npm_package_json $(find "$eco"/npm/testdata -name package.json)
seed go_buildinfo "$eco"/go/testdata/scanner/*.buildinfo
seed jar "$eco"/maven/testdata/scanner/*.jar
seed gemspec "$eco"/rubygems/testdata/scanner/*.gemspec
seed cargo_auditable "$eco"/cargo/testdata/scanner/*.json
seed nuget_deps "$eco"/nuget/testdata/scanner/*.json
seed packagist_installed "$eco"/packagist/testdata/scanner/*.json
seed distribution_files $(find "$eco"/distribution/testdata -type f ! -name SOURCE.md) \
  "$root"/shared/src/layer/testdata/os-release-bookworm
seed osv_json $(find "$feeds"/osv -name '*.json')
seed osv_yaml $(find "$feeds"/osv -name '*.yaml')
seed alpine_secdb "$eco"/alpine/testdata/*.json
seed debian_tracker "$eco"/debian/testdata/tracker-sample.json
seed oval "$feeds"/oval/*.xml "$eco"/debian/testdata/*.xml
seed debian_oval "$eco"/debian/testdata/*.xml
seed rhel_oval "$feeds"/oval/*.xml
seed rhel_vex "$eco"/rhel/testdata/*.json
seed amazon_updateinfo "$eco"/amazon/testdata/*.xml
seed oracle_elsa "$eco"/oracle/testdata/*.xml
seed suse_oval "$eco"/suse/testdata/*.xml
seed photon_cve_metadata "$eco"/photon/testdata/*.json
seed nvd "$eco"/rhel/testdata/cve-2024-22047.json
seed kev "$eco"/alpine/testdata/v3.11-quirks.json
seed clair_manifest "$root"/shared/src/report_format/testdata/bullseye-report.json
seed api_bodies "$root"/shared/src/report_format/testdata/bullseye-report.json
seed harbor_scan_request "$root"/shared/src/report_format/testdata/bullseye-report.json
seed jwt "$root"/shared/src/report_format/testdata/bullseye-report.json

# Ubuntu's OVAL sample is bzip2-compressed; the parser reads the XML.
mkdir -p "$corpus/ubuntu_oval"
bzip2 -dc "$eco"/ubuntu/testdata/com.ubuntu.oracular.usn.oval.xml.bz2 > "$corpus/ubuntu_oval/oracular.xml"
cp -f "$corpus/ubuntu_oval/oracular.xml" "$corpus/oval/ubuntu-oracular.xml"

# OSV zip: an osv.dev-style export of the sample records.
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
(cd "$feeds/osv/npm" && python3 -c '
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for name in sys.argv[2:]:
        z.write(name)
' "$tmp/npm-all.zip" *.json)
seed osv_zip "$tmp/npm-all.zip"

# Small hand-written bodies for the API targets and the enrichment formats.
w() { mkdir -p "$corpus/$1"; printf '%s' "$3" > "$corpus/$1/$2"; }
d="sha256:$(printf x | sha256sum | cut -d' ' -f1)"
w clair_manifest manifest.json "{\"hash\":\"$d\",\"layers\":[{\"hash\":\"$d\",\"uri\":\"https://r.example/v2/a/blobs/$d\",\"headers\":{\"Authorization\":[\"Bearer x\"]}}]}"
w clair_manifest digests.json "[\"$d\",\"sha512:$(printf x | sha512sum | cut -d' ' -f1)\"]"
w harbor_scan_request scan.json "{\"registry\":{\"url\":\"https://registry.example:5000\",\"authorization\":\"Basic eDp5\"},\"artifact\":{\"repository\":\"library/debian\",\"digest\":\"$d\",\"tag\":\"12\",\"mime_type\":\"application/vnd.oci.image.manifest.v1+json\"}}"
w api_bodies update_diff.json '{"kind":"update_diff","updater":"debian","prev":null,"cur":"0190f3a2-7d6c-7c3e-9b1a-5a3c2e1d0f00"}'
w api_bodies notify_chunk.json '{"kind":"notify_chunk","set":"0190f3a2-7d6c-7c3e-9b1a-5a3c2e1d0f00","chunk":3,"from":10,"to":20}'
w api_bodies deliver.json '{"kind":"deliver","set":"0190f3a2-7d6c-7c3e-9b1a-5a3c2e1d0f00","subscriber":"0190f3a2-7d6c-7c3e-9b1a-5a3c2e1d0f01"}'
w api_bodies s3.json '{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"layers/sha256%3A'"${d#sha256:}"'","size":10}}}]}'
w api_bodies fetch.json "{\"type\":\"lucid.fetch_layer.v1\",\"manifest\":\"$d\",\"layer\":{\"hash\":\"$d\",\"uri\":\"https://r.example/blob\",\"headers\":{}}}"
w api_bodies manifest-doc.json "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$d\",\"size\":10,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}"
w api_bodies challenge.txt 'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a:pull"'
w jwt claims.json '{"iss":"ci","exp":4102444800,"nbf":0,"iat":1700000000}'
w jwt token.txt 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJjaSIsImV4cCI6NDEwMjQ0NDgwMH0.c2lnbmF0dXJl'
w kev kev.json '{"catalogVersion":"2026.11.01","vulnerabilities":[{"cveID":"CVE-2021-44228","vendorProject":"Apache","product":"Log4j2","dateAdded":"2021-12-10","dueDate":"2021-12-24","knownRansomwareCampaignUse":"Known"}]}'
w nvd nvd.json '{"format":"NVD_CVE","version":"2.0","vulnerabilities":[{"cve":{"id":"CVE-2021-44228","metrics":{"cvssMetricV31":[{"type":"Primary","cvssData":{"version":"3.1","vectorString":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H","baseScore":10.0,"baseSeverity":"CRITICAL"}}]}}}]}'
w epss epss.csv $'#model_version:v2025.03.14,score_date:2026-11-01T00:00:00+0000\ncve,epss,percentile\nCVE-2021-44228,0.94358,0.99957\nCVE-2024-3094,0.84,0.98\n'
w feed_archive archive.jsonl $'{"format":"lucid-feeds","version":1,"exported_at":"2026-11-01T00:00:00Z"}\n{"updater":"osv/npm","kind":"vulnerability","fingerprint":"f","records":1}\n{"updater":"osv/npm","name":"GHSA-x","description":"","issued":null,"links":[],"severity":"","normalized_severity":"High","ecosystem":"npm","package_name":"lodash","package_is_source":false,"distribution":null,"module":"","arch":"","ranges":[{"introduced":"0","fixed":"4.17.21"}],"versions":[],"fixed_in_version":"4.17.21","aliases":[]}\n{"updater":"kev","kind":"enrichment","fingerprint":"g","records":0}\n'
w amazon_repomd repomd.xml '<?xml version="1.0"?><repomd xmlns="http://linux.duke.edu/metadata/repo"><data type="updateinfo"><checksum type="sha256">ab</checksum><location href="repodata/ab-updateinfo.xml.gz"/></data></repomd>'

# Versions: pairs and triples from the comparators' own test data.
vseed() { # target name a b c
  mkdir -p "$corpus/$1"; printf '%s\n%s\n%s' "$3" "$4" "$5" > "$corpus/$1/$2"
}
vseed version_dpkg a '1:2.36-9+deb12u4' '2.36~rc1-1' '1.0+dfsg-1ubuntu0.1'
vseed version_rpm a '1:3.0.7-25.el9_3' '3.0.7~beta-1.el9' '2.9^post1-1.fc38'
vseed version_apk a '1.2.3_rc1-r0' '1.2.3-r1' '2.0_git20240101-r0'
vseed version_pep440 a '1.0rc1' '1!2.0.post1.dev3+local.7' '1.0a1'
vseed version_semver a '1.0.0-rc.1' '1.0.0+build.5' '2.0.0-alpha.beta.1'
vseed version_go a 'v1.9.0' 'v0.0.0-20240101000000-abcdef123456' 'v2.0.0+incompatible'
vseed version_maven a '1.0-alpha-1' '1.0.RELEASE' '1.0-SNAPSHOT'
vseed version_rubygems a '1.0.a' '1.0.0.pre.1' '2'
vseed version_nuget a '1.0.0-beta' '1.0.0.0' '1.0.0-RC.1+meta'
vseed version_packagist a 'v1.0.0-beta2' 'dev-main' '1.0.0.0-patch1'
vseed version_cargo a '1.0.0-alpha' '0.1.0+meta' '1.0.0'
[ -f "$eco"/apk/testdata/version.data ] && head -c 4000 "$eco"/apk/testdata/version.data > "$corpus/version_apk/version.data"
[ -f "$eco"/go/testdata/version/semver_tests.tsv ] && cp -f "$eco"/go/testdata/version/semver_tests.tsv "$corpus/version_go/"

# Layers: tars of the samples, plain, gzip and zstd.
mkdir -p "$tmp/rootfs/etc" "$tmp/rootfs/var/lib/dpkg" "$tmp/rootfs/lib/apk/db" \
  "$tmp/rootfs/usr/lib/python3/dist-packages/pip-24.2.dist-info" "$tmp/rootfs/app/node_modules/lodash" \
  "$tmp/rootfs/var/lib/rpm" "$tmp/rootfs/app/lib" "$tmp/rootfs/usr/bin"
cp "$root"/shared/src/layer/testdata/os-release-bookworm "$tmp/rootfs/etc/os-release"
cp "$root"/shared/src/layer/testdata/dpkg-status-bookworm "$tmp/rootfs/var/lib/dpkg/status"
cp "$eco"/apk/testdata/installed "$tmp/rootfs/lib/apk/db/installed"
cp "$root"/shared/src/layer/testdata/pip-24.2-METADATA "$tmp/rootfs/usr/lib/python3/dist-packages/pip-24.2.dist-info/METADATA"
cp "$eco"/npm/testdata/scanner/node_modules/lodash/package.json "$tmp/rootfs/app/node_modules/lodash/"
cp "$eco"/maven/testdata/scanner/slf4j-nop.jar "$tmp/rootfs/app/lib/"
ln -s ../../etc/os-release "$tmp/rootfs/usr/bin/link"
: > "$tmp/rootfs/app/node_modules/.wh.express"
mkdir -p "$corpus/layer" "$corpus/layer_gzip" "$corpus/layer_zstd"
(cd "$tmp/rootfs" && tar --format=gnu -cf "$tmp/small.tar" etc var/lib/dpkg app/node_modules usr/bin)
(cd "$tmp/rootfs" && tar --format=pax -cf "$tmp/pax.tar" .)
for t in small pax; do
  cp -f "$tmp/$t.tar" "$corpus/layer/$t.tar"
  cp -f "$tmp/$t.tar" "$corpus/layer_gzip/$t.tar"
  cp -f "$tmp/$t.tar" "$corpus/layer_zstd/$t.tar"
  gzip -9c "$tmp/$t.tar" > "$corpus/layer/$t.tar.gz"
  zstd -q -19 -c "$tmp/$t.tar" > "$corpus/layer/$t.tar.zst"
done

# rpm NDB/BDB databases and header blobs, built from the real rpmdb.sqlite by a unit test.
if [ "${LUCID_FUZZ_SKIP_RPM_SEEDS:-}" != 1 ]; then
  (cd "$root" && LUCID_FUZZ_SEEDS="$corpus" cargo test -q -p lucid-shared --lib \
     fuzzing::tests::synthetic_rpm_seeds_read_back >/dev/null)
fi
cp -f "$corpus"/rpm_ndb/* "$corpus"/rpm_bdb/* "$corpus/rpm_sqlite/" 2>/dev/null || true

for d in "$corpus"/*/; do printf '%-22s %s seeds\n' "$(basename "$d")" "$(ls "$d" | wc -l)"; done
