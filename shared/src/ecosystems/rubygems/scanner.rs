//! Finds installed Ruby gems from the specification files RubyGems writes at install time, as Clair's `ruby`
//! scanner does.
//!
//! Every installed gem has `<gem home>/specifications/<name>-<version>.gemspec` (default gems shipped with
//! Ruby: `specifications/default/…`). These are generated Ruby code (`Gem::Specification#to_ruby`), so the
//! name and version are always simple string assignments (`s.name = "rack".freeze`, `s.version = "3.0.8"`).
//! They are read with regular expressions instead of evaluating Ruby, which a scanner must never do.

use std::sync::LazyLock;

use regex::bytes::Regex;

use crate::model::{Ecosystem, LayerContents, Package};
use crate::scanner::{EntryInfo, PackageScanner, ScanError};

const SCANNER_NAME: &str = "rubygems";

/// Largest gemspec read; generated ones are a few KB (the `files` list is the bulk).
const MAX_GEMSPEC_SIZE: u64 = 4 * 1024 * 1024;

/// Longest name or version accepted.
const MAX_FIELD_LEN: usize = 256;

/// `<receiver>.<field> = <string literal>`, the literal as `"…"`, `'…'` or old RubyGems' `%q{…}`.
fn assignment_regex(field: &str) -> Regex {
    let pattern = format!(
        r#"(?m)^[ \t]*\w+\.{field}[ \t]*=[ \t]*(?:"((?-u:[^"\n])*)"|'((?-u:[^'\n])*)'|%q\{{((?-u:[^}}\n])*)\}})"#
    );
    // A constant pattern, compiled (and so checked) by every test run: this cannot fail on input.
    Regex::new(&pattern).expect("valid gemspec assignment pattern")
}

static NAME_ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| assignment_regex("name"));
static VERSION_ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| assignment_regex("version"));

/// Scanner for `specifications/*.gemspec`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RubyGemsScanner;

/// The directory holding the gemspec if the path is `…/specifications/….gemspec`.
fn specifications_dir(path: &str) -> Option<&str> {
    if !path.ends_with(".gemspec") {
        return None;
    }
    let in_specifications =
        path.starts_with("specifications/") || path.contains("/specifications/");
    if !in_specifications {
        return None;
    }
    let (dir, file_name) = path.rsplit_once('/')?;
    (file_name.len() > ".gemspec".len()).then_some(dir)
}

/// The first string literal assigned by `regex` in `contents`.
fn assigned_string(
    regex: &Regex,
    contents: &[u8],
    path: &str,
    field: &str,
) -> Result<String, ScanError> {
    let error = |reason: String| ScanError::new(SCANNER_NAME, path, reason);
    let captures = regex
        .captures(contents)
        .ok_or_else(|| error(format!("no `s.{field} = \"…\"` assignment")))?;
    let value = captures
        .iter()
        .skip(1)
        .flatten()
        .next()
        .map(|m| m.as_bytes())
        .unwrap_or_default();
    let value = std::str::from_utf8(value)
        .map_err(|_| error(format!("{field} is not UTF-8")))?
        .trim();
    if value.is_empty() {
        return Err(error(format!("empty {field}")));
    }
    if value.len() > MAX_FIELD_LEN {
        return Err(error(format!(
            "{field} is {} bytes long (limit {MAX_FIELD_LEN})",
            value.len()
        )));
    }
    Ok(value.to_owned())
}

impl PackageScanner for RubyGemsScanner {
    fn name(&self) -> &'static str {
        SCANNER_NAME
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn claims(&self, entry: &EntryInfo<'_>) -> bool {
        specifications_dir(entry.path).is_some()
    }

    fn max_file_size(&self) -> u64 {
        MAX_GEMSPEC_SIZE
    }

    fn scan(
        &self,
        entry: &EntryInfo<'_>,
        contents: &[u8],
        out: &mut LayerContents,
    ) -> Result<(), ScanError> {
        let dir = specifications_dir(entry.path).ok_or_else(|| {
            ScanError::new(
                SCANNER_NAME,
                entry.path,
                "not a specifications/*.gemspec path",
            )
        })?;
        let name = assigned_string(&NAME_ASSIGNMENT, contents, entry.path, "name")?;
        let version = assigned_string(&VERSION_ASSIGNMENT, contents, entry.path, "version")?;
        out.packages.push(Package {
            ecosystem: Some(Ecosystem::RubyGems),
            name,
            version,
            package_db: format!("ruby:{dir}"),
            filepath: entry.path.to_owned(),
            ..Package::default()
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn sample(name: &str) -> Vec<u8> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/ecosystems/rubygems/testdata/scanner")
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
        RubyGemsScanner.scan(&entry(path), contents, &mut out)?;
        Ok(out.packages)
    }

    #[test]
    fn real_gemspecs() {
        let cases = [
            (
                "usr/lib/ruby/gems/3.1.0/specifications/rexml-3.2.5.gemspec",
                "rexml-3.2.5.gemspec",
                "rexml",
                "3.2.5",
                "ruby:usr/lib/ruby/gems/3.1.0/specifications",
            ),
            (
                "usr/lib/ruby/gems/3.1.0/specifications/default/net-http-0.2.0.gemspec",
                "net-http-0.2.0.gemspec",
                "net-http",
                "0.2.0",
                "ruby:usr/lib/ruby/gems/3.1.0/specifications/default",
            ),
            (
                "usr/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec",
                "json-2.6.1.gemspec",
                "json",
                "2.6.1",
                "ruby:usr/lib/ruby/gems/3.1.0/specifications/default",
            ),
            (
                "usr/share/rubygems-integration/all/specifications/webrick-1.8.1.gemspec",
                "webrick-1.8.1.gemspec",
                "webrick",
                "1.8.1",
                "ruby:usr/share/rubygems-integration/all/specifications",
            ),
        ];
        for (path, file, name, version, package_db) in cases {
            assert!(RubyGemsScanner.claims(&entry(path)), "{path}");
            assert_eq!(
                scan(path, &sample(file)).unwrap(),
                vec![Package {
                    ecosystem: Some(Ecosystem::RubyGems),
                    name: name.to_owned(),
                    version: version.to_owned(),
                    package_db: package_db.to_owned(),
                    filepath: path.to_owned(),
                    ..Package::default()
                }],
                "{file}"
            );
        }
    }

    #[test]
    fn other_assignment_forms() {
        let path = "var/lib/gems/2.7.0/specifications/rack-1.6.4.gemspec";
        // Old RubyGems wrote `%q{…}` literals; hand-edited ones may use single quotes.
        let packages = scan(
            path,
            b"Gem::Specification.new do |s|\n  s.name = %q{rack}\n  s.version = '1.6.4'\nend\n",
        )
        .unwrap();
        assert_eq!(
            (packages[0].name.as_str(), packages[0].version.as_str()),
            ("rack", "1.6.4")
        );
        // Other fields ending in `version` or `name` are not the gem's.
        let packages = scan(
            path,
            b"  s.required_rubygems_version = \"9\"\n  s.rubygems_version = \"3.3.7\"\n  s.bindir_name = \"x\"\n  spec.name = \"rack\"\n  spec.version = \"2.2.8\"\n",
        )
        .unwrap();
        assert_eq!(
            (packages[0].name.as_str(), packages[0].version.as_str()),
            ("rack", "2.2.8")
        );
    }

    #[test]
    fn claims_only_gemspecs_under_specifications() {
        for path in [
            "usr/local/bundle/specifications/rack-3.0.8.gemspec",
            "specifications/rack-3.0.8.gemspec",
            "usr/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec",
        ] {
            assert!(RubyGemsScanner.claims(&entry(path)), "{path}");
        }
        for path in [
            "app/rack.gemspec",
            "usr/local/bundle/gems/rack-3.0.8/rack.gemspec",
            "usr/local/bundle/specifications/.gemspec",
            "usr/local/bundle/specifications/rack-3.0.8.gemspec.bak",
            "usr/local/bundle/notspecifications/rack.gemspec",
        ] {
            assert!(!RubyGemsScanner.claims(&entry(path)), "{path}");
        }
    }

    #[test]
    fn broken_inputs_are_clear_errors() {
        let path = "specifications/x-1.gemspec";
        let real = sample("rexml-3.2.5.gemspec");
        let truncated = &real[..120]; // cut after `s.name = …`, before `s.version`
        let huge = format!("s.name = \"x\"\ns.version = \"{}\"\n", "1".repeat(100_000));
        let cases: Vec<(&[u8], &str)> = vec![
            (b"", "no `s.name = \"…\"` assignment"),
            (truncated, "no `s.version = \"…\"` assignment"),
            (b"\x00\xff\xfe\x01 garbage", "no `s.name"),
            (
                b"s.name = \"x\"\ns.version = Gem::Version.new(\"1\")\n",
                "no `s.version",
            ),
            (b"s.name = \"\"\ns.version = \"1\"\n", "empty name"),
            (
                b"s.name = \"\xff\xfe\"\ns.version = \"1\"\n",
                "name is not UTF-8",
            ),
            (b"s.name = \"x\ns.version = \"1\"\n", "no `s.name"),
            (huge.as_bytes(), "version is 100000 bytes long"),
        ];
        for (contents, reason) in cases {
            let err = scan(path, contents).unwrap_err();
            assert_eq!((err.scanner, err.path.as_str()), ("rubygems", path));
            assert!(
                err.reason.contains(reason),
                "{err} for {:?}",
                String::from_utf8_lossy(contents)
            );
        }
    }
}
