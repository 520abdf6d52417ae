//! Reader for rpm's Berkeley DB hash package database (`Packages`, RHEL ≤ 8, CentOS, Amazon Linux 2).
//!
//! No maintained Rust crate reads Berkeley DB files (and linking libdb is what rpm itself moved away
//! from), so this is a bounded hand-written reader of the subset rpm uses, following rpm 4.18's own
//! read-only reader (`lib/backend/bdb_ro.c`) and libdb's `db_page.h`:
//!
//! - page 0 is the hash metadata page: magic `0x061561` at byte 12 (its byte order gives the file's),
//!   page size at 20, last page number at 32, encryption algorithm at 24, page type (8) at 25;
//! - like `bdb_ro.c`, every page is visited in order and only hash pages (type 13, or 2 for the legacy
//!   unsorted kind) are read, so bucket chains need not be followed and cannot loop;
//! - a hash page has a 26-byte header (entry count at 20) followed by an array of u16 item offsets; items
//!   are key/data pairs, an item running up to the previous item's start (or the page end);
//! - item type 1 (`H_KEYDATA`) holds the data inline after the type byte; type 3 (`H_OFFPAGE`) holds a page
//!   number (byte 4) and total length (byte 8) of a chain of overflow pages (type 7), each carrying
//!   `hf_offset` (u16 at byte 22) bytes of data after its 26-byte header and the next page number at 16;
//! - key 0 holds rpm's bookkeeping, not a package, and is skipped.
//!
//! Overflow chains are followed with a visited set and must deliver exactly the declared length, so a
//! loop or a lying length is an error, and memory stays bounded by the file size.

use std::collections::HashSet;

const HASH_MAGIC: u32 = 0x0006_1561;
const PAGE_TYPE_HASH_UNSORTED: u8 = 2;
const PAGE_TYPE_OVERFLOW: u8 = 7;
const PAGE_TYPE_HASH_META: u8 = 8;
const PAGE_TYPE_HASH: u8 = 13;
const ITEM_KEYDATA: u8 = 1;
const ITEM_OFFPAGE: u8 = 3;
const PAGE_HEADER_SIZE: usize = 26;

/// Why a Berkeley DB file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BdbError {
    #[error("bdb: file is {0} bytes, too short for a metadata page")]
    Truncated(usize),
    #[error("bdb: bad magic {0:#010x} (not a Berkeley DB hash database)")]
    BadMagic(u32),
    #[error("bdb: metadata page has type {0}, not a hash database")]
    NotHash(u8),
    #[error("bdb: encrypted databases are not supported")]
    Encrypted,
    #[error("bdb: nonsense page size {0}")]
    BadPageSize(u32),
    #[error("bdb: page {page}: {reason}")]
    BadPage { page: u64, reason: &'static str },
    #[error("bdb: overflow chain from page {start}: {reason}")]
    BadOverflow { start: u32, reason: &'static str },
    #[error(
        "bdb: item type {0} is not supported (duplicate or external blob items are not used by rpm)"
    )]
    UnsupportedItem(u8),
}

/// Byte order of the file's integers, taken from the magic.
#[derive(Clone, Copy)]
enum Order {
    Little,
    Big,
}

impl Order {
    fn u32(self, bytes: &[u8], at: usize) -> Option<u32> {
        let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(match self {
            Order::Little => u32::from_le_bytes(b),
            Order::Big => u32::from_be_bytes(b),
        })
    }

    fn u16(self, bytes: &[u8], at: usize) -> Option<u16> {
        let b: [u8; 2] = bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(match self {
            Order::Little => u16::from_le_bytes(b),
            Order::Big => u16::from_be_bytes(b),
        })
    }
}

struct Database<'a> {
    file: &'a [u8],
    page_size: usize,
    order: Order,
}

impl<'a> Database<'a> {
    fn page_count(&self) -> u64 {
        (self.file.len() / self.page_size) as u64
    }

    fn page(&self, number: u64) -> Option<&'a [u8]> {
        let start = usize::try_from(number).ok()?.checked_mul(self.page_size)?;
        self.file.get(start..start.checked_add(self.page_size)?)
    }

    fn overflow(&self, start: u32, total_len: u32) -> Result<Vec<u8>, BdbError> {
        let bad = |reason| BdbError::BadOverflow { start, reason };
        let total = total_len as usize;
        // Every overflow page carries at most a page of data: a longer claim cannot be satisfied.
        if total as u64 > self.page_count() * self.page_size as u64 {
            return Err(bad("declared length exceeds the file"));
        }
        let mut data = Vec::with_capacity(total);
        let mut visited = HashSet::new();
        let mut number = start;
        while number != 0 {
            if !visited.insert(number) {
                return Err(bad("loop in overflow chain"));
            }
            let page = self
                .page(u64::from(number))
                .ok_or(bad("page number past end of file"))?;
            if page.get(25) != Some(&PAGE_TYPE_OVERFLOW) {
                return Err(bad("chained page is not an overflow page"));
            }
            let len = usize::from(self.order.u16(page, 22).unwrap_or_default());
            let chunk = page
                .get(PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + len)
                .ok_or(bad("overflow length exceeds page"))?;
            if data.len() + chunk.len() > total {
                return Err(bad("chain holds more data than declared"));
            }
            data.extend_from_slice(chunk);
            number = self.order.u32(page, 16).unwrap_or_default();
        }
        if data.len() != total {
            return Err(bad("chain holds less data than declared"));
        }
        Ok(data)
    }
}

/// Returns the header blob of every package in the file, in page order.
pub fn header_blobs(file: &[u8]) -> Result<Vec<Vec<u8>>, BdbError> {
    if file.len() < 512 {
        return Err(BdbError::Truncated(file.len()));
    }
    let order = match Order::Little.u32(file, 12) {
        Some(HASH_MAGIC) => Order::Little,
        _ if Order::Big.u32(file, 12) == Some(HASH_MAGIC) => Order::Big,
        other => return Err(BdbError::BadMagic(other.unwrap_or_default())),
    };
    let page_type = file.get(25).copied().unwrap_or_default();
    if page_type != PAGE_TYPE_HASH_META {
        return Err(BdbError::NotHash(page_type));
    }
    if file.get(24).copied().unwrap_or_default() != 0 {
        return Err(BdbError::Encrypted);
    }
    let page_size = order.u32(file, 20).unwrap_or_default();
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(BdbError::BadPageSize(page_size));
    }
    let db = Database {
        file,
        page_size: page_size as usize,
        order,
    };

    let mut blobs = Vec::new();
    for number in 1..db.page_count() {
        let Some(page) = db.page(number) else { break };
        if !matches!(
            page.get(25),
            Some(&(PAGE_TYPE_HASH | PAGE_TYPE_HASH_UNSORTED))
        ) {
            continue;
        }
        read_hash_page(&db, number, page, &mut blobs)?;
    }
    Ok(blobs)
}

fn read_hash_page(
    db: &Database<'_>,
    number: u64,
    page: &[u8],
    blobs: &mut Vec<Vec<u8>>,
) -> Result<(), BdbError> {
    let bad = |reason| BdbError::BadPage {
        page: number,
        reason,
    };
    let entries = usize::from(db.order.u16(page, 20).unwrap_or_default());
    let mut offsets = Vec::with_capacity(entries.min(page.len() / 2));
    for i in 0..entries {
        let offset = db
            .order
            .u16(page, PAGE_HEADER_SIZE + 2 * i)
            .ok_or(bad("item index runs past the page"))?;
        offsets.push(usize::from(offset));
    }
    for pair in (0..offsets.len()).step_by(2) {
        let key = item(page, &offsets, pair).ok_or(bad("key item outside the page"))?;
        if key.first() == Some(&ITEM_KEYDATA)
            && key.get(1..).is_some_and(|k| k.iter().all(|&b| b == 0))
        {
            continue; // key 0: rpm's bookkeeping record
        }
        let value = item(page, &offsets, pair + 1).ok_or(bad("data item outside the page"))?;
        match value.first().copied() {
            Some(ITEM_KEYDATA) => blobs.push(value.get(1..).unwrap_or_default().to_vec()),
            Some(ITEM_OFFPAGE) => {
                let start = db.order.u32(value, 4).ok_or(bad("short off-page item"))?;
                let len = db.order.u32(value, 8).ok_or(bad("short off-page item"))?;
                blobs.push(db.overflow(start, len)?);
            }
            Some(other) => return Err(BdbError::UnsupportedItem(other)),
            None => return Err(bad("empty data item")),
        }
    }
    Ok(())
}

/// Item `i` of a hash page: from its offset to the previous item's offset (items grow down from the
/// page end), or `None` when the offsets are inconsistent with the page.
fn item<'p>(page: &'p [u8], offsets: &[usize], i: usize) -> Option<&'p [u8]> {
    let start = *offsets.get(i)?;
    let end = match i {
        0 => page.len(),
        _ => *offsets.get(i - 1)?,
    };
    if start < PAGE_HEADER_SIZE || start >= end {
        return None;
    }
    page.get(start..end)
}

/// Writes a little-endian Berkeley DB hash file holding `blobs` as rpm stores them (key = package
/// number, value = header blob, off-page when it does not fit). Test-only: Debian's rpm 4.18 can only
/// read BDB, so tests build real-format files from real header blobs with this. One hash page holds
/// all keys (a single bucket), which readers that walk pages, like this one and `bdb_ro.c`, accept.
#[cfg(test)]
pub(crate) fn write_bdb(blobs: &[Vec<u8>], page_size: usize) -> Vec<u8> {
    let lsn = [1u8, 0, 0, 0, 0x10, 0, 0, 0];
    let new_page = |number: usize, page_type: u8| {
        let mut page = vec![0u8; page_size];
        page[0..8].copy_from_slice(&lsn);
        page[8..12].copy_from_slice(&(number as u32).to_le_bytes());
        page[25] = page_type;
        page
    };
    let mut pages = vec![
        new_page(0, PAGE_TYPE_HASH_META),
        new_page(1, PAGE_TYPE_HASH),
    ];
    pages[0][12..16].copy_from_slice(&HASH_MAGIC.to_le_bytes());
    pages[0][16..20].copy_from_slice(&9u32.to_le_bytes());
    pages[0][20..24].copy_from_slice(&(page_size as u32).to_le_bytes());

    // Items: key 0 bookkeeping, then (key, off-page value) per blob.
    let mut items: Vec<Vec<u8>> = vec![
        vec![ITEM_KEYDATA, 0, 0, 0, 0],
        [
            vec![ITEM_KEYDATA],
            (blobs.len() as u32 + 1).to_le_bytes().to_vec(),
        ]
        .concat(),
    ];
    for (i, blob) in blobs.iter().enumerate() {
        items.push([vec![ITEM_KEYDATA], (i as u32 + 1).to_le_bytes().to_vec()].concat());
        let first = pages.len();
        let chunk = page_size - PAGE_HEADER_SIZE;
        let chunks: Vec<&[u8]> = blob.chunks(chunk).collect();
        for (j, data) in chunks.iter().enumerate() {
            let number = first + j;
            let mut page = new_page(number, PAGE_TYPE_OVERFLOW);
            let next = if j + 1 < chunks.len() { number + 1 } else { 0 };
            page[16..20].copy_from_slice(&(next as u32).to_le_bytes());
            page[22..24].copy_from_slice(&(data.len() as u16).to_le_bytes());
            page[PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + data.len()].copy_from_slice(data);
            pages.push(page);
        }
        let mut off_page = vec![ITEM_OFFPAGE, 0, 0, 0];
        off_page.extend_from_slice(&(first as u32).to_le_bytes());
        off_page.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        items.push(off_page);
    }
    let hash = &mut pages[1];
    hash[20..22].copy_from_slice(&(items.len() as u16).to_le_bytes());
    let mut top = page_size;
    for (i, item) in items.iter().enumerate() {
        top -= item.len();
        hash[top..top + item.len()].copy_from_slice(item);
        hash[PAGE_HEADER_SIZE + 2 * i..PAGE_HEADER_SIZE + 2 * i + 2]
            .copy_from_slice(&(top as u16).to_le_bytes());
    }
    let last = pages.len() as u32 - 1;
    pages[0][32..36].copy_from_slice(&last.to_le_bytes());
    pages.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_blobs() -> Vec<Vec<u8>> {
        vec![vec![0x11; 1200], b"short".to_vec()]
    }

    #[test]
    fn round_trips_blobs_through_overflow_chains() {
        let file = write_bdb(&sample_blobs(), 512);
        assert_eq!(header_blobs(&file).unwrap(), sample_blobs());
    }

    #[test]
    fn truncation_and_garbage_are_errors() {
        let file = write_bdb(&sample_blobs(), 512);
        assert_eq!(header_blobs(&file[..100]), Err(BdbError::Truncated(100)));
        // Cutting the file drops overflow pages that chains point to.
        for len in [1024, 1536, 2048, file.len() - 512] {
            assert!(header_blobs(&file[..len]).is_err(), "prefix {len}");
        }
        assert!(matches!(
            header_blobs(&[0x5a; 4096]),
            Err(BdbError::BadMagic(_))
        ));
    }

    #[test]
    fn overflow_loops_are_caught() {
        let mut file = write_bdb(&sample_blobs(), 512);
        // Page 3 is the second page of the first chain: point it back at page 2.
        file[3 * 512 + 16..3 * 512 + 20].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(
            header_blobs(&file),
            Err(BdbError::BadOverflow {
                start: 2,
                reason: "loop in overflow chain"
            })
        );
    }

    #[test]
    fn lying_lengths_are_errors() {
        let mut file = write_bdb(&sample_blobs(), 512);
        // Off-page item of the first blob: its length is the last 4 bytes of the item at the top of the
        // item stack that belongs to it; find it through the item index (entry 3).
        let off = u16::from_le_bytes([file[512 + 26 + 6], file[512 + 26 + 7]]) as usize;
        file[512 + off + 8..512 + off + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            header_blobs(&file),
            Err(BdbError::BadOverflow {
                start: 2,
                reason: "declared length exceeds the file"
            })
        );
        let mut file = write_bdb(&sample_blobs(), 512);
        file[512 + off + 8..512 + off + 12].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(
            header_blobs(&file),
            Err(BdbError::BadOverflow {
                start: 2,
                reason: "chain holds more data than declared"
            })
        );
        let mut file = write_bdb(&sample_blobs(), 512);
        file[20..24].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(header_blobs(&file), Err(BdbError::BadPageSize(1000)));
        let mut file = write_bdb(&sample_blobs(), 512);
        // Entry count far beyond the page.
        file[512 + 20..512 + 22].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(matches!(
            header_blobs(&file),
            Err(BdbError::BadPage { page: 1, .. })
        ));
    }
}
