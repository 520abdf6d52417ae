//! The hostile layer corpus: layer blobs built by code (nothing large is checked in), each with what the
//! indexer must do with it. `tests/tests/hostile_layers.rs` runs them through the real indexer function.
//!
//! Bombs are built from repeated compressed members/frames (at most 35 MB of blob), so no multi-GB buffer
//! exists on the test side either. Generating the corpus takes 6–19 s in a debug build (by load), nearly all
//! of it gzipping the tar bomb's 2 million headers.

use std::io::Write;

use lucid::model::Digest;

/// What the indexer must do with a case's layer.
#[derive(Debug, Clone)]
pub enum Expect {
    /// The layer fails (its manifest gets `IndexError`) with a reason containing this text.
    Rejected(&'static str),
    /// The layer is indexed: these package names are found, those are not.
    Indexed {
        found: &'static [&'static str],
        absent: &'static [&'static str],
    },
}

/// One hostile layer.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: &'static str,
    /// The bytes stored in the blob store.
    pub blob: Vec<u8>,
    /// The digest the manifest names: the blob's own, except for the wrong-digest case.
    pub digest: Digest,
    pub expect: Expect,
}

impl Case {
    fn new(name: &'static str, blob: Vec<u8>, expect: Expect) -> Case {
        let digest = Digest::sha256_of(&blob);
        Case {
            name,
            blob,
            digest,
            expect,
        }
    }
}

/// A dpkg status database with one package, `name`.
pub fn dpkg_status(name: &str) -> Vec<u8> {
    format!(
        "Package: {name}\nStatus: install ok installed\nPriority: optional\nSection: misc\n\
         Maintainer: Nobody <nobody@example.org>\nArchitecture: amd64\nVersion: 1.0-1\n\
         Description: test package\n\n"
    )
    .into_bytes()
}

const OS_RELEASE: &[u8] =
    b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";

/// A tar header block with `name` stored byte for byte (the tar crate's builder refuses `..` and absolute
/// paths), `size` declared, and the checksum set.
pub fn raw_header(name: &[u8], kind: tar::EntryType, size: u64, link: &[u8]) -> [u8; 512] {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_mtime(1_700_000_000);
    {
        let old = h.as_old_mut();
        let n = name.len().min(old.name.len());
        old.name[..n].copy_from_slice(&name[..n]);
        let l = link.len().min(old.linkname.len());
        old.linkname[..l].copy_from_slice(&link[..l]);
    }
    h.set_cksum();
    let mut block = [0u8; 512];
    block.copy_from_slice(h.as_bytes());
    block
}

/// Appends one entry (header, data, padding) to a tar stream under construction.
pub fn push_entry(tar: &mut Vec<u8>, name: &[u8], kind: tar::EntryType, data: &[u8], link: &[u8]) {
    tar.extend_from_slice(&raw_header(name, kind, data.len() as u64, link));
    tar.extend_from_slice(data);
    tar.resize(tar.len().div_ceil(512) * 512, 0);
}

/// Ends a tar stream (two zero blocks).
pub fn finish_tar(mut tar: Vec<u8>) -> Vec<u8> {
    tar.extend_from_slice(&[0u8; 1024]);
    tar
}

/// A tar of regular files.
pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = Vec::new();
    for (path, data) in files {
        push_entry(
            &mut tar,
            path.as_bytes(),
            tar::EntryType::Regular,
            data,
            b"",
        );
    }
    finish_tar(tar)
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip to memory");
    e.finish().expect("gzip to memory")
}

pub fn zstd_of(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).expect("zstd to memory")
}

/// A well-formed layer: Debian's os-release and a dpkg database holding `package`.
pub fn good_layer(package: &str) -> Vec<u8> {
    gzip(&tar_of(&[
        ("etc/os-release", OS_RELEASE),
        ("var/lib/dpkg/status", &dpkg_status(package)),
    ]))
}

/// A deterministic pseudo-random byte stream (xorshift), for garbage that is the same on every run.
fn garbage(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A tar header for a regular file of `size` bytes, followed by `zeros_gib` GiB of zeros, gzip
/// compressed as `members` identical gzip members of 1 MiB of zeros each (a multi-member gzip, which
/// layer readers must accept): about 1 KiB of blob per MiB of tar.
fn gzip_bomb(size: u64, mib: usize) -> Vec<u8> {
    let mut blob = gzip(&raw_header(b"bomb.bin", tar::EntryType::Regular, size, b""));
    let mut member = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    member
        .write_all(&vec![0u8; 1 << 20])
        .expect("gzip to memory");
    let member = member.finish().expect("gzip to memory");
    for _ in 0..mib {
        blob.extend_from_slice(&member);
    }
    blob
}

/// As [`gzip_bomb`] with zstd frames: about 40 bytes of blob per MiB of tar.
fn zstd_bomb(size: u64, mib: usize) -> Vec<u8> {
    let mut blob = zstd_of(&raw_header(b"bomb.bin", tar::EntryType::Regular, size, b""));
    let frame = zstd::encode_all(&vec![0u8; 1 << 20][..], 19).expect("zstd");
    for _ in 0..mib {
        blob.extend_from_slice(&frame);
    }
    blob
}

/// A PAX extended header entry (`x`) holding `records` (`key=value` pairs), as its own entry.
fn pax_entry(tar: &mut Vec<u8>, records: &[(&str, &[u8])]) {
    let mut data = Vec::new();
    for (key, value) in records {
        // "<len> <key>=<value>\n", where len counts itself.
        let body = key.len() + value.len() + 3;
        let mut len = body + body.to_string().len();
        if len.to_string().len() != body.to_string().len() {
            len += 1;
        }
        data.extend_from_slice(format!("{len} {key}=").as_bytes());
        data.extend_from_slice(value);
        data.push(b'\n');
    }
    push_entry(tar, b"PaxHeaders/x", tar::EntryType::XHeader, &data, b"");
}

/// A GNU sparse entry (`S`) of `real_size` bytes whose only data is `data` at its end: a 10 GiB file in a
/// few hundred bytes of tar.
fn sparse_entry(tar: &mut Vec<u8>, name: &[u8], real_size: u64, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::GNUSparse);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    {
        let gnu = h.as_gnu_mut().expect("a GNU header");
        let n = name.len().min(gnu.name.len());
        gnu.name[..n].copy_from_slice(&name[..n]);
        let octal = |field: &mut [u8], value: u64| {
            // 11 digits and a NUL, or all 12 digits when the value needs them (10 GiB does).
            let width = field.len() - 1;
            let text = format!("{value:0width$o}");
            let n = text.len().min(field.len());
            field[..n].copy_from_slice(&text.as_bytes()[..n]);
            if n < field.len() {
                field[n] = 0;
            }
        };
        octal(&mut gnu.sparse[0].offset, real_size - data.len() as u64);
        octal(&mut gnu.sparse[0].numbytes, data.len() as u64);
        octal(&mut gnu.realsize, real_size);
    }
    h.set_cksum();
    tar.extend_from_slice(h.as_bytes());
    tar.extend_from_slice(data);
    tar.resize(tar.len().div_ceil(512) * 512, 0);
}

/// Every hostile case.
pub fn corpus() -> Vec<Case> {
    use tar::EntryType::{Regular, Symlink};
    let mut cases = Vec::new();

    // Tar bomb: more entries than the 2,000,000 allowed (empty files, one 512-byte header each).
    let mut many = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 0..2_000_001u32 {
        let header = raw_header(format!("f/{i}").as_bytes(), Regular, 0, b"");
        many.write_all(&header).expect("gzip to memory");
    }
    many.write_all(&[0u8; 1024]).expect("gzip to memory");
    let many = many.finish().expect("gzip to memory");
    cases.push(Case::new(
        "tar_bomb_many_entries",
        many,
        Expect::Rejected("limit on tar entries"),
    ));

    // Huge headers: a 2 MiB PAX path and a 2 MiB GNU long name (the tar crate buffers them whole).
    let mut pax = Vec::new();
    pax_entry(&mut pax, &[("path", &vec![b'a'; 2 << 20])]);
    push_entry(&mut pax, b"x", Regular, b"", b"");
    cases.push(Case::new(
        "huge_pax_header",
        zstd_of(&finish_tar(pax)),
        Expect::Rejected("limit on tar header bytes per entry"),
    ));
    let mut long = Vec::new();
    push_entry(
        &mut long,
        b"././@LongLink",
        tar::EntryType::GNULongName,
        &vec![b'b'; 2 << 20],
        b"",
    );
    push_entry(&mut long, b"x", Regular, b"", b"");
    cases.push(Case::new(
        "huge_gnu_long_name",
        gzip(&finish_tar(long)),
        Expect::Rejected("limit on tar header bytes per entry"),
    ));

    // PAX values that overflow: size past u64, absurd times and ids.
    let mut overflow = Vec::new();
    pax_entry(&mut overflow, &[("size", b"99999999999999999999999999999")]);
    push_entry(&mut overflow, b"var/lib/dpkg/status", Regular, b"", b"");
    cases.push(Case::new(
        "pax_size_overflow",
        finish_tar(overflow),
        // The tar crate ignores a PAX size it cannot parse and keeps the header's (0): harmless.
        Expect::Indexed {
            found: &[],
            absent: &[],
        },
    ));
    let mut odd = Vec::new();
    pax_entry(
        &mut odd,
        &[
            ("mtime", b"-1e400"),
            ("uid", b"340282366920938463463374607431768211456"),
            ("gid", b"-1"),
            ("uname", &[0xff, 0xfe, 0x00]),
            ("atime", b"NaN"),
        ],
    );
    push_entry(
        &mut odd,
        b"var/lib/dpkg/status",
        Regular,
        &dpkg_status("pax-odd-values"),
        b"",
    );
    cases.push(Case::new(
        "pax_absurd_times_and_ids",
        finish_tar(odd),
        Expect::Indexed {
            found: &["pax-odd-values"],
            absent: &[],
        },
    ));

    // Decompression bombs: gzip past the 32 GiB cap is slow to inflate (~1,000:1 at most), so the gzip
    // bomb declares a 40 GiB file and the test indexer's cap is the default; zstd reaches ~25,000:1 and
    // trips the ratio cap after 64 MiB.
    cases.push(Case::new(
        "zstd_bomb",
        zstd_bomb(100 << 30, 1024),
        Expect::Rejected("limit on compression ratio"),
    ));
    cases.push(Case::new(
        "gzip_bomb",
        gzip_bomb(40 << 30, 33 * 1024),
        Expect::Rejected("limit on uncompressed bytes"),
    ));

    // `..` and absolute paths: the `..` database must not be read; absolute paths mean the layer root.
    let mut paths = Vec::new();
    push_entry(
        &mut paths,
        b"../../var/lib/dpkg/status",
        Regular,
        &dpkg_status("escaped-dotdot"),
        b"",
    );
    push_entry(
        &mut paths,
        b"var/lib/../lib/dpkg/status.d/inner",
        Regular,
        &dpkg_status("escaped-inner-dotdot"),
        b"",
    );
    push_entry(&mut paths, b"/etc/os-release", Regular, OS_RELEASE, b"");
    push_entry(
        &mut paths,
        b"/var/lib/dpkg/status",
        Regular,
        &dpkg_status("absolute-path"),
        b"",
    );
    cases.push(Case::new(
        "dotdot_and_absolute_paths",
        gzip(&finish_tar(paths)),
        Expect::Indexed {
            found: &["absolute-path"],
            absent: &["escaped-dotdot", "escaped-inner-dotdot"],
        },
    ));

    // Links: loops, targets outside the root, a claimed path that is a symlink, hard links to nothing.
    let mut links = Vec::new();
    push_entry(&mut links, b"loop/a", Symlink, b"", b"b");
    push_entry(&mut links, b"loop/b", Symlink, b"", b"a");
    push_entry(&mut links, b"loop/self", Symlink, b"", b"self");
    push_entry(
        &mut links,
        b"var/lib/dpkg/status",
        Symlink,
        b"",
        b"../../../../../etc/shadow",
    );
    push_entry(
        &mut links,
        b"lib/apk/db/installed",
        Symlink,
        b"",
        b"/proc/self/environ",
    );
    push_entry(
        &mut links,
        b"var/lib/rpm/rpmdb.sqlite",
        tar::EntryType::Link,
        b"",
        b"does/not/exist",
    );
    push_entry(
        &mut links,
        b"usr/lib/x",
        tar::EntryType::Link,
        b"",
        b"../../../outside",
    );
    cases.push(Case::new(
        "symlink_loops_and_dangling_links",
        gzip(&finish_tar(links)),
        Expect::Indexed {
            found: &[],
            absent: &[],
        },
    ));

    // A 10 GiB sparse file (GNU sparse), unclaimed and claimed.
    let mut sparse = Vec::new();
    sparse_entry(&mut sparse, b"data/disk.img", 10 << 30, &[0x55; 512]);
    sparse_entry(&mut sparse, b"var/lib/dpkg/status", 10 << 30, &[0x55; 512]);
    cases.push(Case::new(
        "sparse_10_gib",
        gzip(&finish_tar(sparse)),
        Expect::Indexed {
            found: &[],
            absent: &[],
        },
    ));

    // Truncated streams.
    let whole = tar_of(&[
        ("etc/os-release", OS_RELEASE),
        ("var/lib/dpkg/status", &dpkg_status("truncated")),
        ("usr/share/doc/big", &garbage(256 << 10, 7)),
    ]);
    let mut gz = gzip(&whole);
    gz.truncate(gz.len() / 2);
    cases.push(Case::new(
        "truncated_gzip",
        gz,
        Expect::Rejected("truncated"),
    ));
    let mut zs = zstd_of(&whole);
    zs.truncate(zs.len() / 2);
    cases.push(Case::new(
        "truncated_zstd",
        zs,
        Expect::Rejected("truncated"),
    ));
    let mut plain = whole.clone();
    plain.truncate(plain.len() / 2 + 100);
    cases.push(Case::new(
        "truncated_tar",
        plain,
        Expect::Rejected("truncated"),
    ));

    // A blob that is not what the manifest names.
    let mut wrong = Case::new(
        "wrong_digest",
        good_layer("wrong-digest"),
        Expect::Rejected("digest mismatch"),
    );
    wrong.digest = Digest::sha256_of(b"the layer the manifest names");
    cases.push(wrong);

    // Not a tar at all.
    cases.push(Case::new(
        "garbage",
        garbage(1 << 20, 42),
        Expect::Rejected("not a tar archive"),
    ));

    // Package databases that are malformed inside a valid layer: an OS database fails the layer.
    cases.push(Case::new(
        "malformed_dpkg_status",
        gzip(&tar_of(&[
            ("etc/os-release", OS_RELEASE),
            ("var/lib/dpkg/status", &garbage(4096, 3)),
        ])),
        Expect::Rejected("scanner failed the layer: dpkg"),
    ));
    let mut apk = b"P:musl\nV:1.2.4-r2\n".to_vec();
    apk.extend_from_slice(&garbage(4096, 5));
    cases.push(Case::new(
        "malformed_apk_installed",
        gzip(&tar_of(&[("lib/apk/db/installed", &apk)])),
        Expect::Rejected("scanner failed the layer: apk"),
    ));
    let mut sqlite = b"SQLite format 3\0".to_vec();
    sqlite.extend_from_slice(&garbage(8192, 9));
    cases.push(Case::new(
        "malformed_rpmdb_sqlite",
        gzip(&tar_of(&[("var/lib/rpm/rpmdb.sqlite", &sqlite)])),
        Expect::Rejected("scanner failed the layer: rpm"),
    ));
    cases.push(Case::new(
        "malformed_rpm_bdb",
        gzip(&tar_of(&[("var/lib/rpm/Packages", &garbage(16384, 11))])),
        Expect::Rejected("scanner failed the layer: rpm"),
    ));
    cases
}
