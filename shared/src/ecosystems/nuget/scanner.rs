//! Finds the NuGet packages a .NET application runs with, from its `<app>.deps.json`.
//!
//! The .NET SDK writes `<app>.deps.json` next to every built application and library; the host reads it at
//! start-up to resolve assemblies. Its `libraries` object is keyed `"<Name>/<Version>"`, each with a `type`:
//! `package` entries are NuGet packages (what advisories name); `project` entries are the app's own projects
//! and `reference`/`runtimepack` entries are framework parts, none of which are NuGet packages.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::{Ecosystem, LayerContents, Package};
use crate::scanner::{EntryInfo, PackageScanner, ScanError};

const SCANNER_NAME: &str = "nuget";

/// Largest deps.json read; big ASP.NET apps have a few hundred KB.
const MAX_DEPS_JSON_SIZE: u64 = 16 * 1024 * 1024;

/// Longest name or version accepted.
const MAX_FIELD_LEN: usize = 256;

/// Scanner for .NET `*.deps.json` files.
#[derive(Debug, Clone, Copy, Default)]
pub struct NuGetScanner;

#[derive(Debug, Deserialize)]
struct DepsJson {
    libraries: BTreeMap<String, Library>,
}

#[derive(Debug, Deserialize)]
struct Library {
    #[serde(rename = "type")]
    kind: String,
}

fn is_deps_json(file_name: &str) -> bool {
    file_name.len() > ".deps.json".len() && file_name.ends_with(".deps.json")
}

impl PackageScanner for NuGetScanner {
    fn name(&self) -> &'static str {
        SCANNER_NAME
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn claims(&self, entry: &EntryInfo<'_>) -> bool {
        is_deps_json(entry.file_name())
    }

    fn max_file_size(&self) -> u64 {
        MAX_DEPS_JSON_SIZE
    }

    fn scan(
        &self,
        entry: &EntryInfo<'_>,
        contents: &[u8],
        out: &mut LayerContents,
    ) -> Result<(), ScanError> {
        let error = |reason: String| ScanError::new(SCANNER_NAME, entry.path, reason);
        let deps: DepsJson =
            serde_json::from_slice(contents).map_err(|e| error(format!("bad deps.json: {e}")))?;
        let mut found = Vec::new();
        for (key, library) in deps.libraries {
            if library.kind != "package" {
                continue;
            }
            let key_for_error = || key.chars().take(120).collect::<String>();
            let (name, version) = key
                .split_once('/')
                .map(|(name, version)| (name.trim(), version.trim()))
                .filter(|(name, version)| !name.is_empty() && !version.is_empty())
                .ok_or_else(|| {
                    error(format!(
                        "library key {:?} is not \"Name/Version\"",
                        key_for_error()
                    ))
                })?;
            if name.len() > MAX_FIELD_LEN || version.len() > MAX_FIELD_LEN {
                return Err(error(format!(
                    "library key {:?} is over {MAX_FIELD_LEN} bytes",
                    key_for_error()
                )));
            }
            found.push(Package {
                ecosystem: Some(Ecosystem::NuGet),
                name: name.to_owned(),
                version: version.to_owned(),
                package_db: format!("dotnet:{}", entry.path),
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
            .join("src/ecosystems/nuget/testdata/scanner")
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
        NuGetScanner.scan(&entry(path), contents, &mut out)?;
        Ok(out.packages)
    }

    #[test]
    fn real_deps_json_reports_packages_not_projects() {
        let path = "usr/lib/python3/site-packages/pythonnet/runtime/Python.Runtime.deps.json";
        let packages = scan(path, &sample("Python.Runtime.deps.json")).unwrap();
        let names: Vec<(&str, &str)> = packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("Microsoft.CSharp", "4.7.0"),
                ("Microsoft.SourceLink.GitHub", "10.0.401"),
                ("System.Buffers", "4.6.1"),
                ("System.IO.Hashing", "10.0.12"),
                ("System.Memory", "4.6.3"),
                ("System.Numerics.Vectors", "4.6.1"),
                // Sorted by key, and `.` sorts before the `/` of `System.Reflection.Emit/4.7.0`.
                ("System.Reflection.Emit.ILGeneration", "4.7.0"),
                ("System.Reflection.Emit", "4.7.0"),
                ("System.Runtime.CompilerServices.Unsafe", "6.1.2"),
            ]
        );
        // The application's own project is not a NuGet package.
        assert!(!packages.iter().any(|p| p.name == "Python.Runtime"));
        for package in &packages {
            assert_eq!(package.ecosystem, Some(Ecosystem::NuGet));
            assert_eq!(package.package_db, format!("dotnet:{path}"));
            assert_eq!(package.filepath, path);
        }
    }

    #[test]
    fn claims_deps_json_only() {
        for path in [
            "app/MyApp.deps.json",
            "MyApp.deps.json",
            "usr/share/dotnet/shared/Microsoft.NETCore.App/8.0.0/Microsoft.NETCore.App.deps.json",
        ] {
            assert!(NuGetScanner.claims(&entry(path)), "{path}");
        }
        for path in [
            "app/.deps.json",
            "app/MyApp.runtimeconfig.json",
            "app/deps.json",
            "app/MyApp.deps.json.bak",
        ] {
            assert!(!NuGetScanner.claims(&entry(path)), "{path}");
        }
    }

    #[test]
    fn broken_inputs_are_clear_errors() {
        let path = "app/MyApp.deps.json";
        let real = sample("Python.Runtime.deps.json");
        let huge = format!(
            r#"{{"libraries": {{"A/{}": {{"type": "package"}}}}}}"#,
            "1".repeat(1000)
        );
        let cases: Vec<(&[u8], &str)> = vec![
            (b"", "bad deps.json: EOF"),
            (&real[..real.len() / 2], "bad deps.json: EOF"),
            (b"\xef\xbb\xbf\xff garbage", "bad deps.json"),
            (b"[]", "invalid length 0, expected struct DepsJson"),
            (b"{\"targets\": {}}", "missing field `libraries`"),
            (
                b"{\"libraries\": []}",
                "invalid type: sequence, expected a map",
            ),
            (
                b"{\"libraries\": {\"A/1\": {\"type\": 7}}}",
                "invalid type: integer `7`, expected a string",
            ),
            (
                b"{\"libraries\": {\"NoVersion\": {\"type\": \"package\"}}}",
                "library key \"NoVersion\" is not",
            ),
            (
                b"{\"libraries\": {\"A/\": {\"type\": \"package\"}}}",
                "library key \"A/\" is not",
            ),
            (huge.as_bytes(), "is over 256 bytes"),
        ];
        for (contents, reason) in cases {
            let err = scan(path, contents).unwrap_err();
            assert_eq!((err.scanner, err.path.as_str()), ("nuget", path));
            assert!(err.reason.contains(reason), "{err}");
        }
        // Non-package entries are not checked for shape.
        assert_eq!(
            scan(path, b"{\"libraries\": {\"odd\": {\"type\": \"project\"}}}").unwrap(),
            vec![]
        );
    }
}
