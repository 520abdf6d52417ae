//! Finds the PHP packages Composer installed, from `vendor/composer/installed.json`.
//!
//! Composer records every package it installed into a project's `vendor/` dir in that file: Composer 1 as a
//! bare JSON array of package objects, Composer 2 as `{"packages": [...], "dev": …, "dev-package-names": […]}`.
//! Development packages are reported too: they are installed, and images built without `--no-dev` ship them.
//! The version reported is Composer's "pretty" `version` (`v5.4.0`, `3.3.2`), as Packagist and its advisories
//! name releases.

use serde::Deserialize;

use crate::model::{Ecosystem, LayerContents, Package};
use crate::scanner::{EntryInfo, PackageScanner, ScanError};

const SCANNER_NAME: &str = "packagist";

/// Largest `installed.json` read; a large Laravel or Drupal project's is a few MB.
const MAX_INSTALLED_JSON_SIZE: u64 = 32 * 1024 * 1024;

/// Longest name or version accepted.
const MAX_FIELD_LEN: usize = 256;

/// Scanner for Composer's `vendor/composer/installed.json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PackagistScanner;

/// The fields of one installed package that identify it.
#[derive(Debug, Deserialize)]
struct InstalledPackage {
    name: String,
    version: String,
}

/// Composer 2's wrapper object.
#[derive(Debug, Deserialize)]
struct InstalledV2 {
    packages: Vec<InstalledPackage>,
}

fn is_installed_json(path: &str) -> bool {
    path == "vendor/composer/installed.json" || path.ends_with("/vendor/composer/installed.json")
}

/// Reads the package list in either format, with an error that says which shape was expected.
fn parse_installed_json(contents: &[u8]) -> Result<Vec<InstalledPackage>, String> {
    let trimmed = contents
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .and_then(|start| contents.get(start..))
        .unwrap_or_default();
    match trimmed.first() {
        Some(b'[') => serde_json::from_slice::<Vec<InstalledPackage>>(contents)
            .map_err(|e| format!("bad Composer 1 installed.json (array of packages): {e}")),
        Some(b'{') => serde_json::from_slice::<InstalledV2>(contents)
            .map(|installed| installed.packages)
            .map_err(|e| format!("bad Composer 2 installed.json ({{\"packages\": [...]}}): {e}")),
        _ => Err("installed.json is neither a JSON array nor a JSON object".to_owned()),
    }
}

impl PackageScanner for PackagistScanner {
    fn name(&self) -> &'static str {
        SCANNER_NAME
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn claims(&self, entry: &EntryInfo<'_>) -> bool {
        is_installed_json(entry.path)
    }

    fn max_file_size(&self) -> u64 {
        MAX_INSTALLED_JSON_SIZE
    }

    fn scan(
        &self,
        entry: &EntryInfo<'_>,
        contents: &[u8],
        out: &mut LayerContents,
    ) -> Result<(), ScanError> {
        let error = |reason: String| ScanError::new(SCANNER_NAME, entry.path, reason);
        let installed = parse_installed_json(contents).map_err(error)?;
        let mut found = Vec::with_capacity(installed.len());
        for (index, package) in installed.into_iter().enumerate() {
            let name = package.name.trim();
            let version = package.version.trim();
            if name.is_empty() || version.is_empty() {
                return Err(error(format!(
                    "package #{index} has an empty name or version"
                )));
            }
            if name.len() > MAX_FIELD_LEN || version.len() > MAX_FIELD_LEN {
                return Err(error(format!(
                    "package #{index} has a name or version over {MAX_FIELD_LEN} bytes"
                )));
            }
            found.push(Package {
                ecosystem: Some(Ecosystem::Packagist),
                name: name.to_owned(),
                version: version.to_owned(),
                package_db: format!("php:{}", entry.path),
                filepath: entry.path.to_owned(),
                ..Package::default()
            });
        }
        out.packages.extend(found);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn sample(name: &str) -> Vec<u8> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/ecosystems/packagist/testdata/scanner")
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
        PackagistScanner.scan(&entry(path), contents, &mut out)?;
        Ok(out.packages)
    }

    fn php(name: &str, version: &str, path: &str) -> Package {
        Package {
            ecosystem: Some(Ecosystem::Packagist),
            name: name.to_owned(),
            version: version.to_owned(),
            package_db: format!("php:{path}"),
            filepath: path.to_owned(),
            ..Package::default()
        }
    }

    #[test]
    fn composer_2_and_composer_1_files() {
        let path = "var/www/html/vendor/composer/installed.json";
        let expected = vec![
            php("composer/pcre", "3.1.0", path),
            php("composer/semver", "3.3.2", path),
            php("composer/spdx-licenses", "1.5.7", path),
        ];
        assert_eq!(scan(path, &sample("installed-v2.json")).unwrap(), expected);
        assert_eq!(scan(path, &sample("installed-v1.json")).unwrap(), expected);
    }

    #[test]
    fn empty_installs() {
        let path = "vendor/composer/installed.json";
        assert_eq!(scan(path, b"[]").unwrap(), vec![]);
        assert_eq!(
            scan(
                path,
                br#"{"packages": [], "dev": true, "dev-package-names": []}"#
            )
            .unwrap(),
            vec![]
        );
    }

    #[test]
    fn claims_only_installed_json_under_vendor_composer() {
        for path in [
            "vendor/composer/installed.json",
            "var/www/app/vendor/composer/installed.json",
        ] {
            assert!(PackagistScanner.claims(&entry(path)), "{path}");
        }
        for path in [
            "vendor/composer/installed.php",
            "composer.lock",
            "app/composer.json",
            "vendor/acme/composer/installed.json.dist",
            "x/notvendor/composer/installed.json",
            "vendor/installed.json",
        ] {
            assert!(!PackagistScanner.claims(&entry(path)), "{path}");
        }
    }

    #[test]
    fn broken_inputs_are_clear_errors() {
        let path = "vendor/composer/installed.json";
        let real = sample("installed-v2.json");
        let huge = format!(
            r#"[{{"name": "a/b", "version": "{}"}}]"#,
            "1".repeat(10_000)
        );
        let cases: Vec<(&[u8], &str)> = vec![
            (b"", "neither a JSON array nor a JSON object"),
            (
                b"\xff\xfe garbage",
                "neither a JSON array nor a JSON object",
            ),
            (b"\"packages\"", "neither a JSON array nor a JSON object"),
            (&real[..real.len() / 2], "bad Composer 2 installed.json"),
            (
                b"{\"packages\": {\"name\": \"a/b\"}}",
                "invalid type: map, expected a sequence",
            ),
            (b"{\"dev\": true}", "missing field `packages`"),
            (
                b"[{\"name\": \"a/b\", \"version\": 3}]",
                "invalid type: integer `3`, expected a string",
            ),
            (b"[{\"name\": \"a/b\"}]", "missing field `version`"),
            (
                b"[{\"name\": \" \", \"version\": \"1\"}]",
                "package #0 has an empty name",
            ),
            (
                huge.as_bytes(),
                "package #0 has a name or version over 256 bytes",
            ),
        ];
        for (contents, reason) in cases {
            let err = scan(path, contents).unwrap_err();
            assert_eq!((err.scanner, err.path.as_str()), ("packagist", path));
            assert!(err.reason.contains(reason), "{err}");
        }
    }
}
