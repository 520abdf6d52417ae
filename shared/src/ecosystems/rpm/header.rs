//! rpm header blobs, as every rpm database stores them (one blob per installed package).
//!
//! Layout (all integers big-endian, whatever the database's own byte order):
//!
//! ```text
//! u32 index_count   u32 data_size
//! index_count × { i32 tag, u32 type, i32 offset, u32 count }   (16 bytes each)
//! data_size bytes of data store, addressed by the entries' offsets
//! ```
//!
//! The first entry of an installed header is the immutable region tag (63), which only describes the
//! signed part of the header; the package's tags are ordinary entries next to it, so reading them needs
//! nothing more than the index. Written by hand because the Rust rpm crates parse whole `.rpm` files
//! (lead + signature + header) and assume trusted input; here every count and offset is checked against
//! the blob before use, so hostile blobs produce a [`HeaderError`] and never a panic or a large allocation.

/// Header tags read by the scanner (rpm's `rpmtag.h`).
mod tag {
    pub const NAME: i32 = 1000;
    pub const VERSION: i32 = 1001;
    pub const RELEASE: i32 = 1002;
    pub const EPOCH: i32 = 1003;
    pub const VENDOR: i32 = 1011;
    pub const ARCH: i32 = 1022;
    pub const SOURCERPM: i32 = 1044;
    pub const MODULARITYLABEL: i32 = 5096;
}

/// Header data types (rpm's `rpmTagType`).
mod kind {
    pub const INT32: u32 = 4;
    pub const STRING: u32 = 6;
    pub const STRING_ARRAY: u32 = 8;
    pub const I18NSTRING: u32 = 9;
}

/// rpm's own limits (`HEADER_TAGS_MAX`, `HEADER_DATA_MAX` in `lib/header.c`): larger claims are corrupt.
const MAX_INDEX_COUNT: u32 = 0xffff;
const MAX_DATA_SIZE: u32 = 0x0fff_ffff;
const INDEX_ENTRY_SIZE: usize = 16;

/// Why a header blob could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("header blob truncated: needs {needed} bytes, has {actual}")]
    Truncated { needed: u64, actual: usize },
    #[error("header claims {0} index entries (rpm's limit is 65535)")]
    TooManyEntries(u32),
    #[error("header claims a {0}-byte data store (rpm's limit is 256 MiB)")]
    DataTooLarge(u32),
    #[error("header tag {tag}: offset {offset} is outside the {data_size}-byte data store")]
    BadOffset {
        tag: i32,
        offset: i32,
        data_size: u32,
    },
    #[error("header tag {tag}: string is not NUL-terminated inside the data store")]
    UnterminatedString { tag: i32 },
    #[error("header tag {tag}: unexpected data type {kind}")]
    WrongType { tag: i32, kind: u32 },
    #[error("header has no {0} tag")]
    MissingTag(&'static str),
}

/// The fields of an installed package's header that a vulnerability scanner needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RpmHeader {
    pub name: String,
    /// `None` when the package has no epoch (rpm treats that as 0).
    pub epoch: Option<u32>,
    pub version: String,
    pub release: String,
    /// Empty for pseudo-packages such as `gpg-pubkey`.
    pub arch: String,
    /// `name-version-release.src.rpm`, empty if absent.
    pub source_rpm: String,
    /// Full modularity label `name:stream:version:context`, empty for non-modular packages.
    pub modularity_label: String,
    pub vendor: String,
}

impl RpmHeader {
    /// `[epoch:]version-release`, the epoch shown only when non-zero (Clair's form).
    pub fn evr(&self) -> String {
        match self.epoch {
            Some(epoch) if epoch != 0 => format!("{epoch}:{}-{}", self.version, self.release),
            _ => format!("{}-{}", self.version, self.release),
        }
    }

    /// The module stream `name:stream` from the modularity label, or empty.
    pub fn module_stream(&self) -> String {
        let mut parts = self.modularity_label.splitn(3, ':');
        match (parts.next(), parts.next()) {
            (Some(name), Some(stream)) if !name.is_empty() && !stream.is_empty() => {
                format!("{name}:{stream}")
            }
            _ => String::new(),
        }
    }
}

/// One index entry, as stored.
struct IndexEntry {
    tag: i32,
    kind: u32,
    offset: i32,
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

/// Parses a header blob as stored in an rpm database.
pub fn parse_header(blob: &[u8]) -> Result<RpmHeader, HeaderError> {
    let truncated = |needed: u64| HeaderError::Truncated {
        needed,
        actual: blob.len(),
    };
    let (Some(index_count), Some(data_size)) = (be_u32(blob, 0), be_u32(blob, 4)) else {
        return Err(truncated(8));
    };
    if index_count > MAX_INDEX_COUNT {
        return Err(HeaderError::TooManyEntries(index_count));
    }
    if data_size > MAX_DATA_SIZE {
        return Err(HeaderError::DataTooLarge(data_size));
    }
    // Both bounded above, so this cannot overflow even on 32-bit targets' u64.
    let data_start = 8 + u64::from(index_count) * INDEX_ENTRY_SIZE as u64;
    let needed = data_start + u64::from(data_size);
    if needed > blob.len() as u64 {
        return Err(truncated(needed));
    }
    let (Some(index), Some(data)) = (
        blob.get(8..data_start as usize),
        blob.get(data_start as usize..needed as usize),
    ) else {
        return Err(truncated(needed));
    };

    let mut header = RpmHeader::default();
    let (mut has_name, mut has_version, mut has_release) = (false, false, false);
    for raw in index.chunks_exact(INDEX_ENTRY_SIZE) {
        let word = |at| be_u32(raw, at).unwrap_or_default();
        let entry = IndexEntry {
            tag: word(0) as i32,
            kind: word(4),
            offset: word(8) as i32,
        };
        let field = match entry.tag {
            tag::NAME => {
                has_name = true;
                &mut header.name
            }
            tag::VERSION => {
                has_version = true;
                &mut header.version
            }
            tag::RELEASE => {
                has_release = true;
                &mut header.release
            }
            tag::ARCH => &mut header.arch,
            tag::SOURCERPM => &mut header.source_rpm,
            tag::MODULARITYLABEL => &mut header.modularity_label,
            tag::VENDOR => &mut header.vendor,
            tag::EPOCH => {
                header.epoch = Some(read_int32(&entry, data, data_size)?);
                continue;
            }
            _ => continue,
        };
        *field = read_string(&entry, data, data_size)?;
    }
    if !has_name {
        return Err(HeaderError::MissingTag("NAME"));
    }
    if !has_version {
        return Err(HeaderError::MissingTag("VERSION"));
    }
    if !has_release {
        return Err(HeaderError::MissingTag("RELEASE"));
    }
    Ok(header)
}

fn data_at<'a>(
    entry: &IndexEntry,
    data: &'a [u8],
    data_size: u32,
) -> Result<&'a [u8], HeaderError> {
    usize::try_from(entry.offset)
        .ok()
        .and_then(|offset| data.get(offset..))
        .filter(|rest| !rest.is_empty())
        .ok_or(HeaderError::BadOffset {
            tag: entry.tag,
            offset: entry.offset,
            data_size,
        })
}

fn read_int32(entry: &IndexEntry, data: &[u8], data_size: u32) -> Result<u32, HeaderError> {
    if entry.kind != kind::INT32 {
        return Err(HeaderError::WrongType {
            tag: entry.tag,
            kind: entry.kind,
        });
    }
    let at = data_at(entry, data, data_size)?;
    be_u32(at, 0).ok_or(HeaderError::BadOffset {
        tag: entry.tag,
        offset: entry.offset,
        data_size,
    })
}

/// Reads a STRING, or the first element of a STRING_ARRAY / I18NSTRING. Invalid UTF-8 (old Latin-1
/// vendors) is replaced rather than rejected: the string is informational, the layer is still valid.
fn read_string(entry: &IndexEntry, data: &[u8], data_size: u32) -> Result<String, HeaderError> {
    if !matches!(
        entry.kind,
        kind::STRING | kind::STRING_ARRAY | kind::I18NSTRING
    ) {
        return Err(HeaderError::WrongType {
            tag: entry.tag,
            kind: entry.kind,
        });
    }
    let at = data_at(entry, data, data_size)?;
    let end = at
        .iter()
        .position(|&b| b == 0)
        .ok_or(HeaderError::UnterminatedString { tag: entry.tag })?;
    Ok(String::from_utf8_lossy(at.get(..end).unwrap_or_default()).into_owned())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a header blob from (tag, type, payload) entries, the way rpm lays them out.
    pub(crate) fn build_header(entries: &[(i32, u32, Vec<u8>)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, kind, payload) in entries {
            if *kind == kind::INT32 {
                while !data.len().is_multiple_of(4) {
                    data.push(0);
                }
            }
            index.extend_from_slice(&tag.to_be_bytes());
            index.extend_from_slice(&kind.to_be_bytes());
            index.extend_from_slice(&(data.len() as i32).to_be_bytes());
            index.extend_from_slice(&1u32.to_be_bytes());
            data.extend_from_slice(payload);
        }
        let mut blob = Vec::new();
        blob.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
        blob.extend_from_slice(&index);
        blob.extend_from_slice(&data);
        blob
    }

    fn string(s: &str) -> Vec<u8> {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    }

    fn minimal() -> Vec<(i32, u32, Vec<u8>)> {
        vec![
            (tag::NAME, kind::STRING, string("openssl")),
            (tag::VERSION, kind::STRING, string("3.0.7")),
            (tag::RELEASE, kind::STRING, string("27.el9")),
            (tag::EPOCH, kind::INT32, 1u32.to_be_bytes().to_vec()),
            (tag::ARCH, kind::STRING, string("x86_64")),
        ]
    }

    #[test]
    fn reads_synthetic_header() {
        let h = parse_header(&build_header(&minimal())).unwrap();
        assert_eq!(h.name, "openssl");
        assert_eq!(h.epoch, Some(1));
        assert_eq!(h.evr(), "1:3.0.7-27.el9");
        assert_eq!(h.arch, "x86_64");
        assert_eq!(h.source_rpm, "");
        assert_eq!(h.module_stream(), "");
    }

    #[test]
    fn module_stream_takes_name_and_stream() {
        let h = RpmHeader {
            modularity_label: "nodejs:18:9030020231120082734:rhel9".into(),
            ..Default::default()
        };
        assert_eq!(h.module_stream(), "nodejs:18");
        let h = RpmHeader {
            modularity_label: "nodejs".into(),
            ..Default::default()
        };
        assert_eq!(h.module_stream(), "");
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let blob = build_header(&minimal());
        for len in 0..blob.len() {
            assert!(parse_header(&blob[..len]).is_err(), "prefix of {len} bytes");
        }
        assert_eq!(
            parse_header(&blob[..3]),
            Err(HeaderError::Truncated {
                needed: 8,
                actual: 3
            })
        );
    }

    #[test]
    fn huge_counts_are_rejected_before_allocating() {
        let mut blob = build_header(&minimal());
        blob[0..4].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
        assert_eq!(
            parse_header(&blob),
            Err(HeaderError::TooManyEntries(0x7fff_ffff))
        );
        let mut blob = build_header(&minimal());
        blob[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            parse_header(&blob),
            Err(HeaderError::DataTooLarge(u32::MAX))
        );
        let mut blob = build_header(&minimal());
        blob[4..8].copy_from_slice(&0x0fff_0000u32.to_be_bytes());
        assert!(matches!(
            parse_header(&blob),
            Err(HeaderError::Truncated { .. })
        ));
    }

    #[test]
    fn hostile_offsets_types_and_strings() {
        // Offset pointing past the data store (first entry is NAME).
        let mut blob = build_header(&minimal());
        blob[16..20].copy_from_slice(&0x00ff_ffffu32.to_be_bytes());
        assert!(matches!(
            parse_header(&blob),
            Err(HeaderError::BadOffset { tag: 1000, .. })
        ));
        // Negative offset.
        let mut blob = build_header(&minimal());
        blob[16..20].copy_from_slice(&(-4i32).to_be_bytes());
        assert!(matches!(
            parse_header(&blob),
            Err(HeaderError::BadOffset { tag: 1000, .. })
        ));
        // NAME declared as INT32.
        let mut blob = build_header(&minimal());
        blob[12..16].copy_from_slice(&kind::INT32.to_be_bytes());
        assert_eq!(
            parse_header(&blob),
            Err(HeaderError::WrongType {
                tag: 1000,
                kind: kind::INT32
            })
        );
        // A string that runs to the end of the data store without a NUL.
        let entries = vec![
            (tag::VERSION, kind::STRING, string("1")),
            (tag::RELEASE, kind::STRING, string("1")),
            (tag::NAME, kind::STRING, b"unterminated".to_vec()),
        ];
        assert_eq!(
            parse_header(&build_header(&entries)),
            Err(HeaderError::UnterminatedString { tag: 1000 })
        );
        // Missing NAME.
        assert_eq!(
            parse_header(&build_header(&minimal()[1..])),
            Err(HeaderError::MissingTag("NAME"))
        );
        // Garbage.
        assert!(parse_header(b"\xff\xfe garbage garbage").is_err());
    }
}
