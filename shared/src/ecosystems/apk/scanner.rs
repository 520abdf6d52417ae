//! The apk installed-package database, `lib/apk/db/installed`.
//!
//! The file is a list of records separated by blank lines; every line of a record is `K:value` with a
//! one-character key (`P` name, `V` version, `A` arch, `o` origin, `c` aports commit, `F`/`R`/`Z`… the files
//! the package owns). apk-tools itself refuses a line that is not of that shape, and so does this scanner:
//! a database it cannot read would hide every OS package of the image, so the error fails the layer.
//!
//! The origin is the aports package the binary was built from (`libcrypto3` and `libssl3` come from
//! `openssl`); Alpine's secdb lists fixes by origin, so it becomes the package's source, with the same
//! version (apk has no separate source version).
//!
//! Written by hand because the format is a few lines of splitting and no maintained crate parses it.

use crate::model::{Ecosystem, LayerContents, Package, PackageKind, SourcePackage};
use crate::scanner::{EntryInfo, PackageScanner, ScanError};

/// Where apk keeps its database, relative to the image root.
pub const INSTALLED_DB_PATH: &str = "lib/apk/db/installed";

const SCANNER_NAME: &str = "apk";

/// Finds the packages recorded in `lib/apk/db/installed`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApkScanner;

/// The fields of one database record that Lucid keeps.
#[derive(Default)]
struct Record<'a> {
    first_line: usize,
    name: Option<&'a str>,
    version: Option<&'a str>,
    arch: Option<&'a str>,
    origin: Option<&'a str>,
    commit: Option<&'a str>,
}

impl Record<'_> {
    fn into_package(self, path: &str) -> Result<Package, ScanError> {
        let line = self.first_line;
        let name = self
            .name
            .filter(|n| !n.is_empty())
            .ok_or_else(|| error(path, format!("record at line {line} has no P: (name)")))?;
        let version = self.version.filter(|v| !v.is_empty()).ok_or_else(|| {
            error(
                path,
                format!("record at line {line} ({name}) has no V: (version)"),
            )
        })?;
        Ok(Package {
            ecosystem: Some(Ecosystem::Apk),
            name: name.to_owned(),
            version: version.to_owned(),
            kind: PackageKind::Binary,
            source: self
                .origin
                .filter(|o| !o.is_empty())
                .map(|origin| SourcePackage {
                    name: origin.to_owned(),
                    version: version.to_owned(),
                }),
            module: String::new(),
            arch: self.arch.unwrap_or_default().to_owned(),
            package_db: INSTALLED_DB_PATH.to_owned(),
            filepath: path.to_owned(),
            repository_hint: self.commit.unwrap_or_default().to_owned(),
            cpe: String::new(),
        })
    }
}

fn error(path: &str, reason: impl Into<String>) -> ScanError {
    ScanError::new(SCANNER_NAME, path, reason)
}

/// Reads the value of a kept field, which must be UTF-8 (free-text fields such as `T:` are never decoded,
/// so a description in another encoding does not fail the layer).
fn text<'a>(path: &str, line_number: usize, value: &'a [u8]) -> Result<&'a str, ScanError> {
    std::str::from_utf8(value)
        .map(str::trim)
        .map_err(|_| error(path, format!("line {line_number}: value is not UTF-8")))
}

/// Parses a whole `installed` database into packages, in file order.
pub fn parse_installed_db(path: &str, contents: &[u8]) -> Result<Vec<Package>, ScanError> {
    let mut packages = Vec::new();
    let mut record: Option<Record<'_>> = None;
    for (index, line) in contents.split(|b| *b == b'\n').enumerate() {
        let line_number = index + 1;
        if line.is_empty() {
            if let Some(done) = record.take() {
                packages.push(done.into_package(path)?);
            }
            continue;
        }
        let (key, value) = match line {
            [key, b':', value @ ..] => (*key, value),
            _ => {
                return Err(error(
                    path,
                    format!("line {line_number} is not a `K:value` line"),
                ));
            }
        };
        let current = record.get_or_insert_with(|| Record {
            first_line: line_number,
            ..Record::default()
        });
        match key {
            b'P' => current.name = Some(text(path, line_number, value)?),
            b'V' => current.version = Some(text(path, line_number, value)?),
            b'A' => current.arch = Some(text(path, line_number, value)?),
            b'o' => current.origin = Some(text(path, line_number, value)?),
            b'c' => current.commit = Some(text(path, line_number, value)?),
            _ => {}
        }
    }
    if let Some(done) = record.take() {
        packages.push(done.into_package(path)?);
    }
    Ok(packages)
}

impl PackageScanner for ApkScanner {
    fn name(&self) -> &'static str {
        SCANNER_NAME
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn claims(&self, entry: &EntryInfo<'_>) -> bool {
        entry.path == INSTALLED_DB_PATH
    }

    fn scan(
        &self,
        entry: &EntryInfo<'_>,
        contents: &[u8],
        out: &mut LayerContents,
    ) -> Result<(), ScanError> {
        let packages = parse_installed_db(entry.path, contents)?;
        out.packages.extend(packages);
        Ok(())
    }

    /// Losing the apk database would hide every OS package of the image.
    fn error_fails_layer(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An alpine:3.19.1 x86_64 database in the real format (see testdata/SOURCE.md).
    const ALPINE_3_19: &[u8] = include_bytes!("testdata/installed");

    fn scan(path: &str, contents: &[u8]) -> Result<LayerContents, ScanError> {
        let entry = EntryInfo {
            path,
            size: contents.len() as u64,
            mode: 0o644,
        };
        let mut out = LayerContents::default();
        ApkScanner.scan(&entry, contents, &mut out)?;
        Ok(out)
    }

    #[test]
    fn claims_only_the_installed_db() {
        let claims = |path| {
            ApkScanner.claims(&EntryInfo {
                path,
                size: 1,
                mode: 0o644,
            })
        };
        assert!(claims("lib/apk/db/installed"));
        assert!(!claims("lib/apk/db/installed.old"));
        assert!(!claims("lib/apk/db/triggers"));
        assert!(!claims("usr/lib/apk/db/installed"));
        assert!(!claims("etc/apk/world"));
        assert!(ApkScanner.error_fails_layer());
        assert_eq!(ApkScanner.name(), "apk");
    }

    #[test]
    fn alpine_3_19_base_image() {
        let out = scan(INSTALLED_DB_PATH, ALPINE_3_19).unwrap();
        let summary: Vec<(&str, &str, &str, Option<&str>)> = out
            .packages
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.version.as_str(),
                    p.arch.as_str(),
                    p.source.as_ref().map(|s| s.name.as_str()),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "alpine-baselayout",
                    "3.4.3-r2",
                    "x86_64",
                    Some("alpine-baselayout")
                ),
                (
                    "alpine-baselayout-data",
                    "3.4.3-r2",
                    "x86_64",
                    Some("alpine-baselayout")
                ),
                ("alpine-keys", "2.4-r1", "x86_64", Some("alpine-keys")),
                ("apk-tools", "2.14.0-r5", "x86_64", Some("apk-tools")),
                ("busybox", "1.36.1-r15", "x86_64", Some("busybox")),
                ("busybox-binsh", "1.36.1-r15", "x86_64", Some("busybox")),
                (
                    "ca-certificates-bundle",
                    "20230506-r0",
                    "x86_64",
                    Some("ca-certificates")
                ),
                ("libc-utils", "0.7.2-r5", "x86_64", Some("libc-dev")),
                ("libcrypto3", "3.1.4-r5", "x86_64", Some("openssl")),
                ("libssl3", "3.1.4-r5", "x86_64", Some("openssl")),
                ("musl", "1.2.4_git20230717-r4", "x86_64", Some("musl")),
                ("musl-utils", "1.2.4_git20230717-r4", "x86_64", Some("musl")),
                ("scanelf", "1.3.7-r2", "x86_64", Some("pax-utils")),
                ("ssl_client", "1.36.1-r15", "x86_64", Some("busybox")),
                ("zlib", "1.3.1-r0", "x86_64", Some("zlib")),
            ]
        );
        let libssl = &out.packages[9];
        assert_eq!(libssl.ecosystem, Some(Ecosystem::Apk));
        assert_eq!(libssl.kind, PackageKind::Binary);
        assert_eq!(
            libssl.source,
            Some(SourcePackage {
                name: "openssl".into(),
                version: "3.1.4-r5".into()
            })
        );
        assert_eq!(libssl.package_db, "lib/apk/db/installed");
        assert_eq!(libssl.filepath, "lib/apk/db/installed");
        assert_eq!(libssl.repository_hint.len(), 40, "aports commit from c:");
        // Every version in a real database is a valid apk version.
        assert!(
            out.packages
                .iter()
                .all(|p| crate::ecosystems::apk::version::is_valid(&p.version))
        );
        // Files owned by packages are not packages.
        assert!(
            !out.packages
                .iter()
                .any(|p| p.name == "busybox.so" || p.name.contains('/'))
        );
    }

    #[test]
    fn record_without_origin_or_trailing_blank_line() {
        let db = b"P:custom\nV:1.0-r0\nA:aarch64";
        let out = scan(INSTALLED_DB_PATH, db).unwrap();
        assert_eq!(out.packages.len(), 1);
        assert_eq!(out.packages[0].source, None);
        assert_eq!(out.packages[0].arch, "aarch64");
        // Several blank lines between records, and an empty database.
        let db = b"P:a\nV:1-r0\n\n\n\nP:b\nV:2-r0\n\n";
        assert_eq!(scan(INSTALLED_DB_PATH, db).unwrap().packages.len(), 2);
        assert!(scan(INSTALLED_DB_PATH, b"").unwrap().packages.is_empty());
        // A description in Latin-1 does not matter: only kept fields are decoded.
        let db = b"P:a\nV:1-r0\nT:caf\xe9\n";
        assert_eq!(scan(INSTALLED_DB_PATH, db).unwrap().packages.len(), 1);
    }

    #[test]
    fn broken_databases_are_clear_errors() {
        let cut_inside_record = &ALPINE_3_19[..ALPINE_3_19
            .windows(9)
            .position(|w| w == b"\nV:2.4-r1")
            .unwrap()];
        let cases: [(&[u8], &str); 7] = [
            (cut_inside_record, "(alpine-keys) has no V: (version)"),
            (
                b"\x7fELF\x02\x01\x01\x00garbage",
                "line 1 is not a `K:value` line",
            ),
            (
                b"P:a\nV:1-r0\n\nthis is not apk\n",
                "line 4 is not a `K:value` line",
            ),
            (b"V:1.0-r0\nA:x86_64\n", "record at line 1 has no P: (name)"),
            (b"P:a\nV:\n", "has no V:"),
            (b"P:\xff\xfe\nV:1-r0\n", "line 1: value is not UTF-8"),
            (b"\n\nP\n", "line 3 is not"),
        ];
        for (input, expected) in cases {
            let err = scan(INSTALLED_DB_PATH, input).unwrap_err();
            assert_eq!(err.scanner, "apk");
            assert!(
                err.to_string().contains(expected),
                "{err} should say {expected}"
            );
        }
    }

    #[test]
    fn huge_database_parses() {
        let mut db = Vec::new();
        for i in 0..50_000 {
            db.extend_from_slice(
                format!("P:pkg{i}\nV:1.{i}-r0\nA:x86_64\no:origin{i}\n\n").as_bytes(),
            );
        }
        let out = scan(INSTALLED_DB_PATH, &db).unwrap();
        assert_eq!(out.packages.len(), 50_000);
        assert_eq!(out.packages[49_999].version, "1.49999-r0");
        let long_name = format!("P:{}\nV:1-r0\n", "x".repeat(1_000_000));
        assert_eq!(
            scan(INSTALLED_DB_PATH, long_name.as_bytes())
                .unwrap()
                .packages[0]
                .name
                .len(),
            1_000_000
        );
    }
}
