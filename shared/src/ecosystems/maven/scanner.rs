//! Finds the Java libraries inside Java archives (`.jar`, `.war`, `.ear`, and Jenkins' `.jpi`/`.hpi`), as
//! Clair's `java` scanner does.
//!
//! Maven writes `META-INF/maven/<groupId>/<artifactId>/pom.properties` into every archive it builds; shaded
//! ("uber") jars keep one per bundled library, so each is a package named `groupId:artifactId`, the name Maven
//! advisories use. Archives built otherwise fall back to `META-INF/MANIFEST.MF` (`Implementation-Title` and
//! `-Version`, else OSGi's `Bundle-SymbolicName` and `Bundle-Version`). Archives nested inside archives
//! (`WEB-INF/lib/*.jar` in a war, Spring Boot's `BOOT-INF/lib/`) are opened too, to a bounded depth and size.

use std::io::{Cursor, Read};

use crate::model::{Ecosystem, LayerContents, Package};
use crate::scanner::{EntryInfo, PackageScanner, ScanError};

const SCANNER_NAME: &str = "maven";

/// Largest top-level archive read. Application wars and Spring Boot jars reach a few hundred MB.
const MAX_ARCHIVE_SIZE: u64 = 512 * 1024 * 1024;

/// Largest nested archive unpacked into memory.
const MAX_NESTED_ARCHIVE_SIZE: u64 = 64 * 1024 * 1024;

/// How many archives deep nested archives are opened (war → jar → jar is depth 2).
const MAX_NESTING_DEPTH: usize = 3;

/// Largest `pom.properties` or `MANIFEST.MF` read; real ones are well under 10 KB.
const MAX_METADATA_SIZE: u64 = 1024 * 1024;

/// Most entries looked at in one archive, nested ones included (a zip bomb of empty entries stops here).
const MAX_ENTRIES: usize = 200_000;

/// Longest name or version accepted.
const MAX_FIELD_LEN: usize = 256;

const ARCHIVE_SUFFIXES: [&str; 5] = [".jar", ".war", ".ear", ".jpi", ".hpi"];

/// Scanner for Java archives.
#[derive(Debug, Clone, Copy, Default)]
pub struct MavenScanner;

fn is_archive_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ARCHIVE_SUFFIXES
        .iter()
        .any(|suffix| lower.ends_with(suffix))
}

/// A name/version pair found in one archive.
#[derive(Debug, Clone, PartialEq, Eq)]
struct JavaPackage {
    name: String,
    version: String,
}

/// Walks one archive and the archives inside it.
struct ArchiveWalker<'a> {
    top_level_path: &'a str,
    entries_seen: usize,
    found: Vec<(String, JavaPackage)>,
}

#[derive(Debug, thiserror::Error)]
enum ArchiveError {
    #[error("not a readable zip archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("reading {entry}: {source}")]
    Read {
        entry: String,
        source: std::io::Error,
    },
    #[error("more than {MAX_ENTRIES} entries (nested archives included)")]
    TooManyEntries,
}

impl ArchiveWalker<'_> {
    /// Collects the packages of the archive at `archive_path` (the top-level path, or `outer!/inner` for
    /// nested ones) and recurses into nested archives.
    fn walk(&mut self, archive_path: &str, bytes: &[u8], depth: usize) -> Result<(), ArchiveError> {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes))?;
        let mut from_pom_properties = Vec::new();
        let mut manifest = None;
        let mut nested = Vec::new();
        for index in 0..archive.len() {
            self.entries_seen += 1;
            if self.entries_seen > MAX_ENTRIES {
                return Err(ArchiveError::TooManyEntries);
            }
            let mut file = archive.by_index(index)?;
            if file.is_dir() {
                continue;
            }
            // Lossy: a non-UTF-8 entry name must not fail the archive; such names are never metadata.
            let name = String::from_utf8_lossy(file.name_raw()).into_owned();
            let is_pom_properties =
                name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties");
            if is_pom_properties || name == "META-INF/MANIFEST.MF" {
                let text = read_bounded(&mut file, &name, MAX_METADATA_SIZE)?;
                let text = String::from_utf8_lossy(&text);
                if is_pom_properties {
                    from_pom_properties.extend(parse_pom_properties(&text));
                } else {
                    manifest = parse_manifest(&text);
                }
            } else if depth < MAX_NESTING_DEPTH
                && is_archive_name(&name)
                && file.size() <= MAX_NESTED_ARCHIVE_SIZE
            {
                nested.push((
                    name.clone(),
                    read_bounded(&mut file, &name, MAX_NESTED_ARCHIVE_SIZE)?,
                ));
            }
        }
        let own = if from_pom_properties.is_empty() {
            manifest.into_iter().collect()
        } else {
            from_pom_properties
        };
        self.found.extend(
            own.into_iter()
                .map(|package| (archive_path.to_owned(), package)),
        );
        for (name, inner_bytes) in nested {
            let inner_path = format!("{archive_path}!/{name}");
            match self.walk(&inner_path, &inner_bytes, depth + 1) {
                Err(ArchiveError::TooManyEntries) => return Err(ArchiveError::TooManyEntries),
                // One unreadable nested jar must not hide the rest of the archive.
                Err(e) => tracing::warn!(
                    layer_path = self.top_level_path,
                    nested = %inner_path,
                    error = %e,
                    "skipping unreadable nested archive"
                ),
                Ok(()) => {}
            }
        }
        Ok(())
    }
}

/// Reads a zip entry, never more than `limit` bytes (the declared size of an entry can lie).
fn read_bounded(reader: &mut impl Read, name: &str, limit: u64) -> Result<Vec<u8>, ArchiveError> {
    let mut bytes = Vec::new();
    reader
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(|source| ArchiveError::Read {
            entry: name.chars().take(200).collect(),
            source,
        })?;
    Ok(bytes)
}

/// Checks a field value found in archive metadata.
fn field_value(value: Option<&str>) -> Option<String> {
    let value = value?.trim();
    (!value.is_empty() && value.len() <= MAX_FIELD_LEN).then(|| value.to_owned())
}

/// Reads `groupId`, `artifactId`, `version` from a `pom.properties` (Java properties format).
///
/// Parsed by hand: Maven writes only plain `key=value` lines and `#` comments here, and the properties
/// crates on crates.io are unmaintained.
fn parse_pom_properties(text: &str) -> Option<JavaPackage> {
    let mut group_id = None;
    let mut artifact_id = None;
    let mut version = None;
    for line in text.lines() {
        let line = line.trim_start();
        if line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let Some((key, value)) = line.split_once(['=', ':']) else {
            continue;
        };
        match key.trim() {
            "groupId" => group_id = field_value(Some(value)),
            "artifactId" => artifact_id = field_value(Some(value)),
            "version" => version = field_value(Some(value)),
            _ => {}
        }
    }
    Some(JavaPackage {
        name: format!("{}:{}", group_id?, artifact_id?),
        version: version?,
    })
}

/// Reads a name and version from the main section of a JAR manifest.
///
/// Parsed by hand: manifests look like RFC 822 headers but continuation lines (starting with one space) are
/// joined *without* the space, so mail-header parsers would corrupt wrapped values.
fn parse_manifest(text: &str) -> Option<JavaPackage> {
    let mut attributes: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            break; // end of the main section; per-entry sections follow
        }
        if let Some(continuation) = line.strip_prefix(' ') {
            if let Some((_, value)) = attributes.last_mut() {
                value.push_str(continuation);
            }
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            attributes.push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let get = |key: &str| {
        attributes
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .and_then(|(_, v)| field_value(Some(v)))
    };
    let implementation = get("Implementation-Title").zip(get("Implementation-Version"));
    // `Bundle-SymbolicName: org.foo.bar;singleton:=true` carries directives after `;`.
    let bundle = get("Bundle-SymbolicName")
        .and_then(|name| field_value(name.split(';').next()))
        .zip(get("Bundle-Version"));
    let (name, version) = implementation.or(bundle)?;
    Some(JavaPackage { name, version })
}

impl PackageScanner for MavenScanner {
    fn name(&self) -> &'static str {
        SCANNER_NAME
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn claims(&self, entry: &EntryInfo<'_>) -> bool {
        is_archive_name(entry.file_name())
    }

    fn max_file_size(&self) -> u64 {
        MAX_ARCHIVE_SIZE
    }

    fn scan(
        &self,
        entry: &EntryInfo<'_>,
        contents: &[u8],
        out: &mut LayerContents,
    ) -> Result<(), ScanError> {
        let mut walker = ArchiveWalker {
            top_level_path: entry.path,
            entries_seen: 0,
            found: Vec::new(),
        };
        walker
            .walk(entry.path, contents, 0)
            .map_err(|e| ScanError::new(SCANNER_NAME, entry.path, e.to_string()))?;
        out.packages.extend(
            walker
                .found
                .into_iter()
                .map(|(archive_path, package)| Package {
                    ecosystem: Some(Ecosystem::Maven),
                    name: package.name,
                    version: package.version,
                    package_db: format!("maven:{archive_path}"),
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

    use zip::write::SimpleFileOptions;

    use super::*;

    fn sample(name: &str) -> Vec<u8> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/ecosystems/maven/testdata/scanner")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn scan(path: &str, contents: &[u8]) -> Result<Vec<Package>, ScanError> {
        let mut out = LayerContents::default();
        let entry = EntryInfo {
            path,
            size: contents.len() as u64,
            mode: 0o644,
        };
        MavenScanner.scan(&entry, contents, &mut out)?;
        Ok(out.packages)
    }

    fn maven(name: &str, version: &str, package_db: &str, filepath: &str) -> Package {
        Package {
            ecosystem: Some(Ecosystem::Maven),
            name: name.to_owned(),
            version: version.to_owned(),
            package_db: format!("maven:{package_db}"),
            filepath: filepath.to_owned(),
            ..Package::default()
        }
    }

    /// A zip with the given (name, contents) entries, deflated.
    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, contents) in entries {
            writer
                .start_file(*name, SimpleFileOptions::default())
                .unwrap();
            writer.write_all(contents).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn real_jar_with_pom_properties() {
        let path = "usr/share/java/slf4j-nop.jar";
        assert_eq!(
            scan(path, &sample("slf4j-nop.jar")).unwrap(),
            vec![maven("org.slf4j:slf4j-nop", "1.7.32", path, path)]
        );
    }

    #[test]
    fn real_jar_with_manifest_only() {
        let path = "opt/lib/atinject-jsr330-api-1.0.jar";
        assert_eq!(
            scan(path, &sample("atinject-jsr330-api-1.0.jar")).unwrap(),
            vec![maven("javax.inject", "1.0.0", path, path)]
        );
    }

    #[test]
    fn real_jar_without_metadata_gives_nothing() {
        assert_eq!(
            scan(
                "opt/lib/aopalliance-1.0.jar",
                &sample("aopalliance-1.0.jar")
            )
            .unwrap(),
            vec![]
        );
    }

    #[test]
    fn nested_archives_in_a_war() {
        let inner_ear_jar = zip_of(&[("WEB-INF/lib/slf4j-nop.jar", &sample("slf4j-nop.jar"))]);
        let war = zip_of(&[
            ("WEB-INF/web.xml", b"<web-app/>"),
            ("WEB-INF/lib/slf4j-nop.jar", &sample("slf4j-nop.jar")),
            (
                "WEB-INF/lib/atinject-jsr330-api-1.0.jar",
                &sample("atinject-jsr330-api-1.0.jar"),
            ),
            (
                "WEB-INF/lib/aopalliance-1.0.jar",
                &sample("aopalliance-1.0.jar"),
            ),
            ("WEB-INF/lib/broken.jar", b"not a zip"),
            ("lib/inner.war", &inner_ear_jar),
            (
                "META-INF/maven/com.example/shop/pom.properties",
                b"#Generated by Maven\ngroupId=com.example\nartifactId=shop\nversion=2.0.1\n",
            ),
        ]);
        let path = "srv/shop.war";
        let mut packages = scan(path, &war).unwrap();
        packages.sort();
        let mut expected = vec![
            maven("com.example:shop", "2.0.1", path, path),
            maven(
                "org.slf4j:slf4j-nop",
                "1.7.32",
                "srv/shop.war!/WEB-INF/lib/slf4j-nop.jar",
                path,
            ),
            maven(
                "javax.inject",
                "1.0.0",
                "srv/shop.war!/WEB-INF/lib/atinject-jsr330-api-1.0.jar",
                path,
            ),
            maven(
                "org.slf4j:slf4j-nop",
                "1.7.32",
                "srv/shop.war!/lib/inner.war!/WEB-INF/lib/slf4j-nop.jar",
                path,
            ),
        ];
        expected.sort();
        assert_eq!(packages, expected);
    }

    #[test]
    fn nesting_depth_is_bounded() {
        let mut archive = sample("slf4j-nop.jar");
        for level in 0..=MAX_NESTING_DEPTH {
            archive = zip_of(&[(&format!("level{level}.jar"), &archive)]);
        }
        // The real jar sits MAX_NESTING_DEPTH + 1 archives deep: never opened.
        assert_eq!(scan("a.jar", &archive).unwrap(), vec![]);
    }

    #[test]
    fn shaded_jar_reports_every_pom_properties() {
        let jar = zip_of(&[
            (
                "META-INF/maven/com.google.guava/guava/pom.properties",
                b"version=32.1.3-jre\ngroupId=com.google.guava\nartifactId=guava\n",
            ),
            (
                "META-INF/maven/org.example/app/pom.properties",
                b"artifactId = app\ngroupId : org.example\nversion=1.0\n",
            ),
            (
                "META-INF/maven/org.example/partial/pom.properties",
                b"groupId=org.example\n",
            ),
            (
                "META-INF/MANIFEST.MF",
                b"Implementation-Title: ignored\nImplementation-Version: 9\n",
            ),
        ]);
        let mut packages = scan("app.jar", &jar).unwrap();
        packages.sort();
        assert_eq!(
            packages,
            vec![
                maven("com.google.guava:guava", "32.1.3-jre", "app.jar", "app.jar"),
                maven("org.example:app", "1.0", "app.jar", "app.jar"),
            ]
        );
    }

    #[test]
    fn manifest_forms() {
        let wrapped = "Manifest-Version: 1.0\r\nImplementation-Title: commons-very-long-na\r\n me\r\nImplementation-Version: 3.1\r\n\r\nName: x\r\nImplementation-Version: 99\r\n";
        assert_eq!(
            parse_manifest(wrapped),
            Some(JavaPackage {
                name: "commons-very-long-name".to_owned(),
                version: "3.1".to_owned()
            })
        );
        let bundle =
            "Bundle-SymbolicName: org.eclipse.jetty.util;singleton:=true\nBundle-Version: 9.4.51\n";
        assert_eq!(
            parse_manifest(bundle),
            Some(JavaPackage {
                name: "org.eclipse.jetty.util".to_owned(),
                version: "9.4.51".to_owned()
            })
        );
        // Per-entry sections after the blank line do not describe the archive.
        assert_eq!(
            parse_manifest(
                "Manifest-Version: 1.0\n\nImplementation-Title: x\nImplementation-Version: 1\n"
            ),
            None
        );
        assert_eq!(parse_manifest("Implementation-Title: only-a-title\n"), None);
    }

    #[test]
    fn broken_archives_are_clear_errors() {
        let real = sample("slf4j-nop.jar");
        let cases: Vec<(&[u8], &str)> = vec![
            (b"", "not a readable zip archive"),
            (b"PK\x03\x04garbage", "not a readable zip archive"),
            (&real[..real.len() / 2], "not a readable zip archive"),
            (
                b"\x00\x01\x02 random bytes, not even a zip header",
                "not a readable zip archive",
            ),
        ];
        for (contents, reason) in cases {
            let err = scan("x.jar", contents).unwrap_err();
            assert_eq!((err.scanner, err.path.as_str()), ("maven", "x.jar"));
            assert!(err.reason.contains(reason), "{err}");
        }
        // An over-long version is ignored, not stored.
        let jar = zip_of(&[(
            "META-INF/maven/g/a/pom.properties",
            format!("groupId=g\nartifactId=a\nversion={}\n", "1".repeat(10_000)).as_bytes(),
        )]);
        assert_eq!(scan("x.jar", &jar).unwrap(), vec![]);
    }

    #[test]
    fn claims_archive_suffixes_only() {
        let claims = |path: &str| {
            MavenScanner.claims(&EntryInfo {
                path,
                size: 1000,
                mode: 0o644,
            })
        };
        for path in [
            "a/b.jar",
            "b.WAR",
            "c.ear",
            "jenkins/plugins/git.jpi",
            "x.hpi",
        ] {
            assert!(claims(path), "{path}");
        }
        for path in ["a/b.jar.sha1", "b.zip", "jar", "a/jar/file", "x.class"] {
            assert!(!claims(path), "{path}");
        }
    }
}
