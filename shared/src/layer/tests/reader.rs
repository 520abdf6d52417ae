//! `read_layer` on generated layers: the three compressions, digests, broken input, paths, links,
//! whiteouts, limits and scanner failures.

use std::io::{self, Read};

use super::fixtures::*;
use crate::layer::reader::{Compression, LayerError, LayerLimits, LayerScan, read_layer};
use crate::model::{Digest, Distribution, Ecosystem, Package};
use crate::scanner::PackageScanner;

fn read(blob: &[u8]) -> Result<LayerScan, LayerError> {
    read_layer(blob, &digest(blob), &scanners(), &LayerLimits::default())
}

fn read_with(blob: &[u8], limits: &LayerLimits) -> Result<LayerScan, LayerError> {
    read_layer(blob, &digest(blob), &scanners(), limits)
}

/// What the fixtures must find in [`debian_layer`], written out.
fn expected_packages() -> Vec<Package> {
    let dpkg = |name: &str, version: &str, arch: &str| Package {
        ecosystem: Some(Ecosystem::Dpkg),
        name: name.into(),
        version: version.into(),
        arch: arch.into(),
        package_db: "var/lib/dpkg/status".into(),
        filepath: "var/lib/dpkg/status".into(),
        ..Default::default()
    };
    vec![
        dpkg("base-files", "12.4+deb12u11", "amd64"),
        dpkg("tzdata", "2025b-0+deb12u2", "all"),
        dpkg("zlib1g", "1:1.2.13.dfsg-1", "amd64"),
        Package {
            ecosystem: Some(Ecosystem::PyPI),
            name: "pip".into(),
            version: "24.2".into(),
            package_db: "python:usr/lib/python3/dist-packages".into(),
            filepath: "usr/lib/python3/dist-packages/pip-24.2.dist-info/METADATA".into(),
            ..Default::default()
        },
    ]
}

fn assert_debian_contents(scan: &LayerScan) {
    // Hits: the three dpkg packages and pip; non-hits: status-old (same bytes, unclaimed path), INSTALLER.
    assert_eq!(scan.contents.packages, expected_packages());
    assert_eq!(
        scan.contents.distributions,
        vec![Distribution {
            did: "debian".into(),
            name: "Debian GNU/Linux".into(),
            version: "12 (bookworm)".into(),
            version_code_name: "bookworm".into(),
            version_id: "12".into(),
            pretty_name: "Debian GNU/Linux 12 (bookworm)".into(),
            ..Default::default()
        }]
    );
    assert!(scan.contents.whiteouts.is_empty());
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
    assert_eq!(scan.entries, 10);
}

#[test]
fn plain_gzip_and_zstd_layers_give_the_same_contents() {
    let tar = debian_layer();
    for (blob, compression) in [
        (tar.clone(), Compression::None),
        (gzip(&tar), Compression::Gzip),
        (zstd(&tar), Compression::Zstd),
    ] {
        assert_eq!(Compression::sniff(&blob), compression);
        let scan = read(&blob).unwrap();
        assert_debian_contents(&scan);
        assert_eq!(scan.blob_bytes, blob.len() as u64);
        assert_eq!(scan.tar_bytes, tar.len() as u64);
    }
}

#[test]
fn multi_member_gzip_is_read_whole() {
    let tar = debian_layer();
    let (first, second) = tar.split_at(1000);
    let mut blob = gzip(first);
    blob.extend(gzip(second));
    let scan = read(&blob).unwrap();
    assert_debian_contents(&scan);
    assert_eq!(scan.tar_bytes, tar.len() as u64);
}

#[test]
fn concatenated_zstd_frames_are_read_whole() {
    let tar = debian_layer();
    let (first, second) = tar.split_at(3000);
    let mut blob = zstd(first);
    blob.extend(zstd(second));
    assert_debian_contents(&read(&blob).unwrap());
}

/// A reader that hands out one byte per call, as a slow network body may.
struct OneByteAtATime<'a>(&'a [u8]);

impl Read for OneByteAtATime<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((b, rest)), Some(slot)) => {
                *slot = *b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn short_reads_do_not_break_sniffing_or_hashing() {
    let blob = zstd(&debian_layer());
    let scan = read_layer(
        OneByteAtATime(&blob),
        &digest(&blob),
        &scanners(),
        &LayerLimits::default(),
    )
    .unwrap();
    assert_debian_contents(&scan);
}

#[test]
fn digest_mismatch_is_reported_with_the_actual_digest() {
    let blob = gzip(&debian_layer());
    let wrong = Digest::sha256_of(b"something else");
    match read_layer(&blob[..], &wrong, &scanners(), &LayerLimits::default()) {
        Err(LayerError::DigestMismatch { expected, actual }) => {
            assert_eq!(expected, wrong);
            assert_eq!(actual, digest(&blob).to_string());
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
}

#[test]
fn sha512_digests_are_verified() {
    use sha2::Digest as _;
    let blob = gzip(&debian_layer());
    let hex = hex::encode(sha2::Sha512::digest(&blob));
    let expected: Digest = format!("sha512:{hex}").parse().unwrap();
    assert_debian_contents(
        &read_layer(&blob[..], &expected, &scanners(), &LayerLimits::default()).unwrap(),
    );
    let wrong: Digest = format!("sha512:{}", "0".repeat(128)).parse().unwrap();
    assert!(matches!(
        read_layer(&blob[..], &wrong, &scanners(), &LayerLimits::default()),
        Err(LayerError::DigestMismatch { .. })
    ));
}

#[test]
fn bytes_after_the_end_of_archive_are_hashed() {
    let mut blob = debian_layer();
    let tar_only = digest(&blob);
    blob.extend_from_slice(b"trailing bytes after the end-of-archive marker");
    // The digest of the whole blob verifies; the digest of the tar part alone does not.
    assert_debian_contents(&read(&blob).unwrap());
    assert!(matches!(
        read_layer(&blob[..], &tar_only, &scanners(), &LayerLimits::default()),
        Err(LayerError::DigestMismatch { .. })
    ));
}

#[test]
fn garbage_after_a_gzip_stream_is_corrupt() {
    let mut blob = gzip(&debian_layer());
    blob.extend_from_slice(b"not another gzip member");
    match read(&blob) {
        Err(LayerError::CorruptCompression {
            compression: Compression::Gzip,
            ..
        }) => {}
        other => panic!("expected CorruptCompression, got {other:?}"),
    }
}

#[test]
fn truncated_gzip_is_reported_as_truncated() {
    let blob = gzip(&debian_layer());
    for cut in [3, 10, blob.len() / 2, blob.len() - 9, blob.len() - 1] {
        match read(&blob[..cut]) {
            Err(LayerError::TruncatedCompression {
                compression: Compression::Gzip,
                blob_bytes,
            }) => {
                assert_eq!(blob_bytes, cut as u64, "cut at {cut}");
            }
            other => panic!("cut at {cut}: expected TruncatedCompression, got {other:?}"),
        }
    }
}

#[test]
fn truncated_zstd_is_reported_as_truncated() {
    let blob = zstd(&debian_layer());
    for cut in [5, 12, blob.len() / 2, blob.len() - 1] {
        match read(&blob[..cut]) {
            Err(LayerError::TruncatedCompression {
                compression: Compression::Zstd,
                blob_bytes,
            }) => {
                assert_eq!(blob_bytes, cut as u64, "cut at {cut}");
            }
            other => panic!("cut at {cut}: expected TruncatedCompression, got {other:?}"),
        }
    }
}

#[test]
fn corrupt_compressed_data_is_reported_as_corrupt() {
    let tar = debian_layer();
    // A wrong CRC-32 in the gzip trailer: the data inflates fine, the check at the end fails.
    let mut gz = gzip(&tar);
    let crc = gz.len() - 8;
    gz[crc] ^= 0xff;
    assert!(
        matches!(
            read(&gz),
            Err(LayerError::CorruptCompression {
                compression: Compression::Gzip,
                ..
            })
        ),
        "{:?}",
        read(&gz)
    );
    // Damage in the middle of the deflate data is caught by inflate, or yields garbage tar headers first.
    let mut gz = gzip(&tar);
    let middle = gz.len() / 2;
    for b in &mut gz[middle..middle + 16] {
        *b ^= 0xa5;
    }
    assert!(
        matches!(
            read(&gz),
            Err(LayerError::CorruptCompression {
                compression: Compression::Gzip,
                ..
            } | LayerError::BadTarHeader { .. })
        ),
        "{:?}",
        read(&gz)
    );
    // A zstd frame with a content checksum whose checksum is wrong.
    let mut encoder = zstd::Encoder::new(Vec::new(), 3).unwrap();
    encoder.include_checksum(true).unwrap();
    std::io::Write::write_all(&mut encoder, &tar).unwrap();
    let mut zs = encoder.finish().unwrap();
    let checksum = zs.len() - 2;
    zs[checksum] ^= 0xff;
    assert!(
        matches!(
            read(&zs),
            Err(LayerError::CorruptCompression {
                compression: Compression::Zstd,
                ..
            })
        ),
        "{:?}",
        read(&zs)
    );
    // A zstd frame header with reserved bits set.
    let mut zs = zstd(&tar);
    zs[4] |= 0x08;
    assert!(
        matches!(
            read(&zs),
            Err(LayerError::CorruptCompression {
                compression: Compression::Zstd,
                ..
            })
        ),
        "{:?}",
        read(&zs)
    );
}

#[test]
fn truncated_plain_tar_is_reported_as_truncated() {
    let tar = debian_layer();
    // Inside the data of etc/os-release (header at 1024, data from 1536).
    assert!(matches!(
        read(&tar[..1600]),
        Err(LayerError::TruncatedEntry { entry: 3, .. })
    ));
    // Inside a header block.
    assert!(matches!(
        read(&tar[..1100]),
        Err(LayerError::TruncatedHeader { entry: 3, .. })
    ));
}

#[test]
fn garbage_is_not_a_tar() {
    let garbage: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    for blob in [
        garbage.clone(),
        gzip(&garbage),
        zstd(&garbage),
        b"{\"not\": \"a tar\"}".to_vec(),
    ] {
        match read(&blob) {
            Err(LayerError::NotTar { .. }) | Err(LayerError::TruncatedHeader { entry: 1, .. }) => {}
            other => panic!("expected NotTar, got {other:?}"),
        }
    }
    assert!(matches!(read(&garbage), Err(LayerError::NotTar { .. })));
    assert!(matches!(read(b""), Err(LayerError::NotTar { .. })));
    // The reason quotes header bytes through the tar crate: printable, short, no NUL (it is stored in
    // PostgreSQL text and shown in terminals).
    let mut hostile = vec![0u8; 512];
    hostile[..100].copy_from_slice(&[0x1bu8, b'[', b'2', b'J', 0xff, 0x07].repeat(17)[..100]);
    hostile[124..136].copy_from_slice(&[0, b'z', b'z', 0x1b, 0xff, b'z', b'z', 7, 0, 1, 2, 3]);
    hostile[148..156].copy_from_slice(&[0xfe; 8]);
    hostile.extend(std::iter::repeat_n(0x41u8, 4096));
    for blob in [garbage.clone(), hostile] {
        let reason = match read(&blob) {
            Err(LayerError::NotTar { reason }) | Err(LayerError::BadTarHeader { reason, .. }) => {
                reason
            }
            other => panic!("expected a tar error, got {other:?}"),
        };
        assert!(
            reason.chars().all(|c| !c.is_control() && c != '\u{fffd}'),
            "{reason:?}"
        );
        assert!(reason.chars().count() <= 201, "{reason:?}");
    }
    assert!(matches!(read(&gzip(b"")), Err(LayerError::NotTar { .. })));
}

#[test]
fn a_bad_header_after_good_entries_is_a_bad_header() {
    let mut tar = Vec::new();
    file(&mut tar, "etc/os-release", OS_RELEASE);
    let mut broken = [0x41u8; 512];
    broken[0] = b'x';
    tar.extend_from_slice(&broken);
    end(&mut tar);
    assert!(
        matches!(read(&tar), Err(LayerError::BadTarHeader { entry: 2, .. })),
        "{:?}",
        read(&tar)
    );
}

#[test]
fn paths_are_normalized_and_dotdot_paths_skipped() {
    let mut tar = Vec::new();
    file(&mut tar, "/etc/os-release", OS_RELEASE);
    file(&mut tar, "./var//lib/./dpkg/status", DPKG_STATUS);
    file(
        &mut tar,
        "../usr/lib/python3/dist-packages/evil-1.dist-info/METADATA",
        b"Name: evil\nVersion: 1\n",
    );
    file(
        &mut tar,
        "usr/../../x.dist-info/METADATA",
        b"Name: evil2\nVersion: 1\n",
    );
    end(&mut tar);
    let scan = read(&gzip(&tar)).unwrap();
    let names: Vec<&str> = scan
        .contents
        .packages
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["base-files", "tzdata", "zlib1g"]);
    assert_eq!(scan.contents.packages[0].filepath, "var/lib/dpkg/status");
    assert_eq!(scan.contents.distributions.len(), 1);
    let skipped: Vec<&str> = scan.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        skipped,
        [
            "../usr/lib/python3/dist-packages/evil-1.dist-info/METADATA",
            "usr/../../x.dist-info/METADATA"
        ]
    );
    assert!(scan.warnings.iter().all(|w| w.reason.contains("..")));
}

#[test]
fn symlinks_are_never_followed_even_in_loops() {
    let mut tar = Vec::new();
    symlink(&mut tar, "a", "b");
    symlink(&mut tar, "b", "a");
    symlink(&mut tar, "var/lib/dpkg/status", "status");
    symlink(&mut tar, "etc/os-release", "../usr/lib/os-release");
    file(&mut tar, "usr/lib/os-release", OS_RELEASE);
    end(&mut tar);
    let scan = read(&tar).unwrap();
    assert!(scan.contents.packages.is_empty());
    assert!(
        scan.contents.distributions.is_empty(),
        "etc/os-release is a symlink: not read"
    );
    assert!(scan.warnings.is_empty());
    assert_eq!(scan.entries, 5);
}

#[test]
fn hard_links_are_reported_not_resolved() {
    let mut tar = Vec::new();
    hardlink(&mut tar, "var/lib/dpkg/status", "var/lib/dpkg/missing");
    hardlink(&mut tar, "unclaimed", "nowhere");
    end(&mut tar);
    let scan = read(&tar).unwrap();
    assert!(scan.contents.packages.is_empty());
    assert_eq!(scan.warnings.len(), 1);
    assert_eq!(scan.warnings[0].path, "var/lib/dpkg/status");
    assert!(scan.warnings[0].reason.contains("hard link"));
}

#[test]
fn a_10_gib_entry_without_data_is_truncated_without_allocating_it() {
    const TEN_GIB: u64 = 10 << 30;
    for name in ["var/lib/dpkg/status", "usr/share/big.bin"] {
        let mut tar = Vec::new();
        raw_entry(
            &mut tar,
            name.as_bytes(),
            tar::EntryType::Regular,
            b"",
            b"only a little data",
            TEN_GIB,
        );
        for blob in [tar.clone(), gzip(&tar)] {
            match read(&blob) {
                Err(LayerError::TruncatedEntry {
                    declared,
                    read,
                    path,
                    ..
                }) => {
                    assert_eq!(declared, TEN_GIB);
                    assert_eq!(path, name);
                    assert!(read < 1024, "{read}");
                }
                other => panic!("expected TruncatedEntry, got {other:?}"),
            }
        }
    }
}

#[test]
fn oversized_claimed_files_are_skipped_with_a_warning() {
    let mut big = PIP_METADATA.to_vec();
    big.resize(100 * 1024, b'#');
    let mut tar = Vec::new();
    file(
        &mut tar,
        "usr/lib/python3/dist-packages/pip-24.2.dist-info/METADATA",
        &big,
    );
    file(&mut tar, "etc/os-release", OS_RELEASE);
    end(&mut tar);
    let scan = read(&tar).unwrap();
    assert!(scan.contents.packages.is_empty());
    assert_eq!(
        scan.contents.distributions.len(),
        1,
        "the rest of the layer is still read"
    );
    assert_eq!(scan.warnings.len(), 1);
    assert_eq!(scan.warnings[0].scanner, "python-fixture");
    assert!(scan.warnings[0].reason.contains("over the 65536-byte cap"));
}

fn zeros_layer(size: usize) -> Vec<u8> {
    let mut tar = Vec::new();
    file(&mut tar, "var/cache/zeros", &vec![0u8; size]);
    end(&mut tar);
    tar
}

#[test]
fn gzip_bomb_hits_the_uncompressed_limit() {
    let blob = gzip(&zeros_layer(16 << 20));
    assert!(blob.len() < 40 << 10, "the bomb compresses ~1000:1");
    let limits = LayerLimits {
        max_uncompressed_bytes: 8 << 20,
        ..LayerLimits::default()
    };
    match read_with(&blob, &limits) {
        Err(LayerError::LimitExceeded { what, limit }) => {
            assert_eq!(what, "uncompressed bytes");
            assert_eq!(limit, 8 << 20);
        }
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
    let limits = LayerLimits {
        ratio_grace_bytes: 1 << 20,
        max_compression_ratio: 100,
        ..LayerLimits::default()
    };
    assert!(matches!(
        read_with(&blob, &limits),
        Err(LayerError::LimitExceeded {
            what: "compression ratio",
            limit: 100
        })
    ));
    // The same layer is fine under the defaults: gzip of zeros stays under 1100:1.
    assert_eq!(read(&blob).unwrap().tar_bytes, (16 << 20) + 512 + 1024);
}

#[test]
fn zstd_bomb_hits_the_default_ratio_limit() {
    // 256 MiB of zeros in a few KiB: far over 1100:1 once past the 64 MiB grace.
    let mut encoder = zstd::Encoder::new(Vec::new(), 3).unwrap();
    let mut header = Vec::new();
    raw_entry(
        &mut header,
        b"zeros",
        tar::EntryType::Regular,
        b"",
        b"",
        256 << 20,
    );
    io::Write::write_all(&mut encoder, &header).unwrap();
    io::copy(&mut io::repeat(0).take(256 << 20), &mut encoder).unwrap();
    let blob = encoder.finish().unwrap();
    assert!(blob.len() < 64 << 10, "{}", blob.len());
    match read(&blob) {
        Err(LayerError::LimitExceeded { what, limit }) => {
            assert_eq!(what, "compression ratio");
            assert_eq!(limit, 1100);
        }
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
}

#[test]
fn entry_count_path_length_header_and_claimed_byte_limits() {
    let tar = debian_layer();
    let limits = LayerLimits {
        max_entries: 4,
        ..LayerLimits::default()
    };
    assert!(matches!(
        read_with(&tar, &limits),
        Err(LayerError::LimitExceeded {
            what: "tar entries",
            limit: 4
        })
    ));

    let limits = LayerLimits {
        max_total_claimed_bytes: 3000,
        ..LayerLimits::default()
    };
    assert!(matches!(
        read_with(&tar, &limits),
        Err(LayerError::LimitExceeded {
            what: "total claimed file bytes",
            limit: 3000
        })
    ));

    let mut long = Vec::new();
    file(&mut long, &format!("{}/os-release", "d".repeat(5000)), b"x");
    end(&mut long);
    assert!(matches!(
        read(&long),
        Err(LayerError::LimitExceeded {
            what: "path length",
            limit: 4096
        })
    ));

    // A 2 MiB GNU long name is refused while it is being read, before the tar crate buffers all of it.
    let mut huge = Vec::new();
    file(&mut huge, &"n".repeat(2 << 20), b"x");
    end(&mut huge);
    assert!(matches!(
        read(&huge),
        Err(LayerError::LimitExceeded {
            what: "tar header bytes per entry",
            limit: 1048576
        })
    ));
}

#[test]
fn whiteouts_and_opaque_directories_are_recorded() {
    let mut tar = Vec::new();
    file(
        &mut tar,
        "usr/lib/python3/dist-packages/.wh.pip-24.2.dist-info",
        b"",
    );
    file(&mut tar, "opt/app/.wh..wh..opq", b"");
    file(&mut tar, ".wh.rootfile", b"");
    file(&mut tar, ".wh..wh.plnk/12345.67", b"");
    file(&mut tar, "var/lib/dpkg/.wh.status", b"");
    file(
        &mut tar,
        "usr/lib/python3/dist-packages/not.wh.a-whiteout",
        b"",
    );
    end(&mut tar);
    let scan = read(&gzip(&tar)).unwrap();
    assert_eq!(
        scan.contents.whiteouts,
        [
            "usr/lib/python3/dist-packages/pip-24.2.dist-info",
            "opt/app/",
            "rootfile",
            "var/lib/dpkg/status",
        ]
    );
    assert!(
        scan.contents.packages.is_empty(),
        "whiteout markers are never offered to scanners"
    );
}

#[test]
fn scanner_errors_fail_the_layer_only_when_the_scanner_says_so() {
    let mut tar = Vec::new();
    file(
        &mut tar,
        "usr/lib/python3/dist-packages/bad-1.dist-info/METADATA",
        b"Summary: no name\n",
    );
    file(
        &mut tar,
        "usr/lib/python3/dist-packages/pip-24.2.dist-info/METADATA",
        PIP_METADATA,
    );
    end(&mut tar);
    let scan = read(&tar).unwrap();
    assert_eq!(scan.contents.packages.len(), 1);
    assert_eq!(scan.warnings.len(), 1);
    assert_eq!(scan.warnings[0].reason, "METADATA without Name or Version");

    let mut tar = Vec::new();
    file(
        &mut tar,
        "var/lib/dpkg/status",
        b"Package: half\nStatus: install ok installed\n",
    );
    end(&mut tar);
    match read(&tar) {
        Err(LayerError::ScannerFailed(e)) => {
            assert_eq!(e.scanner, "dpkg-fixture");
            assert_eq!(e.path, "var/lib/dpkg/status");
        }
        other => panic!("expected ScannerFailed, got {other:?}"),
    }
}

/// A source that fails after some bytes, like a dropped S3 connection.
struct FailsAfter<'a>(&'a [u8]);

impl Read for FailsAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection reset",
            ));
        }
        let n = self.0.len().min(buf.len()).min(100);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn source_read_errors_are_reported_as_read_errors() {
    let blob = gzip(&debian_layer());
    for cut in [0, 2, 500] {
        match read_layer(
            FailsAfter(&blob[..cut]),
            &digest(&blob),
            &scanners(),
            &LayerLimits::default(),
        ) {
            Err(LayerError::Read { blob_bytes, source }) => {
                assert_eq!(blob_bytes, cut as u64);
                assert_eq!(source.kind(), io::ErrorKind::ConnectionReset);
            }
            other => panic!("cut {cut}: expected Read, got {other:?}"),
        }
    }
}

#[test]
fn every_prefix_of_a_layer_fails_cleanly() {
    // No panic and an error for every truncation point of every compression. The exceptions, as in Go's
    // archive/tar (Clair): a plain tar cut exactly between two entries, or after the first zero block of
    // the end-of-archive marker, reads as a complete tar — its digest is what catches that.
    let tar = debian_layer();
    let all: [&dyn PackageScanner; 1] = [&CaptureAll];
    for (blob, plain) in [
        (tar.clone(), true),
        (gzip(&tar), false),
        (zstd(&tar), false),
    ] {
        for cut in (0..blob.len()).step_by(7) {
            let prefix = &blob[..cut];
            let result = read_layer(prefix, &digest(prefix), &all, &LayerLimits::default());
            let may_succeed = plain && cut > 0 && (cut % 512 == 0 || cut >= tar.len() - 512);
            assert!(
                result.is_err() || may_succeed,
                "cut {cut} of {} succeeded",
                blob.len()
            );
        }
    }
}
