//! Property tests against reference implementations, every case batched into one subprocess:
//!
//! - the reader against Python's `tarfile` + `gzip` + `zstandard` (the pip package): thousands of random
//!   layers with odd paths (absolute, `./`, `..`, long GNU names), whiteouts, links and random contents,
//!   in all three compressions; the file list, contents, whiteouts, skips and byte counts must agree;
//! - `index_state` against Python's `hashlib`.
//!
//! The interpreter is `$LUCID_REF_PYTHON`, default `<repo root>/.venv-ref/bin/python`. If it is missing the
//! tests fail and say how to install it.

use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine as _;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde::Deserialize;

use super::fixtures::*;
use crate::layer::reader::{LayerLimits, READER_NAME, read_layer};
use crate::model::LayerContents;
use crate::scanner::{EntryInfo, PackageScanner, ScanError, index_state};

const INSTALL_HINT: &str = "install the reference interpreter: python3 -m venv .venv-ref && \
     .venv-ref/bin/pip install zstandard (at the repository root), or point LUCID_REF_PYTHON at a \
     Python 3 that has the `zstandard` package";

/// Runs `script` on the reference Python with `input` on stdin and returns stdout lines.
fn run_reference(script: &str, input: &[u8]) -> Vec<String> {
    let python = std::env::var("LUCID_REF_PYTHON").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv-ref/bin/python").to_owned()
    });
    let mut child = Command::new(&python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run reference Python {python:?} ({e}): {INSTALL_HINT}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        output.status.success(),
        "reference Python {python:?} failed: {}\n{INSTALL_HINT}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Python's view of a layer, computed independently with the standard library's `tarfile`.
const TARFILE_REFERENCE: &str = r#"
import base64, gzip, hashlib, io, json, sys, tarfile
import zstandard

def norm(name):
    parts = [p for p in name.split('/') if p not in ('', '.')]
    if '..' in parts:
        return None
    return '/'.join(parts)

def whiteout(path):
    d, _, base = path.rpartition('/')
    if not base.startswith('.wh.'):
        return False, None
    prefix = d + '/' if d else ''
    hidden = base[4:]
    if hidden == '.wh..opq':
        return True, prefix
    if hidden == '' or hidden.startswith('.wh.'):
        return True, None
    return True, prefix + hidden

for line in sys.stdin:
    blob = base64.b64decode(line)
    if blob[:2] == b'\x1f\x8b':
        raw = gzip.decompress(blob)
    elif blob[:4] == b'\x28\xb5\x2f\xfd':
        raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob), read_across_frames=True).read()
    else:
        raw = blob
    files, whiteouts, skipped, hardlinks, entries = [], [], 0, 0, 0
    with tarfile.open(fileobj=io.BytesIO(raw), mode='r:') as tf:
        for m in tf:
            entries += 1
            p = norm(m.name)
            if p is None or (p == '' and not m.isdir()):
                skipped += 1
                continue
            if p == '':
                continue
            is_wh, hidden = whiteout(p)
            if is_wh:
                if hidden is not None:
                    whiteouts.append(hidden)
                continue
            if m.islnk():
                hardlinks += 1
            elif m.isreg():
                files.append([p, hashlib.sha256(tf.extractfile(m).read()).hexdigest()])
    print(json.dumps({'sha256': hashlib.sha256(blob).hexdigest(), 'tar_bytes': len(raw), 'entries': entries,
                      'files': files, 'whiteouts': whiteouts, 'skipped': skipped, 'hardlinks': hardlinks}))
"#;

#[derive(Debug, Deserialize, PartialEq)]
struct LayerView {
    sha256: String,
    tar_bytes: u64,
    entries: u64,
    files: Vec<(String, String)>,
    whiteouts: Vec<String>,
    skipped: u64,
    hardlinks: u64,
}

#[derive(Debug, Clone)]
enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink,
    Hardlink,
}

#[derive(Debug, Clone)]
struct EntrySpec {
    name: String,
    kind: Kind,
}

fn entry_strategy() -> impl Strategy<Value = EntrySpec> {
    let component = prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just(".wh.b".to_owned()),
        Just(".wh..wh..opq".to_owned()),
        Just(".wh..wh.plnk".to_owned()),
        "[a-z0-9_.-]{1,12}",
        "[a-z]{60,130}",
    ];
    let prefix = prop_oneof![Just(""), Just("./"), Just("/")];
    let kind = prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..1500).prop_map(Kind::File),
        1 => Just(Kind::Dir),
        1 => Just(Kind::Symlink),
        1 => Just(Kind::Hardlink),
    ];
    (prefix, proptest::collection::vec(component, 1..5), kind).prop_map(|(prefix, parts, kind)| {
        EntrySpec {
            name: format!("{prefix}{}", parts.join("/")),
            kind,
        }
    })
}

fn build_blob(entries: &[EntrySpec], compression: u8) -> Vec<u8> {
    let mut tar = Vec::new();
    for e in entries {
        match &e.kind {
            Kind::File(data) => file(&mut tar, &e.name, data),
            Kind::Dir => dir(&mut tar, &e.name),
            Kind::Symlink => symlink(&mut tar, &e.name, "a/b"),
            Kind::Hardlink => hardlink(&mut tar, &e.name, "a/b"),
        }
    }
    end(&mut tar);
    match compression {
        0 => tar,
        1 => gzip(&tar),
        _ => zstd(&tar),
    }
}

/// What `read_layer` says, in the reference's terms.
fn rust_view(blob: &[u8]) -> LayerView {
    let all: [&dyn PackageScanner; 1] = [&CaptureAll];
    let scan = read_layer(blob, &digest(blob), &all, &LayerLimits::default()).unwrap();
    let reader_warnings = |word: &str| {
        scan.warnings
            .iter()
            .filter(|w| w.scanner == READER_NAME && w.reason.contains(word))
            .count() as u64
    };
    LayerView {
        sha256: digest(blob).hex().to_owned(),
        tar_bytes: scan.tar_bytes,
        entries: scan.entries,
        files: scan
            .contents
            .packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect(),
        whiteouts: scan.contents.whiteouts.clone(),
        skipped: reader_warnings("skipped"),
        hardlinks: reader_warnings("hard link"),
    }
}

#[test]
fn reader_agrees_with_python_tarfile_on_random_layers() {
    const CASES: usize = 2000;
    let strategy = (proptest::collection::vec(entry_strategy(), 0..8), 0u8..3);
    let mut runner = TestRunner::default();
    let cases: Vec<(Vec<EntrySpec>, u8)> = (0..CASES)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    let blobs: Vec<Vec<u8>> = cases.iter().map(|(e, c)| build_blob(e, *c)).collect();
    let mut input = Vec::new();
    for blob in &blobs {
        input.extend(
            base64::engine::general_purpose::STANDARD
                .encode(blob)
                .as_bytes(),
        );
        input.push(b'\n');
    }
    let lines = run_reference(TARFILE_REFERENCE, &input);
    assert_eq!(
        lines.len(),
        CASES,
        "the reference answered {} of {CASES} cases",
        lines.len()
    );
    for ((case, blob), line) in cases.iter().zip(&blobs).zip(&lines) {
        let expected: LayerView = serde_json::from_str(line).unwrap();
        assert_eq!(rust_view(blob), expected, "case {case:?}");
    }
}

/// Regression cases found by the property test, with their expectations written out.
#[test]
fn reader_regressions_from_the_reference_comparison() {
    // `./` (a directory) is silently ignored; a file named `/.` names the root and is skipped with a
    // warning, like `..`.
    let mut tar = Vec::new();
    dir(&mut tar, "./");
    file(&mut tar, "/.", b"x");
    file(&mut tar, "./a/.wh..wh..opq/b", b"y");
    end(&mut tar);
    let view = rust_view(&tar);
    assert_eq!(view.skipped, 1);
    // `.wh..wh..opq` as a directory component: the entry is a plain file, not a whiteout.
    assert_eq!(
        view.files,
        [(
            "a/.wh..wh..opq/b".to_owned(),
            "a1fce4363854ff888cff4b8e7875d600c2682390412a8cf79b37d0b11148b0fa".to_owned() // sha256("y")
        )]
    );
    assert_eq!(view.whiteouts, Vec::<String>::new());
    assert_eq!(view.entries, 3);
}

/// A scanner with a chosen name and version, for `index_state`.
struct Named(&'static str, &'static str);

impl PackageScanner for Named {
    fn name(&self) -> &'static str {
        self.0
    }
    fn version(&self) -> &'static str {
        self.1
    }
    fn claims(&self, _: &EntryInfo<'_>) -> bool {
        false
    }
    fn scan(&self, _: &EntryInfo<'_>, _: &[u8], _: &mut LayerContents) -> Result<(), ScanError> {
        Ok(())
    }
}

const INDEX_STATE_REFERENCE: &str = r#"
import hashlib, json, sys
for line in sys.stdin:
    pairs = json.loads(line)
    lines = sorted(f'{name}@{version}\n' for name, version in pairs)
    print(hashlib.sha256(''.join(lines).encode()).hexdigest())
"#;

#[test]
fn index_state_agrees_with_python_hashlib() {
    const CASES: usize = 1000;
    let pair = ("[a-z0-9-]{1,10}|\\PC{0,6}", "[0-9.]{1,6}|\\PC{0,4}");
    let strategy = proptest::collection::vec(pair, 0..12);
    let mut runner = TestRunner::default();
    let cases: Vec<Vec<(String, String)>> = (0..CASES)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    let mut input = String::new();
    for case in &cases {
        input.push_str(&serde_json::to_string(case).unwrap());
        input.push('\n');
    }
    let lines = run_reference(INDEX_STATE_REFERENCE, input.as_bytes());
    assert_eq!(lines.len(), CASES);
    for (case, expected) in cases.iter().zip(&lines) {
        // Scanner names are &'static str: leak the few test strings.
        let scanners: Vec<Named> = case
            .iter()
            .map(|(n, v)| {
                Named(
                    Box::leak(n.clone().into_boxed_str()),
                    Box::leak(v.clone().into_boxed_str()),
                )
            })
            .collect();
        let refs: Vec<&dyn PackageScanner> =
            scanners.iter().map(|s| s as &dyn PackageScanner).collect();
        assert_eq!(&index_state(&refs), expected, "case {case:?}");
    }
}

#[test]
fn index_state_is_order_independent_and_known() {
    let a = Named("dpkg", "7");
    let b = Named("python", "5");
    // Computed with `printf 'dpkg@7\npython@5\n' | sha256sum`.
    let expected = "bbbf7132e76d36d18dc51799b1bacf43886a5442b180dcb6a492fef0064b9149";
    assert_eq!(index_state(&[&a, &b]), expected);
    assert_eq!(index_state(&[&b, &a]), expected);
    // The empty set hashes the empty string.
    assert_eq!(
        index_state(&[]),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_ne!(index_state(&[&a]), index_state(&[&Named("dpkg", "8")]));
}
