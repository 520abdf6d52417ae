//! Test fixtures: small scanners for the reader (the real ones are written elsewhere) and tar builders.

use std::io::Write;

use sha2::Digest as _;

use crate::model::{Digest, Distribution, Ecosystem, LayerContents, Package, Repository};
use crate::scanner::{EntryInfo, PackageScanner, ScanError};

pub const DPKG_STATUS: &[u8] = include_bytes!("../testdata/dpkg-status-bookworm");
pub const OS_RELEASE: &[u8] = include_bytes!("../testdata/os-release-bookworm");
pub const PIP_METADATA: &[u8] = include_bytes!("../testdata/pip-24.2-METADATA");

/// Parses `Key: value` lines (RFC 822 style, continuation lines ignored).
fn fields(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines()
        .filter(|l| !l.starts_with([' ', '\t']))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
}

fn utf8<'a>(
    scanner: &'static str,
    entry: &EntryInfo<'_>,
    bytes: &'a [u8],
) -> Result<&'a str, ScanError> {
    std::str::from_utf8(bytes).map_err(|_| ScanError::new(scanner, entry.path, "not UTF-8"))
}

/// A dpkg `status` reader: one package per stanza with `Status: … installed`. Its errors fail the layer,
/// as an OS database's must.
pub struct DpkgFixture;

impl PackageScanner for DpkgFixture {
    fn name(&self) -> &'static str {
        "dpkg-fixture"
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn claims(&self, entry: &EntryInfo<'_>) -> bool {
        entry.path == "var/lib/dpkg/status"
    }
    fn scan(
        &self,
        entry: &EntryInfo<'_>,
        contents: &[u8],
        out: &mut LayerContents,
    ) -> Result<(), ScanError> {
        let text = utf8(self.name(), entry, contents)?;
        for stanza in text.split("\n\n").filter(|s| !s.trim().is_empty()) {
            let mut package = Package {
                ecosystem: Some(Ecosystem::Dpkg),
                package_db: entry.path.to_owned(),
                filepath: entry.path.to_owned(),
                ..Default::default()
            };
            let mut installed = false;
            for (key, value) in fields(stanza) {
                match key {
                    "Package" => package.name = value.to_owned(),
                    "Version" => package.version = value.to_owned(),
                    "Architecture" => package.arch = value.to_owned(),
                    "Status" => installed = value.ends_with(" installed"),
                    _ => {}
                }
            }
            if package.name.is_empty() || package.version.is_empty() {
                return Err(ScanError::new(
                    self.name(),
                    entry.path,
                    "stanza without Package or Version",
                ));
            }
            if installed {
                out.packages.push(package);
            }
        }
        Ok(())
    }
    fn error_fails_layer(&self) -> bool {
        true
    }
}

/// An `etc/os-release` reader.
pub struct OsReleaseFixture;

impl PackageScanner for OsReleaseFixture {
    fn name(&self) -> &'static str {
        "os-release-fixture"
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn claims(&self, entry: &EntryInfo<'_>) -> bool {
        entry.path == "etc/os-release"
    }
    fn scan(
        &self,
        entry: &EntryInfo<'_>,
        contents: &[u8],
        out: &mut LayerContents,
    ) -> Result<(), ScanError> {
        let text = utf8(self.name(), entry, contents)?;
        let mut d = Distribution::default();
        for line in text.lines() {
            if let Some((k, v)) = line.split_once('=') {
                let v = v.trim_matches('"').to_owned();
                match k {
                    "ID" => d.did = v,
                    "NAME" => d.name = v,
                    "VERSION" => d.version = v,
                    "VERSION_ID" => d.version_id = v,
                    "VERSION_CODENAME" => d.version_code_name = v,
                    "PRETTY_NAME" => d.pretty_name = v,
                    _ => {}
                }
            }
        }
        out.distributions.push(d);
        Ok(())
    }
}

/// A `*.dist-info/METADATA` reader; its errors are warnings. Reads at most 64 KiB.
pub struct MetadataFixture;

impl PackageScanner for MetadataFixture {
    fn name(&self) -> &'static str {
        "python-fixture"
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn claims(&self, entry: &EntryInfo<'_>) -> bool {
        entry.file_name() == "METADATA" && entry.path.contains(".dist-info/")
    }
    fn max_file_size(&self) -> u64 {
        64 * 1024
    }
    fn scan(
        &self,
        entry: &EntryInfo<'_>,
        contents: &[u8],
        out: &mut LayerContents,
    ) -> Result<(), ScanError> {
        let text = utf8(self.name(), entry, contents)?;
        let mut name = None;
        let mut version = None;
        for (k, v) in fields(text) {
            match k {
                "Name" => name = Some(v),
                "Version" => version = Some(v),
                _ => {}
            }
        }
        let (Some(name), Some(version)) = (name, version) else {
            return Err(ScanError::new(
                self.name(),
                entry.path,
                "METADATA without Name or Version",
            ));
        };
        let site = entry.path.rsplitn(3, '/').nth(2).unwrap_or_default();
        out.packages.push(Package {
            ecosystem: Some(Ecosystem::PyPI),
            name: name.to_lowercase(),
            version: version.to_owned(),
            package_db: format!("python:{site}"),
            filepath: entry.path.to_owned(),
            ..Default::default()
        });
        let pypi = Repository {
            name: "pypi".into(),
            uri: "https://pypi.org/simple".into(),
            ..Default::default()
        };
        if !out.repositories.contains(&pypi) {
            out.repositories.push(pypi);
        }
        Ok(())
    }
}

/// Claims every regular file and records it as a "package" named by its path, versioned by the sha256 of
/// its bytes: the reader's view of the layer, for comparison with Python's `tarfile`.
pub struct CaptureAll;

impl PackageScanner for CaptureAll {
    fn name(&self) -> &'static str {
        "capture-all"
    }
    fn version(&self) -> &'static str {
        "1"
    }
    fn claims(&self, _: &EntryInfo<'_>) -> bool {
        true
    }
    fn scan(
        &self,
        entry: &EntryInfo<'_>,
        contents: &[u8],
        out: &mut LayerContents,
    ) -> Result<(), ScanError> {
        out.packages.push(Package {
            name: entry.path.to_owned(),
            version: hex::encode(sha2::Sha256::digest(contents)),
            ..Default::default()
        });
        Ok(())
    }
}

/// The standard fixture set.
pub fn scanners() -> [&'static dyn PackageScanner; 3] {
    [&DpkgFixture, &OsReleaseFixture, &MetadataFixture]
}

/// Appends one tar entry with raw header bytes: any name (absolute, `..`, long — via a GNU long-name
/// entry), any type, a declared size that may differ from the data written.
pub fn raw_entry(
    out: &mut Vec<u8>,
    name: &[u8],
    kind: tar::EntryType,
    link: &[u8],
    data: &[u8],
    declared: u64,
) {
    if name.len() > 100 {
        let mut long = name.to_vec();
        long.push(0);
        raw_entry(
            out,
            b"././@LongLink",
            tar::EntryType::GNULongName,
            b"",
            &long,
            long.len() as u64,
        );
    }
    let mut header = tar::Header::new_gnu();
    {
        let gnu = header.as_gnu_mut().unwrap();
        let n = name.len().min(100);
        gnu.name[..n].copy_from_slice(&name[..n]);
        let l = link.len().min(100);
        gnu.linkname[..l].copy_from_slice(&link[..l]);
    }
    header.set_entry_type(kind);
    header.set_size(declared);
    header.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    header.set_mtime(0);
    header.set_cksum();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    let padding = (512 - data.len() % 512) % 512;
    out.extend(std::iter::repeat_n(0u8, padding));
}

pub fn file(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    raw_entry(
        out,
        name.as_bytes(),
        tar::EntryType::Regular,
        b"",
        data,
        data.len() as u64,
    );
}

pub fn dir(out: &mut Vec<u8>, name: &str) {
    raw_entry(out, name.as_bytes(), tar::EntryType::Directory, b"", b"", 0);
}

pub fn symlink(out: &mut Vec<u8>, name: &str, target: &str) {
    raw_entry(
        out,
        name.as_bytes(),
        tar::EntryType::Symlink,
        target.as_bytes(),
        b"",
        0,
    );
}

pub fn hardlink(out: &mut Vec<u8>, name: &str, target: &str) {
    raw_entry(
        out,
        name.as_bytes(),
        tar::EntryType::Link,
        target.as_bytes(),
        b"",
        0,
    );
}

/// The end-of-archive marker: two zero blocks.
pub fn end(out: &mut Vec<u8>) {
    out.extend(std::iter::repeat_n(0u8, 1024));
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

pub fn digest(blob: &[u8]) -> Digest {
    Digest::sha256_of(blob)
}

/// A Debian-like base layer: os-release, the dpkg database, pip's metadata, and files nobody claims.
pub fn debian_layer() -> Vec<u8> {
    let mut t = Vec::new();
    dir(&mut t, "./");
    dir(&mut t, "./etc/");
    file(&mut t, "./etc/os-release", OS_RELEASE);
    file(&mut t, "./etc/hostname", b"layer\n");
    dir(&mut t, "./var/lib/dpkg/");
    file(&mut t, "./var/lib/dpkg/status", DPKG_STATUS);
    file(&mut t, "./var/lib/dpkg/status-old", DPKG_STATUS);
    file(
        &mut t,
        "./usr/lib/python3/dist-packages/pip-24.2.dist-info/METADATA",
        PIP_METADATA,
    );
    file(
        &mut t,
        "./usr/lib/python3/dist-packages/pip-24.2.dist-info/INSTALLER",
        b"pip\n",
    );
    symlink(&mut t, "./usr/bin/python3", "python3.11");
    end(&mut t);
    t
}
