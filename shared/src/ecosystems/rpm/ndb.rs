//! Reader for rpm's NDB package database (`Packages.db`, SUSE's default backend).
//!
//! No maintained Rust crate reads NDB, and the format is small (rpm's `lib/backend/ndb/rpmpkg.c`), so this
//! is a bounded hand-written reader. All integers are little-endian:
//!
//! ```text
//! file header (32 bytes): "RpmP" magic, u32 version (0), u32 generation, u32 slot_pages, u32 next_pkg_idx, …
//! slots, 16 bytes each, from byte 32 to slot_pages × 4096: "Slot" magic, u32 pkg_idx, u32 block_offset,
//!   u32 block_count (blocks are 16 bytes; block_offset 0 = free slot)
//! blob at block_offset × 16: "BlbS" magic, u32 pkg_idx, u32 generation, u32 length, <length bytes of
//!   header>, padding, then a 12-byte tail: u32 adler32 (of everything before the tail), u32 length, "BlbE"
//! ```
//!
//! Every slot and blob is checked against the file before use; the reader returns borrowed slices, so
//! memory is bounded by the file itself.

use adler2::Adler32;

const FILE_MAGIC: u32 = u32::from_le_bytes(*b"RpmP");
const SLOT_MAGIC: u32 = u32::from_le_bytes(*b"Slot");
const BLOB_HEAD_MAGIC: u32 = u32::from_le_bytes(*b"BlbS");
const BLOB_TAIL_MAGIC: u32 = u32::from_le_bytes(*b"BlbE");
const FILE_HEADER_SIZE: usize = 32;
const SLOT_SIZE: usize = 16;
const PAGE_SIZE: u64 = 4096;
const BLOCK_SIZE: u64 = 16;
const BLOB_HEAD_SIZE: u64 = 16;
const BLOB_TAIL_SIZE: u64 = 12;

/// Why an NDB file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NdbError {
    #[error("ndb: file is {0} bytes, shorter than the 32-byte header")]
    Truncated(usize),
    #[error("ndb: bad magic {0:#010x} (not an NDB Packages.db)")]
    BadMagic(u32),
    #[error("ndb: unsupported version {0}")]
    BadVersion(u32),
    #[error("ndb: {pages} slot pages claimed but the file is only {file_len} bytes")]
    SlotPagesPastEnd { pages: u32, file_len: usize },
    #[error("ndb: slot at byte {0} has a bad magic")]
    BadSlot(usize),
    #[error("ndb: package {pkg}: blob at byte {offset} ({len} bytes) is outside the file")]
    BlobPastEnd { pkg: u32, offset: u64, len: u64 },
    #[error("ndb: package {pkg}: {reason}")]
    BadBlob { pkg: u32, reason: &'static str },
}

fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

/// Returns the header blob of every package in the file, in slot order.
pub fn header_blobs(file: &[u8]) -> Result<Vec<&[u8]>, NdbError> {
    let field = |at| le_u32(file, at).ok_or(NdbError::Truncated(file.len()));
    if file.len() < FILE_HEADER_SIZE {
        return Err(NdbError::Truncated(file.len()));
    }
    let magic = field(0)?;
    if magic != FILE_MAGIC {
        return Err(NdbError::BadMagic(magic));
    }
    let version = field(4)?;
    if version != 0 {
        return Err(NdbError::BadVersion(version));
    }
    let slot_pages = field(12)?;
    let slots_end = u64::from(slot_pages) * PAGE_SIZE;
    if slots_end > file.len() as u64 {
        return Err(NdbError::SlotPagesPastEnd {
            pages: slot_pages,
            file_len: file.len(),
        });
    }
    let slot_area = file
        .get(FILE_HEADER_SIZE.min(slots_end as usize)..slots_end as usize)
        .unwrap_or_default();

    let mut blobs = Vec::new();
    for (i, slot) in slot_area.chunks_exact(SLOT_SIZE).enumerate() {
        let word = |at| le_u32(slot, at).unwrap_or_default();
        if word(0) != SLOT_MAGIC {
            return Err(NdbError::BadSlot(FILE_HEADER_SIZE + i * SLOT_SIZE));
        }
        let (pkg, block_offset, block_count) = (word(4), word(8), word(12));
        if block_offset == 0 {
            continue; // free slot
        }
        blobs.push(read_blob(file, pkg, block_offset, block_count)?);
    }
    Ok(blobs)
}

fn read_blob(
    file: &[u8],
    pkg: u32,
    block_offset: u32,
    block_count: u32,
) -> Result<&[u8], NdbError> {
    let offset = u64::from(block_offset) * BLOCK_SIZE;
    let len = u64::from(block_count) * BLOCK_SIZE;
    let past_end = NdbError::BlobPastEnd { pkg, offset, len };
    let end = offset.checked_add(len).ok_or(past_end.clone())?;
    if end > file.len() as u64 {
        return Err(past_end);
    }
    if len < BLOB_HEAD_SIZE + BLOB_TAIL_SIZE {
        return Err(NdbError::BadBlob {
            pkg,
            reason: "slot is too small for a blob",
        });
    }
    let blob = file.get(offset as usize..end as usize).ok_or(past_end)?;
    let word = |at: u64| le_u32(blob, at as usize).unwrap_or_default();
    let bad = |reason| NdbError::BadBlob { pkg, reason };
    if word(0) != BLOB_HEAD_MAGIC {
        return Err(bad("bad blob head magic"));
    }
    if word(4) != pkg {
        return Err(bad("blob belongs to another package"));
    }
    let data_len = u64::from(word(12));
    if BLOB_HEAD_SIZE + data_len + BLOB_TAIL_SIZE > len {
        return Err(bad("blob length exceeds its slot"));
    }
    let tail = len - BLOB_TAIL_SIZE;
    if word(tail + 8) != BLOB_TAIL_MAGIC {
        return Err(bad("bad blob tail magic"));
    }
    if u64::from(word(tail + 4)) != data_len {
        return Err(bad("blob head and tail lengths differ"));
    }
    let mut checksum = Adler32::new();
    checksum.write_slice(blob.get(..tail as usize).unwrap_or_default());
    if checksum.checksum() != word(tail) {
        return Err(bad("blob checksum mismatch"));
    }
    blob.get(BLOB_HEAD_SIZE as usize..(BLOB_HEAD_SIZE + data_len) as usize)
        .ok_or(bad("blob length exceeds its slot"))
}

/// Writes an NDB file holding `blobs`, laid out as rpm lays it out. Test-only: Debian's rpm cannot
/// write NDB, so tests build real-format files from real header blobs with this.
#[cfg(test)]
pub(crate) fn write_ndb(blobs: &[Vec<u8>]) -> Vec<u8> {
    let slot_pages = 1u32;
    let mut file = vec![0u8; (u64::from(slot_pages) * PAGE_SIZE) as usize];
    file[0..4].copy_from_slice(&FILE_MAGIC.to_le_bytes());
    file[8..12].copy_from_slice(&1u32.to_le_bytes());
    file[12..16].copy_from_slice(&slot_pages.to_le_bytes());
    file[16..20].copy_from_slice(&(blobs.len() as u32 + 1).to_le_bytes());
    // Fill every slot with the magic (free slots have block_offset 0).
    for slot in file[FILE_HEADER_SIZE..].chunks_exact_mut(SLOT_SIZE) {
        slot[0..4].copy_from_slice(&SLOT_MAGIC.to_le_bytes());
    }
    for (i, data) in blobs.iter().enumerate() {
        let pkg = i as u32 + 1;
        let offset = file.len() as u64;
        let mut blob = Vec::new();
        blob.extend_from_slice(&BLOB_HEAD_MAGIC.to_le_bytes());
        blob.extend_from_slice(&pkg.to_le_bytes());
        blob.extend_from_slice(&1u32.to_le_bytes());
        blob.extend_from_slice(&(data.len() as u32).to_le_bytes());
        blob.extend_from_slice(data);
        while !(blob.len() as u64 + BLOB_TAIL_SIZE).is_multiple_of(BLOCK_SIZE) {
            blob.push(0);
        }
        let mut checksum = Adler32::new();
        checksum.write_slice(&blob);
        blob.extend_from_slice(&checksum.checksum().to_le_bytes());
        blob.extend_from_slice(&(data.len() as u32).to_le_bytes());
        blob.extend_from_slice(&BLOB_TAIL_MAGIC.to_le_bytes());
        let slot_at = FILE_HEADER_SIZE + i * SLOT_SIZE;
        file[slot_at + 4..slot_at + 8].copy_from_slice(&pkg.to_le_bytes());
        file[slot_at + 8..slot_at + 12]
            .copy_from_slice(&((offset / BLOCK_SIZE) as u32).to_le_bytes());
        file[slot_at + 12..slot_at + 16]
            .copy_from_slice(&((blob.len() as u64 / BLOCK_SIZE) as u32).to_le_bytes());
        file.extend_from_slice(&blob);
    }
    file
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        write_ndb(&[b"first header".to_vec(), vec![7u8; 100]])
    }

    #[test]
    fn round_trips_blobs() {
        let file = sample();
        let blobs = header_blobs(&file).unwrap();
        assert_eq!(blobs, vec![&b"first header"[..], &[7u8; 100][..]]);
    }

    #[test]
    fn truncation_and_garbage_are_errors() {
        let file = sample();
        for len in [0, 10, 31, 32, 4095, 4096, 4100, file.len() - 1] {
            assert!(header_blobs(&file[..len]).is_err(), "prefix {len}");
        }
        assert_eq!(
            header_blobs(&[0xAB; 64]),
            Err(NdbError::BadMagic(0xABAB_ABAB))
        );
    }

    #[test]
    fn huge_claims_are_errors() {
        let mut file = sample();
        file[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            header_blobs(&file),
            Err(NdbError::SlotPagesPastEnd { .. })
        ));
        let mut file = sample();
        // First slot: block count of u32::MAX.
        file[44..48].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            header_blobs(&file),
            Err(NdbError::BlobPastEnd { pkg: 1, .. })
        ));
        let mut file = sample();
        // Blob length field claims more than its slot.
        let blob_at = 4096;
        file[blob_at + 12..blob_at + 16].copy_from_slice(&0x00ff_ffffu32.to_le_bytes());
        assert_eq!(
            header_blobs(&file),
            Err(NdbError::BadBlob {
                pkg: 1,
                reason: "blob length exceeds its slot"
            })
        );
    }

    #[test]
    fn corruption_is_caught_by_the_checksum() {
        let mut file = sample();
        file[4096 + 16] ^= 0xff;
        assert_eq!(
            header_blobs(&file),
            Err(NdbError::BadBlob {
                pkg: 1,
                reason: "blob checksum mismatch"
            })
        );
    }
}
