//! The dpkg package database scanner: `var/lib/dpkg/status` and distroless `var/lib/dpkg/status.d/*`.
//!
//! Both are deb822 files: stanzas of `Field: value` lines separated by blank lines, values continued on lines
//! that start with a space or tab. The stanza parser is written here rather than taken from a crate:
//! `deb822-lossless` builds a lossless rowan syntax tree (a lot of machinery for the four fields we read,
//! on a hot path that runs for every image) and the small deb822 crates split on `\n` only or panic on
//! odd input; what dpkg writes needs only the ~40 lines below, and they give the exact line-numbered errors
//! the layer reader records.

use crate::model::{Ecosystem, LayerContents, Package, PackageKind, SourcePackage};
use crate::scanner::{EntryInfo, PackageScanner, ScanError};

/// Where dpkg keeps its database of installed packages.
pub const STATUS_PATH: &str = "var/lib/dpkg/status";
/// Google distroless images keep one stanza file per package here instead of `status`.
pub const STATUS_DIR: &str = "var/lib/dpkg/status.d/";

const SCANNER_NAME: &str = "dpkg";

/// Why a file is not a usable dpkg status file. Line numbers are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusFileError {
    #[error("contains NUL bytes: not a dpkg status file")]
    Nul,
    #[error("line {line}: not a `Field: value` line")]
    NotAField { line: usize },
    #[error("line {line}: continuation line outside any field")]
    ContinuationOutsideField { line: usize },
    #[error("line {line}: invalid field name {name:?}")]
    InvalidFieldName { line: usize, name: String },
    #[error("stanza at line {line}: no {field} field")]
    MissingField { line: usize, field: &'static str },
    #[error("stanza at line {line}: malformed Source field {value:?}")]
    MalformedSource { line: usize, value: String },
}

/// Finds installed Debian packages.
#[derive(Debug, Clone, Copy, Default)]
pub struct DpkgScanner;

impl PackageScanner for DpkgScanner {
    fn name(&self) -> &'static str {
        SCANNER_NAME
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn claims(&self, entry: &EntryInfo<'_>) -> bool {
        if entry.path == STATUS_PATH {
            return true;
        }
        match entry.path.strip_prefix(STATUS_DIR) {
            // Only files directly in status.d; md5sums files list package contents, not packages.
            Some(file) => !file.is_empty() && !file.contains('/') && !file.ends_with(".md5sums"),
            None => false,
        }
    }

    fn scan(
        &self,
        entry: &EntryInfo<'_>,
        contents: &[u8],
        out: &mut LayerContents,
    ) -> Result<(), ScanError> {
        let packages = parse_status(contents, entry.path)
            .map_err(|e| ScanError::new(SCANNER_NAME, entry.path, e.to_string()))?;
        out.packages.extend(packages);
        Ok(())
    }

    /// Losing the dpkg database hides every OS package of the image: fail the layer instead.
    fn error_fails_layer(&self) -> bool {
        true
    }
}

/// One deb822 stanza: fields in file order, values with continuation lines joined by `\n`.
#[derive(Debug, Default)]
struct Stanza {
    /// 1-based line of the stanza's first field, for error messages.
    line: usize,
    fields: Vec<(String, String)>,
}

impl Stanza {
    /// Field names are case-insensitive in deb822.
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Splits a deb822 document into stanzas. Accepts CRLF line ends; rejects NUL bytes, lines that are neither
/// a field nor a continuation, and continuations before any field.
fn parse_stanzas(text: &str) -> Result<Vec<Stanza>, StatusFileError> {
    let mut stanzas = Vec::new();
    let mut current = Stanza::default();
    for (index, raw_line) in text.split('\n').enumerate() {
        let line_number = index + 1;
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        if line.trim().is_empty() {
            if !current.fields.is_empty() {
                stanzas.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            let Some((_, value)) = current.fields.last_mut() else {
                return Err(StatusFileError::ContinuationOutsideField { line: line_number });
            };
            value.push('\n');
            value.push_str(line.trim());
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(StatusFileError::NotAField { line: line_number });
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(StatusFileError::InvalidFieldName {
                line: line_number,
                name: name.chars().take(40).collect(),
            });
        }
        if current.fields.is_empty() {
            current.line = line_number;
        }
        current
            .fields
            .push((name.to_owned(), value.trim().to_owned()));
    }
    if !current.fields.is_empty() {
        stanzas.push(current);
    }
    Ok(stanzas)
}

/// Whether a `Status:` value (`want flag state`) says the package is installed. dpkg keeps stanzas of removed
/// packages (`deinstall ok config-files`), half-installed ones and `not-installed` ones too; only
/// `… ok installed` are on disk.
fn is_installed(status: &str) -> bool {
    let words: Vec<&str> = status.split_whitespace().collect();
    matches!(words.as_slice(), [_, "ok", "installed"])
}

/// `Source: name` or `Source: name (version)`.
fn parse_source(
    value: &str,
    binary_version: &str,
    line: usize,
) -> Result<SourcePackage, StatusFileError> {
    let value = value.trim();
    match value.split_once(char::is_whitespace) {
        None => Ok(SourcePackage {
            name: value.to_owned(),
            version: binary_version.to_owned(),
        }),
        Some((name, rest)) => {
            let version = rest
                .trim()
                .strip_prefix('(')
                .and_then(|v| v.strip_suffix(')'))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| StatusFileError::MalformedSource {
                    line,
                    value: value.chars().take(80).collect(),
                })?;
            Ok(SourcePackage {
                name: name.to_owned(),
                version: version.to_owned(),
            })
        }
    }
}

/// Parses a dpkg status file (or one distroless `status.d` file) into the installed binary packages.
///
/// `path` is the file's path in the layer; it becomes both `package_db` and `filepath`. Stanzas without a
/// `Status` field are taken as installed (distroless files have none); stanzas whose status is not
/// `… ok installed` are skipped. An installed stanza without `Package`, `Version` or `Architecture` is an
/// error: dpkg never writes one, so the file is not what it claims to be.
pub fn parse_status(contents: &[u8], path: &str) -> Result<Vec<Package>, StatusFileError> {
    if contents.contains(&0) {
        return Err(StatusFileError::Nul);
    }
    // Field values we read are ASCII; descriptions of old packages may be Latin-1, which must not fail the scan.
    let text = String::from_utf8_lossy(contents);
    let mut packages = Vec::new();
    for stanza in parse_stanzas(&text)? {
        if let Some(status) = stanza.get("Status")
            && !is_installed(status)
        {
            continue;
        }
        let field = |name: &'static str| {
            stanza
                .get(name)
                .filter(|v| !v.is_empty())
                .ok_or(StatusFileError::MissingField {
                    line: stanza.line,
                    field: name,
                })
        };
        let name = field("Package")?;
        let version = field("Version")?;
        let arch = field("Architecture")?;
        let source = match stanza.get("Source") {
            Some(value) if !value.is_empty() => parse_source(value, version, stanza.line)?,
            _ => SourcePackage {
                name: name.to_owned(),
                version: version.to_owned(),
            },
        };
        packages.push(Package {
            ecosystem: Some(Ecosystem::Dpkg),
            name: name.to_owned(),
            version: version.to_owned(),
            kind: PackageKind::Binary,
            source: Some(source),
            arch: arch.to_owned(),
            package_db: path.to_owned(),
            filepath: path.to_owned(),
            ..Package::default()
        });
    }
    Ok(packages)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOKWORM_STATUS: &[u8] = include_bytes!("testdata/bookworm-minbase-status");

    fn entry(path: &str) -> EntryInfo<'_> {
        EntryInfo {
            path,
            size: 0,
            mode: 0o644,
        }
    }

    fn scan(path: &str, contents: &[u8]) -> Result<Vec<Package>, ScanError> {
        let mut out = LayerContents::default();
        DpkgScanner.scan(&entry(path), contents, &mut out)?;
        Ok(out.packages)
    }

    fn find<'a>(packages: &'a [Package], name: &str) -> &'a Package {
        packages
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("{name} not found"))
    }

    #[test]
    fn claims_status_and_distroless_files_only() {
        let scanner = DpkgScanner;
        for claimed in [
            "var/lib/dpkg/status",
            "var/lib/dpkg/status.d/libc6",
            "var/lib/dpkg/status.d/base-files",
        ] {
            assert!(scanner.claims(&entry(claimed)), "{claimed}");
        }
        for ignored in [
            "var/lib/dpkg/status-old",
            "var/lib/dpkg/available",
            "var/lib/dpkg/status.d/libc6.md5sums",
            "var/lib/dpkg/status.d/",
            "var/lib/dpkg/status.d/sub/libc6",
            "usr/var/lib/dpkg/status",
            "var/lib/dpkg/info/libc6:amd64.list",
        ] {
            assert!(!scanner.claims(&entry(ignored)), "{ignored}");
        }
        assert!(scanner.error_fails_layer());
    }

    #[test]
    fn real_bookworm_minbase_status() {
        let packages = scan(STATUS_PATH, BOOKWORM_STATUS).unwrap();
        assert_eq!(packages.len(), 88);

        let libc6 = find(&packages, "libc6");
        assert_eq!(libc6.version, "2.36-9+deb12u14");
        assert_eq!(libc6.arch, "amd64");
        assert_eq!(libc6.ecosystem, Some(Ecosystem::Dpkg));
        assert_eq!(libc6.kind, PackageKind::Binary);
        assert_eq!(libc6.package_db, "var/lib/dpkg/status");
        assert_eq!(libc6.filepath, "var/lib/dpkg/status");
        assert_eq!(
            libc6.source,
            Some(SourcePackage {
                name: "glibc".into(),
                version: "2.36-9+deb12u14".into()
            })
        );

        // `Source: name (version)`: a binNMU, whose binary version differs from the source's.
        let libcap2 = find(&packages, "libcap2");
        assert_eq!(libcap2.version, "1:2.66-4+deb12u3+b1");
        let source = libcap2.source.as_ref().unwrap();
        assert_eq!(
            (source.name.as_str(), source.version.as_str()),
            ("libcap2", "1:2.66-4+deb12u3")
        );

        // No Source field: the source is the binary itself.
        let tzdata = find(&packages, "tzdata");
        assert_eq!(tzdata.arch, "all");
        let source = tzdata.source.as_ref().unwrap();
        assert_eq!(
            (source.name.as_str(), source.version.as_str()),
            ("tzdata", tzdata.version.as_str())
        );

        let bash = find(&packages, "bash");
        let source = bash.source.as_ref().unwrap();
        assert_eq!(
            (source.name.as_str(), source.version.as_str()),
            ("bash", "5.2.15-2")
        );
        assert_eq!(bash.version, "5.2.15-2+b13");

        // Not in a minbase system.
        assert!(
            packages
                .iter()
                .all(|p| p.name != "openssl" && p.name != "libssl3")
        );
        let names: std::collections::BTreeSet<_> = packages.iter().map(|p| &p.name).collect();
        assert_eq!(names.len(), 88, "no duplicates");
    }

    #[test]
    fn distroless_status_d() {
        let libc6 = scan(
            "var/lib/dpkg/status.d/libc6",
            include_bytes!("testdata/status.d/libc6"),
        )
        .unwrap();
        assert_eq!(libc6.len(), 1);
        assert_eq!(libc6[0].name, "libc6");
        assert_eq!(libc6[0].version, "2.36-9+deb12u14");
        assert_eq!(libc6[0].package_db, "var/lib/dpkg/status.d/libc6");
        assert_eq!(libc6[0].source.as_ref().unwrap().name, "glibc");

        let base_files = scan(
            "var/lib/dpkg/status.d/base-files",
            include_bytes!("testdata/status.d/base-files"),
        )
        .unwrap();
        assert_eq!(base_files.len(), 1);
        assert_eq!(base_files[0].version, "12.4+deb12u15");

        let libcap2 = scan(
            "var/lib/dpkg/status.d/libcap2",
            include_bytes!("testdata/status.d/libcap2"),
        )
        .unwrap();
        assert_eq!(
            libcap2[0].source.as_ref().unwrap().version,
            "1:2.66-4+deb12u3"
        );
        let tzdata = scan(
            "var/lib/dpkg/status.d/tzdata",
            include_bytes!("testdata/status.d/tzdata"),
        )
        .unwrap();
        assert_eq!(tzdata[0].arch, "all");
    }

    #[test]
    fn only_installed_stanzas() {
        let status = b"Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\nArchitecture: amd64\n\n\
Package: half\nStatus: install reinstreq half-installed\nVersion: 2.0\nArchitecture: amd64\n\n\
Package: never\nStatus: purge ok not-installed\nArchitecture: amd64\n\n\
Package: held\nStatus: hold ok installed\nVersion: 3.0\nArchitecture: arm64\n";
        let packages = scan(STATUS_PATH, status).unwrap();
        let names: Vec<_> = packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["held"]);
    }

    #[test]
    fn crlf_and_continuation_lines() {
        let status = b"Package: foo\r\nStatus: install ok installed\r\nDescription: short\r\n long line\r\n .\r\nVersion: 1:2.0-1\r\nArchitecture: amd64\r\nSource: foo-src (2.0-1)\r\n\r\n\r\nPackage: bar\r\nStatus: install ok installed\r\nVersion: 0.1\r\nArchitecture: all\r\n";
        let packages = scan(STATUS_PATH, status).unwrap();
        assert_eq!(packages.len(), 2);
        assert_eq!(packages[0].version, "1:2.0-1");
        assert_eq!(packages[0].source.as_ref().unwrap().name, "foo-src");
        assert_eq!(packages[0].source.as_ref().unwrap().version, "2.0-1");
        assert_eq!(packages[1].name, "bar");
        assert_eq!(packages[1].arch, "all");
    }

    #[test]
    fn empty_file_has_no_packages() {
        assert!(scan(STATUS_PATH, b"").unwrap().is_empty());
        assert!(scan(STATUS_PATH, b"\n\n  \n").unwrap().is_empty());
    }

    #[test]
    fn broken_input_is_a_clear_error() {
        let cases: [(&[u8], &str); 8] = [
            (b"\x7fELF\x02\x01\x01\x00\x00", "NUL"),
            (b"this is not a status file\n", "line 1: not a `Field: value` line"),
            (b" leading continuation\nPackage: x\n", "line 1: continuation line outside any field"),
            (b"Package: x\nbad field: y\n", "line 2: invalid field name"),
            (b"Status: install ok installed\nVersion: 1\nArchitecture: all\n", "no Package field"),
            (b"Package: x\nStatus: install ok installed\nArchitecture: all\n", "no Version field"),
            (b"Package: x\nStatus: install ok installed\nVersion: 1\n", "no Architecture field"),
            (
                b"Package: x\nStatus: install ok installed\nVersion: 1\nArchitecture: all\nSource: y (1\n",
                "malformed Source field",
            ),
        ];
        for (input, expected) in cases {
            let err = scan(STATUS_PATH, input).unwrap_err();
            assert_eq!(err.scanner, "dpkg");
            assert_eq!(err.path, STATUS_PATH);
            assert!(
                err.reason.contains(expected),
                "{:?}: {}",
                String::from_utf8_lossy(input),
                err.reason
            );
        }
    }

    #[test]
    fn typed_errors_carry_the_line() {
        assert_eq!(
            parse_status(
                b"Package: a\nVersion: 1\nArchitecture: all\n\ngarbage\n",
                STATUS_PATH
            ),
            Err(StatusFileError::NotAField { line: 5 })
        );
        assert_eq!(
            parse_status(b"\n\nPackage: a\nArchitecture: all\n", STATUS_PATH),
            Err(StatusFileError::MissingField {
                line: 3,
                field: "Version"
            })
        );
    }

    #[test]
    fn truncated_and_huge_inputs_do_not_panic() {
        // Every prefix of a real file either parses or fails cleanly.
        let text = &BOOKWORM_STATUS[..4096];
        for end in 0..text.len() {
            let _ = scan(STATUS_PATH, &text[..end]);
        }
        // Cut inside the first stanza, before its Version line: the truncated stanza is reported.
        let err = scan(STATUS_PATH, &BOOKWORM_STATUS[..60]).unwrap_err();
        assert!(err.reason.contains("no Version field"), "{}", err.reason);
        // A 5 MB description value.
        let mut huge = b"Package: big\nStatus: install ok installed\nVersion: 1\nArchitecture: all\nDescription: x\n".to_vec();
        for _ in 0..100_000 {
            huge.extend_from_slice(b" 0123456789012345678901234567890123456789012345678\n");
        }
        let packages = scan(STATUS_PATH, &huge).unwrap();
        assert_eq!(packages.len(), 1);
        // Invalid UTF-8 in a description (old Latin-1 packages) is not an error.
        let latin1 = b"Package: old\nStatus: install ok installed\nVersion: 1\nArchitecture: all\nDescription: caf\xe9\n";
        assert_eq!(scan(STATUS_PATH, latin1).unwrap()[0].name, "old");
    }
}
