//! Scanning an unpacked root filesystem (a directory) with the same scanners a layer gets: the CLI's
//! `lucid index DIR` and scans of a machine's own `/`.
//!
//! The directory is walked without following symlinks and without crossing into other file systems
//! (so `/proc`, `/sys` and mounted volumes are not read); each regular file is offered to the scanners
//! exactly as a tar entry would be, and a claimed file is read once (up to the same caps) for every
//! scanner that claims it.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::LayerLimits;
use crate::model::LayerContents;
use crate::scanner::{EntryInfo, PackageScanner, ScanError};

/// What scanning a directory produced.
#[derive(Debug, Clone, Default)]
pub struct RootfsScan {
    pub contents: LayerContents,
    /// Regular files seen.
    pub files: u64,
    /// Bytes read for scanners.
    pub bytes_read: u64,
    /// Files that could not be read or parsed (the scan goes on).
    pub warnings: Vec<ScanError>,
}

/// Why a directory could not be scanned at all.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Scanner(ScanError),
}

const READER: &str = "rootfs";

/// Walks `root` and runs `scanners` on the files they claim.
pub fn scan_directory(
    root: &Path,
    scanners: &[&dyn PackageScanner],
    limits: &LayerLimits,
) -> Result<RootfsScan, RootfsError> {
    let meta = std::fs::metadata(root).map_err(|source| RootfsError::Io {
        path: root.display().to_string(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(RootfsError::Io {
            path: root.display().to_string(),
            source: std::io::Error::other("not a directory"),
        });
    }
    let mut scan = RootfsScan::default();
    let mut buf = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .same_file_system(true)
        .sort_by_file_name();
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                // Unreadable directories (permissions) are reported, not fatal.
                let path = e
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                scan.warnings
                    .push(ScanError::new(READER, &path, e.to_string()));
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        scan.files += 1;
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let Some(rel) = rel.to_str() else {
            continue;
        };
        let Ok(meta) = entry.metadata() else { continue };
        let info = EntryInfo {
            path: rel,
            size: meta.len(),
            mode: meta.permissions().mode(),
        };
        let claimed: Vec<&dyn PackageScanner> = scanners
            .iter()
            .copied()
            .filter(|s| s.claims(&info))
            .collect();
        if claimed.is_empty() {
            continue;
        }
        let cap = claimed
            .iter()
            .map(|s| s.max_file_size())
            .max()
            .unwrap_or(0)
            .min(limits.max_claimed_file_bytes);
        if info.size > cap {
            scan.warnings.push(ScanError::new(
                READER,
                rel,
                format!("{} bytes exceeds the {cap}-byte cap; skipped", info.size),
            ));
            continue;
        }
        buf.clear();
        let read =
            std::fs::File::open(entry.path()).and_then(|f| f.take(cap).read_to_end(&mut buf));
        if let Err(e) = read {
            scan.warnings
                .push(ScanError::new(READER, rel, e.to_string()));
            continue;
        }
        scan.bytes_read += buf.len() as u64;
        for s in claimed {
            if buf.len() as u64 > s.max_file_size() {
                continue;
            }
            if let Err(e) = s.scan(&info, &buf, &mut scan.contents) {
                if s.error_fails_layer() {
                    return Err(RootfsError::Scanner(e));
                }
                scan.warnings.push(e);
            }
        }
    }
    super::settle_contents(&mut scan.contents);
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecosystems::default_scanners;

    #[test]
    fn finds_os_and_language_packages_in_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let eco = concat!(env!("CARGO_MANIFEST_DIR"), "/src/ecosystems");
        let put = |rel: &str, from: &str| {
            let dest = root.join(rel);
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(format!("{eco}/{from}"), dest).unwrap();
        };
        put(
            "etc/os-release",
            "distribution/testdata/debian-12.os-release",
        );
        put(
            "etc/debian_version",
            "distribution/testdata/debian-12.debian_version",
        );
        put(
            "var/lib/dpkg/status",
            "dpkg/testdata/bookworm-minbase-status",
        );
        put(
            "usr/lib/python3/dist-packages/PyYAML-6.0.4.dist-info/METADATA",
            "python/testdata/scanner/pyyaml-6.0.4.dist-info.METADATA",
        );
        std::os::unix::fs::symlink("/etc", root.join("loop")).unwrap();
        let scanners = default_scanners();
        let refs: Vec<&dyn PackageScanner> = scanners.iter().map(|s| s.as_ref()).collect();
        let scan = scan_directory(root, &refs, &LayerLimits::default()).unwrap();
        assert_eq!(scan.contents.distributions.len(), 1);
        assert_eq!(scan.contents.distributions[0].did, "debian");
        let dpkg = scan
            .contents
            .packages
            .iter()
            .filter(|p| p.package_db == "var/lib/dpkg/status");
        assert_eq!(dpkg.count(), 88);
        assert!(scan.contents.packages.iter().any(|p| p.version == "6.0.4"));
        assert_eq!(scan.files, 4, "the symlink is not followed");
        assert_eq!(
            scan.contents.distributions[0].pretty_name,
            "Debian GNU/Linux 12 (bookworm)"
        );
    }

    #[test]
    fn missing_or_non_directory_roots_are_errors() {
        let scanners = default_scanners();
        let refs: Vec<&dyn PackageScanner> = scanners.iter().map(|s| s.as_ref()).collect();
        assert!(scan_directory(Path::new("/no/such/dir"), &refs, &LayerLimits::default()).is_err());
        let f = tempfile::NamedTempFile::new().unwrap();
        let err = scan_directory(f.path(), &refs, &LayerLimits::default()).unwrap_err();
        assert!(err.to_string().contains("not a directory"));
    }

    #[test]
    fn a_garbage_os_package_database_fails_the_scan() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lib/apk/db")).unwrap();
        std::fs::write(
            dir.path().join("lib/apk/db/installed"),
            b"\x00\xffgarbage without keys\n",
        )
        .unwrap();
        let scanners = default_scanners();
        let refs: Vec<&dyn PackageScanner> = scanners.iter().map(|s| s.as_ref()).collect();
        let err = scan_directory(dir.path(), &refs, &LayerLimits::default()).unwrap_err();
        assert!(matches!(err, RootfsError::Scanner(_)), "{err}");
    }
}
