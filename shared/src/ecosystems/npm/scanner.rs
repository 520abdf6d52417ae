//! Finds installed npm packages from the `package.json` of each package directory under `node_modules`, as
//! claircore's `nodejs` scanner does.
//!
//! npm, yarn and pnpm all install a package as `node_modules/<name>/` or `node_modules/@scope/<name>/`, with
//! the package's own `package.json` at the top. Nested copies (`node_modules/a/node_modules/b/`) are separate
//! installs of possibly different versions, so each is reported with its own path. Other `package.json` files
//! inside a package (test fixtures, sub-path exports like `lib/esm/package.json`) do not describe an installed
//! package and are not claimed.

use serde::Deserialize;

use crate::model::{Ecosystem, LayerContents, Package};
use crate::scanner::{EntryInfo, PackageScanner, ScanError};

const SCANNER_NAME: &str = "npm";

/// Largest `package.json` read. Old npm versions embedded the README in it (a few hundred KB at most).
const MAX_PACKAGE_JSON_SIZE: u64 = 4 * 1024 * 1024;

/// Longest name or version accepted (npm's own limit on names is 214 characters).
const MAX_FIELD_LEN: usize = 256;

/// Scanner for `node_modules/**/package.json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NpmScanner;

/// The fields of `package.json` that identify the package. Everything else is ignored.
#[derive(Debug, Deserialize)]
struct PackageJson {
    name: Option<String>,
    version: Option<String>,
}

/// For `…/node_modules/<name>/package.json` or `…/node_modules/@scope/<name>/package.json`, the path of the
/// `node_modules` directory; `None` for any other path.
fn node_modules_dir(path: &str) -> Option<&str> {
    let package_dir = path.strip_suffix("/package.json")?;
    let (parent, name) = package_dir.rsplit_once('/')?;
    if !is_package_dir_name(name) {
        return None;
    }
    let is_node_modules = |dir: &str| dir == "node_modules" || dir.ends_with("/node_modules");
    if is_node_modules(parent) {
        return Some(parent);
    }
    let (grand_parent, scope) = parent.rsplit_once('/')?;
    let scoped = scope.strip_prefix('@').is_some_and(is_package_dir_name);
    (scoped && is_node_modules(grand_parent)).then_some(grand_parent)
}

/// Package directory names never start with `.` or `@` (those are npm's own dirs like `.bin`, `.cache`,
/// `.pnpm`, or a scope).
fn is_package_dir_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.starts_with('@')
}

impl PackageScanner for NpmScanner {
    fn name(&self) -> &'static str {
        SCANNER_NAME
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn claims(&self, entry: &EntryInfo<'_>) -> bool {
        node_modules_dir(entry.path).is_some()
    }

    fn max_file_size(&self) -> u64 {
        MAX_PACKAGE_JSON_SIZE
    }

    fn scan(
        &self,
        entry: &EntryInfo<'_>,
        contents: &[u8],
        out: &mut LayerContents,
    ) -> Result<(), ScanError> {
        let error = |reason: String| ScanError::new(SCANNER_NAME, entry.path, reason);
        let node_modules = node_modules_dir(entry.path)
            .ok_or_else(|| error("not a node_modules package path".to_owned()))?;
        let package: PackageJson = serde_json::from_slice(contents)
            .map_err(|e| error(format!("bad package.json: {e}")))?;
        let field = |value: Option<String>, key: &str| -> Result<String, ScanError> {
            let value = value.unwrap_or_default();
            let value = value.trim();
            if value.is_empty() {
                return Err(error(format!("no {key}")));
            }
            if value.len() > MAX_FIELD_LEN {
                return Err(error(format!(
                    "{key} is {} bytes long (limit {MAX_FIELD_LEN})",
                    value.len()
                )));
            }
            Ok(value.to_owned())
        };
        let name = field(package.name, "name")?;
        let version = field(package.version, "version")?;
        out.packages.push(Package {
            ecosystem: Some(Ecosystem::Npm),
            name,
            version,
            package_db: format!("nodejs:{node_modules}"),
            filepath: entry.path.to_owned(),
            ..Package::default()
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn testdata_root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/ecosystems/npm/testdata/scanner")
    }

    /// Every file under `dir`, as (path relative to `root` with `/` separators, contents).
    fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, Vec<u8>)>) {
        for dir_entry in std::fs::read_dir(dir).unwrap() {
            let path = dir_entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                files.push((relative, std::fs::read(&path).unwrap()));
            }
        }
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
        NpmScanner.scan(&entry(path), contents, &mut out)?;
        Ok(out.packages)
    }

    fn npm(name: &str, version: &str, node_modules: &str, filepath: &str) -> Package {
        Package {
            ecosystem: Some(Ecosystem::Npm),
            name: name.to_owned(),
            version: version.to_owned(),
            package_db: format!("nodejs:{node_modules}"),
            filepath: filepath.to_owned(),
            ..Package::default()
        }
    }

    /// Scans the real install tree as if it were a layer with the app at `srv/app/`, like the reader would:
    /// claim, then scan each claimed file.
    #[test]
    fn real_install_tree_with_nested_copies() {
        let root = testdata_root();
        let mut files = Vec::new();
        walk(&root, &root, &mut files);
        let mut out = LayerContents::default();
        let mut claimed = Vec::new();
        for (relative, contents) in &files {
            let path = format!("srv/app/{relative}");
            let info = entry(&path);
            if NpmScanner.claims(&info) {
                claimed.push(path.clone());
                NpmScanner.scan(&info, contents, &mut out).unwrap();
            }
        }
        claimed.sort();
        assert_eq!(claimed.len(), 6, "SOURCE.md is not claimed: {claimed:?}");
        out.packages.sort();
        let mut expected = vec![
            npm(
                "@babel/core",
                "7.29.13",
                "srv/app/node_modules",
                "srv/app/node_modules/@babel/core/package.json",
            ),
            npm(
                "@esbuild/linux-x64",
                "0.28.2",
                "srv/app/node_modules",
                "srv/app/node_modules/@esbuild/linux-x64/package.json",
            ),
            npm(
                "debug",
                "2.6.9",
                "srv/app/node_modules/express/node_modules",
                "srv/app/node_modules/express/node_modules/debug/package.json",
            ),
            npm(
                "express",
                "4.22.3",
                "srv/app/node_modules",
                "srv/app/node_modules/express/package.json",
            ),
            npm(
                "lodash",
                "4.18.1",
                "srv/app/node_modules",
                "srv/app/node_modules/lodash/package.json",
            ),
            npm(
                "ms",
                "2.0.0",
                "srv/app/node_modules/send/node_modules/debug/node_modules",
                "srv/app/node_modules/send/node_modules/debug/node_modules/ms/package.json",
            ),
        ];
        expected.sort();
        assert_eq!(out.packages, expected);
    }

    #[test]
    fn claims_only_package_roots_under_node_modules() {
        for (path, node_modules) in [
            ("node_modules/lodash/package.json", "node_modules"),
            (
                "usr/lib/node_modules/npm/package.json",
                "usr/lib/node_modules",
            ),
            ("a/node_modules/@types/node/package.json", "a/node_modules"),
            (
                "a/node_modules/.pnpm/lodash@4.17.21/node_modules/lodash/package.json",
                "a/node_modules/.pnpm/lodash@4.17.21/node_modules",
            ),
            (
                "a/node_modules/x/node_modules/@s/y/package.json",
                "a/node_modules/x/node_modules",
            ),
        ] {
            assert!(NpmScanner.claims(&entry(path)), "{path}");
            assert_eq!(node_modules_dir(path), Some(node_modules), "{path}");
        }
        for path in [
            "package.json",
            "srv/app/package.json",
            "node_modules/package.json",
            "node_modules/lodash/test/fixtures/package.json",
            "node_modules/@babel/core/lib/package.json",
            "node_modules/resolve/test/resolver/baz/package.json",
            "node_modules/.bin/package.json",
            "node_modules/.package-lock.json",
            "node_modules/@/x/package.json",
            "node_modules/@scope/package.json",
            "node_modules/@a/@b/package.json",
            "not_node_modules/x/package.json",
            "node_modules/lodash/package.json.bak",
        ] {
            assert!(!NpmScanner.claims(&entry(path)), "{path}");
        }
    }

    #[test]
    fn broken_inputs_are_clear_errors() {
        let path = "node_modules/x/package.json";
        let cases: &[(&[u8], &str)] = &[
            (b"", "bad package.json: EOF"),
            (b"{\"name\": \"x\", \"vers", "bad package.json: EOF"),
            (b"\xff\xfe\x00garbage", "bad package.json"),
            (
                b"[1, 2]",
                "bad package.json: invalid type: integer `1`, expected a string",
            ),
            (
                b"{\"name\": 5, \"version\": \"1.0.0\"}",
                "invalid type: integer `5`, expected a string",
            ),
            (
                b"{\"name\": \"x\", \"version\": [1]}",
                "invalid type: sequence, expected a string",
            ),
            (b"{\"version\": \"1.0.0\"}", "no name"),
            (b"{\"name\": \"x\"}", "no version"),
            (b"{\"name\": \"x\", \"version\": \"  \"}", "no version"),
            (b"{\"name\": null, \"version\": \"1\"}", "no name"),
        ];
        for (contents, reason) in cases {
            let err = scan(path, contents).unwrap_err();
            assert_eq!((err.scanner, err.path.as_str()), ("npm", path));
            assert!(err.reason.contains(reason), "{err} for {contents:?}");
        }
        let huge = format!(
            "{{\"name\": \"x\", \"version\": \"{}\"}}",
            "9".repeat(100_000)
        );
        let err = scan(path, huge.as_bytes()).unwrap_err();
        assert!(err.reason.contains("version is 100000 bytes long"), "{err}");
        // 100,000 unclosed brackets inside an ignored field: a clear error, no stack overflow.
        let deep = format!("{{\"files\": {}", "[".repeat(100_000));
        let err = scan(path, deep.as_bytes()).unwrap_err();
        assert!(err.reason.contains("EOF while parsing a list"), "{err}");
    }

    #[test]
    fn extra_fields_of_any_type_are_ignored() {
        let packages = scan(
            "node_modules/x/package.json",
            br#"{"name": "x", "version": "1.2.3", "main": 7, "files": {"a": null}, "bin": [true]}"#,
        )
        .unwrap();
        assert_eq!(
            packages,
            vec![npm(
                "x",
                "1.2.3",
                "node_modules",
                "node_modules/x/package.json"
            )]
        );
    }
}
