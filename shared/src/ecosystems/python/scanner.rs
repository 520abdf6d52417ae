//! Finds installed Python distributions from their core metadata files, as Clair's `python` scanner does.
//!
//! Three on-disk forms record an installed distribution:
//!
//! - `<site-packages>/<name>-<ver>.dist-info/METADATA` (wheels, modern pip);
//! - `<site-packages>/<name>-<ver>.egg-info/PKG-INFO` (setuptools `develop`/sdist installs, Debian's
//!   `python3-*` packages);
//! - `<site-packages>/<name>-<ver>.egg-info` as a single file (distutils installs, old Debian packages), and
//!   `…/<name>.egg/EGG-INFO/PKG-INFO` (zipped-egg installs unpacked in place).
//!
//! All are RFC 822-style header blocks (the "core metadata" spec); only `Name` and `Version` are needed.
//! Names are normalized per PEP 503 so that `Django`, `zope.interface` and `PyYAML` match the advisory
//! databases, which key PyPI packages by their normalized name.

use mailparse::MailHeaderMap;

use crate::model::{Ecosystem, LayerContents, Package};
use crate::scanner::{EntryInfo, PackageScanner, ScanError};

const SCANNER_NAME: &str = "python";

/// Largest metadata file read. METADATA embeds the project's long description (READMEs of a few hundred KB
/// exist); anything past this is not a metadata file a packaging tool wrote.
const MAX_METADATA_SIZE: u64 = 8 * 1024 * 1024;

/// Longest name or version accepted; real ones are far shorter, and the cap keeps hostile files from
/// producing huge database rows.
const MAX_FIELD_LEN: usize = 256;

/// Scanner for Python core metadata files (`METADATA`, `PKG-INFO`, file-form `*.egg-info`).
#[derive(Debug, Clone, Copy, Default)]
pub struct PythonScanner;

/// Which metadata form a path is, and therefore which directory is the `site-packages` dir.
fn site_packages_dir(path: &str) -> Option<&str> {
    let (parent, file_name) = path.rsplit_once('/').unwrap_or(("", path));
    let metadata_dir_parent = |dir_suffix: &str| {
        let (grand_parent, dir_name) = parent.rsplit_once('/').unwrap_or(("", parent));
        (dir_name.ends_with(dir_suffix) && dir_name.len() > dir_suffix.len())
            .then_some(grand_parent)
    };
    match file_name {
        "METADATA" => metadata_dir_parent(".dist-info"),
        "PKG-INFO" => metadata_dir_parent(".egg-info").or_else(|| {
            // `<site-packages>/<name>.egg/EGG-INFO/PKG-INFO`
            let (egg_dir_path, info_dir) = parent.rsplit_once('/')?;
            if info_dir != "EGG-INFO" {
                return None;
            }
            let (site_packages, egg_dir) =
                egg_dir_path.rsplit_once('/').unwrap_or(("", egg_dir_path));
            egg_dir.ends_with(".egg").then_some(site_packages)
        }),
        name if name.ends_with(".egg-info") && name.len() > ".egg-info".len() => Some(parent),
        _ => None,
    }
}

/// Normalizes a distribution name per PEP 503: lowercase, and every run of `-`, `_`, `.` becomes one `-`.
///
/// Written by hand because it is one line of logic; the crates that implement it (`pep508_rs`) pull in a
/// full requirement parser. Property-tested against `packaging.utils.canonicalize_name`.
pub fn normalize_name(name: &str) -> String {
    // Lowercase the whole string first, as `packaging` does: Unicode's context rules (a word-final capital
    // sigma becomes `ς`) look at the neighbours, and `.` and `_` count as case-ignorable there.
    let lowercase = name.to_lowercase();
    let mut normalized = String::with_capacity(lowercase.len());
    let mut in_separator_run = false;
    for c in lowercase.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator_run {
                normalized.push('-');
            }
            in_separator_run = true;
        } else {
            in_separator_run = false;
            normalized.push(c);
        }
    }
    normalized
}

/// Reads `Name` and `Version` from a core-metadata header block.
fn parse_name_version(path: &str, contents: &[u8]) -> Result<(String, String), ScanError> {
    let error = |reason: String| ScanError::new(SCANNER_NAME, path, reason);
    let (headers, _body_offset) =
        mailparse::parse_headers(contents).map_err(|e| error(format!("bad header block: {e}")))?;
    let field = |key: &str| -> Result<String, ScanError> {
        let value = headers
            .get_first_value(key)
            .ok_or_else(|| error(format!("no {key} header")))?;
        let value = value.trim();
        if value.is_empty() {
            return Err(error(format!("empty {key} header")));
        }
        if value.len() > MAX_FIELD_LEN {
            return Err(error(format!(
                "{key} header is {} bytes long (limit {MAX_FIELD_LEN})",
                value.len()
            )));
        }
        Ok(value.to_owned())
    };
    Ok((field("Name")?, field("Version")?))
}

impl PackageScanner for PythonScanner {
    fn name(&self) -> &'static str {
        SCANNER_NAME
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn claims(&self, entry: &EntryInfo<'_>) -> bool {
        site_packages_dir(entry.path).is_some()
    }

    fn max_file_size(&self) -> u64 {
        MAX_METADATA_SIZE
    }

    fn scan(
        &self,
        entry: &EntryInfo<'_>,
        contents: &[u8],
        out: &mut LayerContents,
    ) -> Result<(), ScanError> {
        let site_packages = site_packages_dir(entry.path).ok_or_else(|| {
            ScanError::new(SCANNER_NAME, entry.path, "not a Python metadata file path")
        })?;
        let (name, version) = parse_name_version(entry.path, contents)?;
        out.packages.push(Package {
            ecosystem: Some(Ecosystem::PyPI),
            name: normalize_name(&name),
            version,
            package_db: format!("python:{site_packages}"),
            filepath: entry.path.to_owned(),
            ..Package::default()
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::PathBuf;
    use std::process::{Command, Stdio};

    use proptest::prelude::*;
    use proptest::strategy::ValueTree;

    use super::*;

    fn sample(name: &str) -> Vec<u8> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/ecosystems/python/testdata/scanner")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn entry(path: &str) -> EntryInfo<'_> {
        EntryInfo {
            path,
            size: 0,
            mode: 0o644,
        }
    }

    fn scan(path: &str, contents: &[u8]) -> Result<Vec<Package>, ScanError> {
        let mut out = LayerContents::default();
        PythonScanner.scan(&entry(path), contents, &mut out)?;
        Ok(out.packages)
    }

    /// (layer path, testdata file, expected normalized name, expected version, expected package_db)
    const REAL_SAMPLES: &[(&str, &str, &str, &str, &str)] = &[
        (
            "usr/local/lib/python3.12/site-packages/requests-2.34.2.dist-info/METADATA",
            "requests-2.34.2.dist-info.METADATA",
            "requests",
            "2.34.2",
            "python:usr/local/lib/python3.12/site-packages",
        ),
        (
            "usr/local/lib/python3.12/site-packages/urllib3-2.8.0.dist-info/METADATA",
            "urllib3-2.8.0.dist-info.METADATA",
            "urllib3",
            "2.8.0",
            "python:usr/local/lib/python3.12/site-packages",
        ),
        (
            "app/.venv/lib/python3.11/site-packages/django-5.2.19.dist-info/METADATA",
            "django-5.2.19.dist-info.METADATA",
            "django",
            "5.2.19",
            "python:app/.venv/lib/python3.11/site-packages",
        ),
        (
            "usr/lib/python3.11/site-packages/cryptography-50.0.2.dist-info/METADATA",
            "cryptography-50.0.2.dist-info.METADATA",
            "cryptography",
            "50.0.2",
            "python:usr/lib/python3.11/site-packages",
        ),
        (
            "usr/lib/python3.11/site-packages/PyYAML-6.0.4.dist-info/METADATA",
            "pyyaml-6.0.4.dist-info.METADATA",
            "pyyaml",
            "6.0.4",
            "python:usr/lib/python3.11/site-packages",
        ),
        (
            "usr/lib/python3.11/site-packages/zope_interface-8.7.dist-info/METADATA",
            "zope_interface-8.7.dist-info.METADATA",
            "zope-interface",
            "8.7",
            "python:usr/lib/python3.11/site-packages",
        ),
        (
            "usr/lib/python3/dist-packages/lazr.restfulclient-0.14.5.egg-info/PKG-INFO",
            "lazr.restfulclient-0.14.5.egg-info.PKG-INFO",
            "lazr-restfulclient",
            "0.14.5",
            "python:usr/lib/python3/dist-packages",
        ),
        (
            "usr/lib/python3/dist-packages/rpm-4.18.0.egg-info",
            "rpm-4.18.0.egg-info",
            "rpm",
            "4.18.0",
            "python:usr/lib/python3/dist-packages",
        ),
    ];

    #[test]
    fn real_metadata_files_give_normalized_name_and_version() {
        for (path, file, name, version, package_db) in REAL_SAMPLES {
            assert!(PythonScanner.claims(&entry(path)), "{path} not claimed");
            let packages = scan(path, &sample(file)).unwrap();
            assert_eq!(
                packages,
                vec![Package {
                    ecosystem: Some(Ecosystem::PyPI),
                    name: (*name).to_owned(),
                    version: (*version).to_owned(),
                    package_db: (*package_db).to_owned(),
                    filepath: (*path).to_owned(),
                    ..Package::default()
                }],
                "{file}"
            );
        }
    }

    #[test]
    fn claims_only_metadata_paths() {
        for path in [
            "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
            "usr/lib/python3/dist-packages/foo-1.0.egg-info/PKG-INFO",
            "usr/lib/python3/dist-packages/foo-1.0.egg-info",
            "usr/lib/python3/site-packages/foo-1.0-py3.8.egg/EGG-INFO/PKG-INFO",
            "x.dist-info/METADATA",
        ] {
            assert!(PythonScanner.claims(&entry(path)), "{path}");
        }
        for path in [
            "usr/lib/python3/dist-packages/six-1.16.0.dist-info/RECORD",
            "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA.bak",
            "usr/lib/python3/dist-packages/METADATA",
            "usr/share/doc/METADATA",
            ".dist-info/METADATA",
            "usr/lib/python3/dist-packages/six/PKG-INFO",
            "usr/src/foo-1.0/PKG-INFO",
            "usr/lib/foo/EGG-INFO/PKG-INFO",
            "usr/lib/python3/dist-packages/.egg-info",
            "usr/lib/python3/dist-packages/foo.egg-info.txt",
        ] {
            assert!(!PythonScanner.claims(&entry(path)), "{path}");
        }
    }

    #[test]
    fn egg_directory_package_db_is_its_parent() {
        let path = "usr/lib/python2.7/site-packages/Foo_Bar-1.0-py2.7.egg/EGG-INFO/PKG-INFO";
        let packages = scan(
            path,
            b"Metadata-Version: 1.0\nName: Foo_Bar\nVersion: 1.0\n",
        )
        .unwrap();
        assert_eq!(packages.len(), 1);
        assert_eq!(packages[0].name, "foo-bar");
        assert_eq!(
            packages[0].package_db,
            "python:usr/lib/python2.7/site-packages"
        );
    }

    #[test]
    fn folded_and_padded_headers() {
        let path = "s/x-1.dist-info/METADATA";
        let packages = scan(
            path,
            b"Metadata-Version: 2.1\r\nName:   Foo.._-Bar  \r\nVersion:\r\n 1.0.post1\r\n\r\nbody\n",
        )
        .unwrap();
        assert_eq!(packages[0].name, "foo-bar");
        assert_eq!(packages[0].version, "1.0.post1");
    }

    #[test]
    fn broken_inputs_are_clear_errors() {
        let path = "s/x-1.dist-info/METADATA";
        let cases: &[(&[u8], &str)] = &[
            (b"", "no Name header"),
            (b"Metadata-Version: 2.1\nVersion: 1.0\n", "no Name header"),
            (b"Metadata-Version: 2.1\nName: foo\n", "no Version header"),
            (b"Name: \nVersion: 1.0\n", "empty Name header"),
            (b"Name: foo\nVersion:   \n", "empty Version header"),
            (b"\x00\xff\xfe garbage \x01\x02", "no Name header"),
            // Truncated inside the header block.
            (b"Metadata-Version: 2.1\nNa", "no Name header"),
        ];
        for (contents, reason) in cases {
            let err = scan(path, contents).unwrap_err();
            assert_eq!(err.scanner, "python");
            assert_eq!(err.path, path);
            assert!(err.reason.contains(reason), "{err} for {contents:?}");
        }
        let huge = format!("Name: {}\nVersion: 1\n", "a".repeat(1_000_000));
        let err = scan(path, huge.as_bytes()).unwrap_err();
        assert!(
            err.reason.contains("Name header is 1000000 bytes long"),
            "{err}"
        );
    }

    #[test]
    fn name_after_the_body_is_not_a_header() {
        let err = scan(
            "s/x-1.dist-info/METADATA",
            b"Metadata-Version: 2.1\nVersion: 1\n\nName: inside-the-description\n",
        )
        .unwrap_err();
        assert!(err.reason.contains("no Name header"), "{err}");
    }

    #[test]
    fn normalize_name_regressions() {
        assert_eq!(normalize_name("Django"), "django");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
        assert_eq!(normalize_name("a-_.-b"), "a-b");
        assert_eq!(normalize_name("__init__"), "-init-");
        assert_eq!(normalize_name("ΟΔΟΣ"), "οδος");
        assert_eq!(normalize_name("ΣΑ"), "σα");
        // Found by the property test: lowercasing after collapsing separators turned this sigma into `σ`,
        // while `packaging` lowercases first and the `.` before it is case-ignorable, making it final.
        assert_eq!(normalize_name("cdy.Σ5.LgXil"), "cdy-ς5-lgxil");
    }

    /// Where the reference interpreter lives: `LUCID_REF_PYTHON`, else `<repo>/.venv-ref/bin/python`.
    fn reference_python() -> PathBuf {
        std::env::var_os("LUCID_REF_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv-ref/bin/python")
            })
    }

    /// Runs `packaging.utils.canonicalize_name` on every name in one subprocess, one name per line.
    fn reference_normalize(names: &[String]) -> Vec<String> {
        let python = reference_python();
        let script = "import sys\nfrom packaging.utils import canonicalize_name\n\
                      for line in sys.stdin.read().split('\\n')[:-1]:\n    print(canonicalize_name(line))\n";
        let mut child = Command::new(&python)
            .args(["-c", script])
            .env("PYTHONIOENCODING", "utf-8")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "reference Python {} not runnable ({e}); install it with \
                     `python3 -m venv .venv-ref && .venv-ref/bin/pip install packaging` at the repo root, \
                     or set LUCID_REF_PYTHON",
                    python.display()
                )
            });
        let mut input = String::new();
        for name in names {
            input.push_str(name);
            input.push('\n');
        }
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "reference Python failed (is `packaging` installed? `.venv-ref/bin/pip install packaging`)"
        );
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn name_strategy() -> impl Strategy<Value = String> {
        // Separators, ASCII letters and digits, plus characters whose lowercasing is context-dependent
        // or multi-char (Greek sigma, dotted capital I, German sharp s, Kelvin sign).
        proptest::collection::vec(
            prop_oneof![
                4 => prop::sample::select(vec!['-', '_', '.']),
                6 => prop::char::range('A', 'Z'),
                6 => prop::char::range('a', 'z'),
                2 => prop::char::range('0', '9'),
                1 => prop::sample::select(vec!['Σ', 'σ', 'İ', 'ß', 'ẞ', 'K', 'Ω', 'É', ' ']),
            ],
            0..24,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    #[test]
    fn normalize_name_matches_packaging_canonicalize_name() {
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases: 1,
            ..ProptestConfig::default()
        });
        let names: Vec<String> = (0..5000)
            .map(|_| name_strategy().new_tree(&mut runner).unwrap().current())
            .collect();
        let expected = reference_normalize(&names);
        assert_eq!(expected.len(), names.len(), "reference output line count");
        for (name, want) in names.iter().zip(&expected) {
            assert_eq!(&normalize_name(name), want, "normalize_name({name:?})");
        }
    }
}
