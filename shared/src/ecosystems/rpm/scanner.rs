//! [`RpmScanner`]: installed rpm packages, from any of the three database formats rpm has used.
//!
//! | file | format | `package_db` |
//! |---|---|---|
//! | `rpmdb.sqlite` | SQLite, table `Packages(hnum, blob)` (rpm ≥ 4.16: RHEL 9, Fedora ≥ 33) | `sqlite:<dir>` |
//! | `Packages.db` | NDB (SUSE) — see [`ndb`](super::ndb) | `ndb:<dir>` |
//! | `Packages` | Berkeley DB hash (RHEL ≤ 8) — see [`bdb`](super::bdb) | `bdb:<dir>` |
//!
//! in `var/lib/rpm/` or `usr/lib/sysimage/rpm/`. Each database yields header blobs, parsed by
//! [`parse_header`](super::header::parse_header) into [`Package`]s as Clair's `rpm` scanner does: version
//! `[epoch:]version-release`, the source package parsed out of `SOURCERPM`, the module stream out of the
//! modularity label, and `gpg-pubkey` pseudo-packages (imported signing keys) skipped.

use rusqlite::{Connection, MAIN_DB, OpenFlags};

use super::header::{RpmHeader, parse_header};
use super::{bdb, ndb};
use crate::model::{Ecosystem, LayerContents, Package, PackageKind, SourcePackage};
use crate::scanner::{DEFAULT_MAX_FILE_SIZE, EntryInfo, PackageScanner, ScanError};

const NAME: &str = "rpm";

/// Directories rpm keeps its database in (the first is the classic one, the second the newer
/// `/usr`-merged location, with `var/lib/rpm` often a symlink to it).
const DATABASE_DIRS: [&str; 2] = ["var/lib/rpm", "usr/lib/sysimage/rpm"];

/// The three database formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DatabaseKind {
    Sqlite,
    Ndb,
    Bdb,
}

impl DatabaseKind {
    fn from_file_name(name: &str) -> Option<DatabaseKind> {
        match name {
            "rpmdb.sqlite" => Some(DatabaseKind::Sqlite),
            "Packages.db" => Some(DatabaseKind::Ndb),
            "Packages" => Some(DatabaseKind::Bdb),
            _ => None,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            DatabaseKind::Sqlite => "sqlite",
            DatabaseKind::Ndb => "ndb",
            DatabaseKind::Bdb => "bdb",
        }
    }
}

/// Reads rpm package databases. Stateless; see the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct RpmScanner;

/// Splits a path into (database dir, kind) when it is an rpm database this scanner reads.
fn classify(path: &str) -> Option<(&str, DatabaseKind)> {
    let (dir, file) = path.rsplit_once('/')?;
    if !DATABASE_DIRS.contains(&dir) {
        return None;
    }
    Some((dir, DatabaseKind::from_file_name(file)?))
}

impl PackageScanner for RpmScanner {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn claims(&self, entry: &EntryInfo<'_>) -> bool {
        classify(entry.path).is_some()
    }

    /// Real databases of large images reach tens of MiB; the default cap (64 MiB) also keeps the SQLite
    /// size conversions below `i32::MAX`.
    fn max_file_size(&self) -> u64 {
        DEFAULT_MAX_FILE_SIZE
    }

    fn scan(
        &self,
        entry: &EntryInfo<'_>,
        contents: &[u8],
        out: &mut LayerContents,
    ) -> Result<(), ScanError> {
        let error = |reason: String| ScanError::new(NAME, entry.path, reason);
        let (dir, kind) =
            classify(entry.path).ok_or_else(|| error("not an rpm database".into()))?;
        let blobs: Vec<Vec<u8>> = match kind {
            DatabaseKind::Sqlite => sqlite_header_blobs(contents).map_err(error)?,
            DatabaseKind::Ndb => ndb::header_blobs(contents)
                .map_err(|e| error(e.to_string()))?
                .into_iter()
                .map(<[u8]>::to_vec)
                .collect(),
            DatabaseKind::Bdb => bdb::header_blobs(contents).map_err(|e| error(e.to_string()))?,
        };
        let package_db = format!("{}:{dir}", kind.prefix());
        for (i, blob) in blobs.iter().enumerate() {
            let header = parse_header(blob).map_err(|e| error(format!("package #{i}: {e}")))?;
            if header.name == "gpg-pubkey" {
                continue;
            }
            out.packages
                .push(to_package(header, &package_db, entry.path));
        }
        Ok(())
    }

    fn error_fails_layer(&self) -> bool {
        true
    }
}

/// Reads every header blob from an rpmdb.sqlite image held in memory.
///
/// The bytes are handed to SQLite's in-memory `deserialize` API (rusqlite's `serialize` feature), so no
/// temporary file is written. rpm leaves its database in WAL mode (header bytes 18–19 = 2), which the
/// in-memory VFS cannot open, so a copy with those bytes set to 1 (rollback journal) is deserialized;
/// a committed image has an empty `-wal` file, so nothing is lost.
pub(crate) fn sqlite_header_blobs(contents: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
    if !contents.starts_with(SQLITE_MAGIC) || contents.len() < 100 {
        return Err("not an SQLite database".into());
    }
    let mut image = contents.to_vec();
    for at in [18, 19] {
        if let Some(byte) = image.get_mut(at)
            && *byte == 2
        {
            *byte = 1;
        }
    }
    let sqlite_error = |e: rusqlite::Error| format!("sqlite: {e}");
    let mut connection = Connection::open_in_memory_with_flags(
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_error)?;
    let size = image.len();
    connection
        .deserialize_read_exact(MAIN_DB, image.as_slice(), size, true)
        .map_err(sqlite_error)?;
    let mut statement = connection
        .prepare("SELECT blob FROM Packages ORDER BY hnum")
        .map_err(sqlite_error)?;
    let rows = statement
        .query_map([], |row| row.get::<_, Vec<u8>>(0))
        .map_err(sqlite_error)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sqlite_error)
}

fn to_package(header: RpmHeader, package_db: &str, filepath: &str) -> Package {
    Package {
        ecosystem: Some(Ecosystem::Rpm),
        version: header.evr(),
        kind: PackageKind::Binary,
        source: parse_source_rpm(&header.source_rpm),
        module: header.module_stream(),
        arch: header.arch,
        name: header.name,
        package_db: package_db.to_owned(),
        filepath: filepath.to_owned(),
        repository_hint: String::new(),
        cpe: String::new(),
    }
}

/// Splits `name-version-release.src.rpm` (or `.nosrc.rpm`) into the source package's name and
/// `version-release`. Names may contain `-`; version and release may not, so the last two `-` split.
pub fn parse_source_rpm(source_rpm: &str) -> Option<SourcePackage> {
    let stem = source_rpm
        .strip_suffix(".src.rpm")
        .or_else(|| source_rpm.strip_suffix(".nosrc.rpm"))?;
    let (rest, release) = stem.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    if name.is_empty() || version.is_empty() || release.is_empty() {
        return None;
    }
    Some(SourcePackage {
        name: name.to_owned(),
        version: format!("{version}-{release}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real rpm 4.18 database (see testdata/SOURCE.md): five packages and an imported key.
    const RPMDB_SQLITE: &[u8] = include_bytes!("testdata/rpmdb.sqlite");

    fn entry(path: &str) -> EntryInfo<'_> {
        EntryInfo {
            path,
            size: 0,
            mode: 0o644,
        }
    }

    fn scan(path: &str, contents: &[u8]) -> Result<Vec<Package>, ScanError> {
        let mut out = LayerContents::default();
        RpmScanner.scan(&entry(path), contents, &mut out)?;
        Ok(out.packages)
    }

    fn source(name: &str, version: &str) -> Option<SourcePackage> {
        Some(SourcePackage {
            name: name.into(),
            version: version.into(),
        })
    }

    /// What rpm itself reports for testdata/rpmdb.sqlite (`rpm -qa --qf …`), in database order.
    fn expected(package_db: &str, filepath: &str) -> Vec<Package> {
        let package =
            |name: &str, version: &str, arch: &str, src: Option<SourcePackage>, module: &str| {
                Package {
                    ecosystem: Some(Ecosystem::Rpm),
                    name: name.into(),
                    version: version.into(),
                    kind: PackageKind::Binary,
                    source: src,
                    module: module.into(),
                    arch: arch.into(),
                    package_db: package_db.into(),
                    filepath: filepath.into(),
                    repository_hint: String::new(),
                    cpe: String::new(),
                }
            };
        vec![
            package(
                "libfoo",
                "2:2.3^git5-4.lucid9",
                "noarch",
                source("libfoo", "2.3^git5-4.lucid9"),
                "",
            ),
            package(
                "libfoo-devel",
                "2:2.3^git5-4.lucid9",
                "noarch",
                source("libfoo", "2.3^git5-4.lucid9"),
                "",
            ),
            package(
                "nodejs-mod",
                "18.19.0-1.module+lucid9.1+123+abcdef",
                "x86_64",
                source("nodejs-mod", "18.19.0-1.module+lucid9.1+123+abcdef"),
                "nodejs:18",
            ),
            package(
                "hello",
                "1.0-1.lucid9",
                "x86_64",
                source("hello", "1.0-1.lucid9"),
                "",
            ),
        ]
    }

    fn real_blobs() -> Vec<Vec<u8>> {
        sqlite_header_blobs(RPMDB_SQLITE).unwrap()
    }

    #[test]
    fn claims_the_six_database_paths_only() {
        for dir in DATABASE_DIRS {
            for file in ["rpmdb.sqlite", "Packages.db", "Packages"] {
                assert!(RpmScanner.claims(&entry(&format!("{dir}/{file}"))));
            }
        }
        for path in [
            "var/lib/rpm/Name",
            "var/lib/rpm/rpmdb.sqlite-wal",
            "opt/var/lib/rpm/Packages",
            "var/lib/rpm",
            "Packages",
            "var/lib/dpkg/status",
        ] {
            assert!(!RpmScanner.claims(&entry(path)), "{path}");
        }
    }

    #[test]
    fn reads_real_sqlite_database() {
        let path = "var/lib/rpm/rpmdb.sqlite";
        assert_eq!(
            scan(path, RPMDB_SQLITE).unwrap(),
            expected("sqlite:var/lib/rpm", path)
        );
        let path = "usr/lib/sysimage/rpm/rpmdb.sqlite";
        assert_eq!(
            scan(path, RPMDB_SQLITE).unwrap(),
            expected("sqlite:usr/lib/sysimage/rpm", path)
        );
    }

    #[test]
    fn real_headers_carry_vendor_and_the_key_is_skipped() {
        let headers: Vec<RpmHeader> = real_blobs()
            .iter()
            .map(|b| parse_header(b).unwrap())
            .collect();
        assert_eq!(headers.len(), 5);
        assert_eq!(headers[0].vendor, "Lucid Test");
        assert_eq!(headers[0].epoch, Some(2));
        assert_eq!(headers[3].epoch, None);
        assert_eq!(
            headers[2].modularity_label,
            "nodejs:18:9030020231120082734:rhel9"
        );
        assert_eq!(headers[4].name, "gpg-pubkey");
        assert_eq!(headers[4].version, "d9052a9f");
        assert_eq!(headers[4].arch, "");
    }

    #[test]
    fn reads_ndb_built_from_real_headers() {
        let file = ndb::write_ndb(&real_blobs());
        let path = "usr/lib/sysimage/rpm/Packages.db";
        assert_eq!(
            scan(path, &file).unwrap(),
            expected("ndb:usr/lib/sysimage/rpm", path)
        );
    }

    #[test]
    fn reads_bdb_built_from_real_headers() {
        for page_size in [512, 4096] {
            let file = bdb::write_bdb(&real_blobs(), page_size);
            let path = "var/lib/rpm/Packages";
            assert_eq!(
                scan(path, &file).unwrap(),
                expected("bdb:var/lib/rpm", path)
            );
        }
    }

    #[test]
    fn broken_databases_are_scan_errors() {
        // Truncated SQLite image.
        let err = scan("var/lib/rpm/rpmdb.sqlite", &RPMDB_SQLITE[..8192]).unwrap_err();
        assert_eq!(err.scanner, "rpm");
        assert!(err.reason.starts_with("sqlite:"), "{err}");
        // Garbage in each format.
        let garbage = vec![0x42u8; 8192];
        for path in [
            "var/lib/rpm/rpmdb.sqlite",
            "var/lib/rpm/Packages.db",
            "var/lib/rpm/Packages",
        ] {
            assert!(scan(path, &garbage).is_err(), "{path}");
            assert!(scan(path, &[]).is_err(), "{path}");
        }
        // A valid container holding a broken header.
        let mut blobs = real_blobs();
        blobs[1].truncate(40);
        let err = scan("var/lib/rpm/Packages.db", &ndb::write_ndb(&blobs)).unwrap_err();
        assert!(
            err.reason.contains("package #1: header blob truncated"),
            "{err}"
        );
        // An SQLite database without the Packages table.
        let empty = {
            let c = Connection::open_in_memory().unwrap();
            c.execute_batch("CREATE TABLE other (x INTEGER)").unwrap();
            c.serialize(MAIN_DB).unwrap().to_vec()
        };
        let err = scan("var/lib/rpm/rpmdb.sqlite", &empty).unwrap_err();
        assert!(err.reason.contains("no such table: Packages"), "{err}");
    }

    #[test]
    fn source_rpm_names() {
        assert_eq!(
            parse_source_rpm("openssl-3.0.7-27.el9.src.rpm"),
            source("openssl", "3.0.7-27.el9")
        );
        assert_eq!(
            parse_source_rpm("python-setuptools-53.0.0-12.el9.src.rpm"),
            source("python-setuptools", "53.0.0-12.el9")
        );
        assert_eq!(
            parse_source_rpm("kernel-5.14.0-1.nosrc.rpm"),
            source("kernel", "5.14.0-1")
        );
        assert_eq!(parse_source_rpm(""), None);
        assert_eq!(parse_source_rpm("openssl.src.rpm"), None);
        assert_eq!(parse_source_rpm("-1-2.src.rpm"), None);
        assert_eq!(parse_source_rpm("openssl-3.0.7-27.el9.x86_64.rpm"), None);
    }
}
