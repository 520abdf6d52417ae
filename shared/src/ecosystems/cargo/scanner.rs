//! Finds the crates compiled into Rust executables built with `cargo auditable`.
//!
//! `cargo auditable build` embeds the resolved dependency tree, as zlib-compressed JSON, in a `.dep-v0`
//! section (ELF and PE; `__DATA,.dep-v0` in Mach-O). Alpine, Chimera, NixOS and Wolfi build their Rust
//! packages this way, and `cargo audit bin` / Trivy / Grype read it. The JSON is
//! `{"packages": [{"name", "version", "source", "kind", "dependencies", "root"}]}`, parsed and validated with
//! the format's reference types from `auditable-serde`.
//!
//! Reported: crates from crates.io, git or an alternative registry with `kind` runtime (the default).
//! Skipped: `local` crates (workspace members and path dependencies: their names do not identify a
//! crates.io crate, so matching them against crates.io advisories would give false positives) and `build`
//! dependencies (build scripts and proc-macros run at build time and are not in the binary).

use std::io::Read;

use auditable_serde::{DependencyKind, Source, VersionInfo};
use object::{Object, ObjectSection};

use crate::ecosystems::go::scanner::{claims_executable, is_executable_format};
use crate::model::{Ecosystem, LayerContents, Package};
use crate::scanner::{EntryInfo, PackageScanner, ScanError};

const SCANNER_NAME: &str = "cargo";

/// Largest executable read (the same cap as Go binaries: static Rust binaries are of similar size).
const MAX_BINARY_SIZE: u64 = 128 * 1024 * 1024;

/// Largest decompressed dependency JSON (cargo-auditable's own reader uses 8 MiB); guards against zlib bombs.
const MAX_DECOMPRESSED_SIZE: u64 = 8 * 1024 * 1024;

/// The section cargo-auditable writes (ELF, PE, and the section name inside Mach-O's `__DATA`).
const SECTION_NAME: &str = ".dep-v0";

/// Scanner for Rust executables carrying cargo-auditable data.
#[derive(Debug, Clone, Copy, Default)]
pub struct CargoAuditableScanner;

/// Why the dependency data of a binary could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AuditableDataError {
    #[error("dependency data is not valid zlib: {0}")]
    Decompress(std::io::Error),
    #[error("dependency data decompresses to more than {MAX_DECOMPRESSED_SIZE} bytes")]
    TooLarge,
    #[error("dependency data is not valid cargo-auditable JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Decompresses and parses the content of a `.dep-v0` section.
pub fn parse_auditable_data(compressed: &[u8]) -> Result<VersionInfo, AuditableDataError> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_DECOMPRESSED_SIZE + 1)
        .read_to_end(&mut json)
        .map_err(AuditableDataError::Decompress)?;
    if json.len() as u64 > MAX_DECOMPRESSED_SIZE {
        return Err(AuditableDataError::TooLarge);
    }
    Ok(serde_json::from_slice(&json)?)
}

/// Whether a crate is reported: shipped in the binary and identifying a published crate.
fn is_reported(package: &auditable_serde::Package) -> bool {
    package.kind == DependencyKind::Runtime && !matches!(package.source, Source::Local)
}

impl PackageScanner for CargoAuditableScanner {
    fn name(&self) -> &'static str {
        SCANNER_NAME
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn claims(&self, entry: &EntryInfo<'_>) -> bool {
        claims_executable(entry, MAX_BINARY_SIZE)
    }

    fn max_file_size(&self) -> u64 {
        MAX_BINARY_SIZE
    }

    fn scan(
        &self,
        entry: &EntryInfo<'_>,
        contents: &[u8],
        out: &mut LayerContents,
    ) -> Result<(), ScanError> {
        // Scripts and data files with exec bits are common; they are not errors.
        if !is_executable_format(contents) {
            return Ok(());
        }
        let error = |reason: String| ScanError::new(SCANNER_NAME, entry.path, reason);
        let file = object::File::parse(contents)
            .map_err(|e| error(format!("not a readable executable: {e}")))?;
        // Most executables were not built with cargo-auditable.
        let Some(section) = file.section_by_name(SECTION_NAME) else {
            return Ok(());
        };
        let compressed = section
            .data()
            .map_err(|e| error(format!("unreadable {SECTION_NAME} section: {e}")))?;
        let info = parse_auditable_data(compressed).map_err(|e| error(e.to_string()))?;
        out.packages.extend(
            info.packages
                .into_iter()
                .filter(is_reported)
                .map(|package| Package {
                    ecosystem: Some(Ecosystem::Cargo),
                    name: package.name,
                    version: package.version.to_string(),
                    package_db: format!("cargo:{}", entry.path),
                    filepath: entry.path.to_owned(),
                    ..Package::default()
                }),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::PathBuf;

    use flate2::Compression;
    use flate2::write::ZlibEncoder;
    use object::write;

    use super::*;

    fn sample_json() -> Vec<u8> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/ecosystems/cargo/testdata/scanner/zip-9.8.2.dep-v0.json");
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn zlib(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// A small ELF object with `section` holding `data`, as cargo-auditable's linker section would.
    fn elf_with_section(section: &[u8], data: &[u8]) -> Vec<u8> {
        let mut obj = write::Object::new(
            object::BinaryFormat::Elf,
            object::Architecture::X86_64,
            object::Endianness::Little,
        );
        let text = obj.add_section(Vec::new(), b".text".to_vec(), object::SectionKind::Text);
        obj.append_section_data(text, &[0xc3; 16], 16);
        let id = obj.add_section(
            Vec::new(),
            section.to_vec(),
            object::SectionKind::ReadOnlyData,
        );
        obj.append_section_data(id, data, 1);
        obj.write().unwrap()
    }

    fn scan(path: &str, contents: &[u8]) -> Result<Vec<Package>, ScanError> {
        let mut out = LayerContents::default();
        let entry = EntryInfo {
            path,
            size: contents.len() as u64,
            mode: 0o755,
        };
        CargoAuditableScanner.scan(&entry, contents, &mut out)?;
        Ok(out.packages)
    }

    #[test]
    fn binary_with_dependency_data_from_a_real_lockfile() {
        let elf = elf_with_section(b".dep-v0", &zlib(&sample_json()));
        let packages = scan("usr/local/bin/ziptool", &elf).unwrap();
        assert_eq!(packages.len(), 47);
        let expected = |name: &str, version: &str| Package {
            ecosystem: Some(Ecosystem::Cargo),
            name: name.to_owned(),
            version: version.to_owned(),
            package_db: "cargo:usr/local/bin/ziptool".to_owned(),
            filepath: "usr/local/bin/ziptool".to_owned(),
            ..Package::default()
        };
        for hit in [
            expected("zip", "9.8.2"),
            expected("flate2", "1.1.11"),
            expected("zlib-rs", "0.6.8"),
            expected("syn", "2.0.119"),
            expected("syn", "3.0.10"),
            expected("bitflags", "2.13.2"),
        ] {
            assert!(packages.contains(&hit), "{hit:?}");
        }
        // Crates of this repository that `zip` does not depend on.
        for absent in ["object", "tokio", "lucid-shared", "serde_json"] {
            assert!(!packages.iter().any(|p| p.name == absent), "{absent}");
        }
    }

    #[test]
    fn local_and_build_crates_are_not_reported() {
        let json = br#"{"packages":[
            {"name":"app","version":"0.1.0","source":"local","dependencies":[1,2,3,4],"root":true},
            {"name":"helper","version":"0.1.0","source":"local"},
            {"name":"serde_derive","version":"1.0.200","source":"crates.io","kind":"build"},
            {"name":"regex","version":"1.10.4","source":"crates.io"},
            {"name":"forked","version":"0.3.0","source":"git"}
        ]}"#;
        let packages = scan("app", &elf_with_section(b".dep-v0", &zlib(json))).unwrap();
        let names: Vec<(&str, &str)> = packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(names, vec![("regex", "1.10.4"), ("forked", "0.3.0")]);
    }

    #[test]
    fn binaries_without_dependency_data() {
        assert_eq!(
            scan("bin/sh-script", b"#!/bin/sh\nexit 0\n").unwrap(),
            vec![]
        );
        let plain = elf_with_section(b".rodata", b"hello");
        assert_eq!(scan("bin/plain", &plain).unwrap(), vec![]);
    }

    #[test]
    fn broken_inputs_are_clear_errors() {
        let real = zlib(&sample_json());
        let truncated_json = sample_json();
        let truncated_json = &truncated_json[..truncated_json.len() / 2];
        // A zlib bomb: 9 MiB of spaces compresses to a few KB.
        let bomb = zlib(&vec![b' '; 9 * 1024 * 1024]);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (real[..real.len() / 2].to_vec(), "not valid zlib"),
            (b"garbage, not zlib".to_vec(), "not valid zlib"),
            (zlib(truncated_json), "not valid cargo-auditable JSON: EOF"),
            (zlib(b"[1,2,3]"), "not valid cargo-auditable JSON"),
            (
                zlib(br#"{"packages":[{"name":1,"version":"1.0.0","source":"crates.io"}]}"#),
                "invalid type: integer `1`",
            ),
            (
                zlib(br#"{"packages":[{"name":"a","version":"not-semver","source":"crates.io"}]}"#),
                "not valid cargo-auditable JSON",
            ),
            (
                zlib(br#"{"packages":"zip"}"#),
                "invalid type: string \"zip\", expected a sequence",
            ),
            (bomb, "decompresses to more than 8388608 bytes"),
        ];
        for (section, reason) in cases {
            let err = scan("bin/app", &elf_with_section(b".dep-v0", &section)).unwrap_err();
            assert_eq!((err.scanner, err.path.as_str()), ("cargo", "bin/app"));
            assert!(err.reason.contains(reason), "{err}");
        }
        let elf = elf_with_section(b".dep-v0", &real);
        let err = scan("bin/app", &elf[..90]).unwrap_err();
        assert!(err.reason.contains("not a readable executable"), "{err}");
    }

    #[test]
    fn claims_executables() {
        let claims = |path: &str, size: u64, mode: u32| {
            CargoAuditableScanner.claims(&EntryInfo { path, size, mode })
        };
        assert!(claims("usr/bin/rg", 5_000_000, 0o755));
        assert!(!claims("usr/bin/rg", 5_000_000, 0o644));
        assert!(!claims("usr/bin/huge", MAX_BINARY_SIZE + 1, 0o755));
        assert!(!claims("usr/bin/install.sh", 5_000, 0o755));
    }
}
