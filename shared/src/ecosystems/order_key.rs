//! Building blocks of version order keys ([`version_order_key`](super::version_order_key)): byte strings
//! whose order (PostgreSQL's `bytea` comparison, Rust's `[u8]` one) is an ecosystem's version order.
//!
//! Written by hand: a key must mirror each comparator exactly, quirks included (npm's numbers are
//! JavaScript doubles, pep440_rs's missing `.dev` is `u64::MAX`), which a general-purpose order-preserving
//! encoding crate cannot know. The pieces are few:
//!
//! - a fixed-width number ([`OrderKey::number`]) sorts numerically;
//! - a digit string ([`OrderKey::digits`]) is its length then its bytes, so it sorts the way SemVer
//!   implementations compare numeric identifiers (length first, then the digits);
//! - text ([`OrderKey::text`]) is its bytes then `0x00`, so a prefix sorts first;
//! - a list is its items, each after a tag byte above `0x00`, then a `0x00` end: a list that is a prefix of
//!   another sorts first, and the tag orders items of different kinds.
//!
//! Every key's first byte is below `0xFF` ([`OrderKey::finish`]), so keys stay below
//! [`UNBOUNDED_VERSION_KEY`](super::UNBOUNDED_VERSION_KEY).

/// A key being built; [`OrderKey::finish`] hands it out.
#[derive(Debug, Default)]
pub(crate) struct OrderKey(Vec<u8>);

/// Digit strings longer than this get no key: no real version has such a number, and the length prefix
/// stays two bytes whose first is below `0xFF`.
const MAX_DIGITS: usize = 1024;

/// A list's end, below every item's tag.
pub(crate) const LIST_END: u8 = 0x00;

impl OrderKey {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// One byte: a tag ranking alternatives (a list item's kind, a release above a prerelease).
    pub(crate) fn tag(&mut self, tag: u8) {
        self.0.push(tag);
    }

    /// A number, fixed-width big-endian, so numbers sort numerically.
    pub(crate) fn number(&mut self, n: u64) {
        self.0.extend_from_slice(&n.to_be_bytes());
    }

    /// A string of ASCII digits, ordered by length then bytes (`9` < `10`; for digits without leading
    /// zeros that is numeric order). `None` for anything else, or more than [`MAX_DIGITS`] digits.
    pub(crate) fn digits(&mut self, digits: &str) -> Option<()> {
        if digits.is_empty()
            || digits.len() > MAX_DIGITS
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        self.0
            .extend_from_slice(&(digits.len() as u16).to_be_bytes());
        self.0.extend_from_slice(digits.as_bytes());
        Some(())
    }

    /// Text ordered by its bytes, a prefix before what extends it: the bytes then `0x00`. `None` if the
    /// text holds a `0x00` itself.
    pub(crate) fn text(&mut self, text: &str) -> Option<()> {
        if text.bytes().any(|b| b == 0) {
            return None;
        }
        self.0.extend_from_slice(text.as_bytes());
        self.0.push(0);
        Some(())
    }

    /// The key, if its first byte is below `0xFF` (only absurd epochs or numbers reach it).
    pub(crate) fn finish(self) -> Option<Vec<u8>> {
        (self.0.first().is_some_and(|b| *b < 0xFF)).then_some(self.0)
    }
}

/// One SemVer prerelease identifier: digits only (numeric) or not.
fn is_numeric(identifier: &str) -> bool {
    !identifier.is_empty() && identifier.bytes().all(|b| b.is_ascii_digit())
}

/// A key in SemVer 2.0 precedence (semver.org §11), shared by the ecosystems that use it (npm, Go,
/// crates.io), each after its own parser: `MAJOR.MINOR.PATCH` as digit strings, then a release above any
/// prerelease, and a prerelease's identifiers in order, numeric ones (by length then digits) below
/// alphanumeric ones (by bytes), a shorter list first. Build metadata is not part of precedence, so
/// callers leave it out.
pub(crate) fn semver<'a>(
    major: &str,
    minor: &str,
    patch: &str,
    prerelease: impl IntoIterator<Item = &'a str>,
) -> Option<Vec<u8>> {
    const PRERELEASE: u8 = 0x01;
    const RELEASE: u8 = 0x02;
    const NUMERIC: u8 = 0x01;
    const ALPHANUMERIC: u8 = 0x02;
    let mut key = OrderKey::new();
    key.digits(major)?;
    key.digits(minor)?;
    key.digits(patch)?;
    let mut identifiers = prerelease.into_iter().peekable();
    if identifiers.peek().is_none() {
        key.tag(RELEASE);
        return key.finish();
    }
    key.tag(PRERELEASE);
    for identifier in identifiers {
        if is_numeric(identifier) {
            key.tag(NUMERIC);
            key.digits(identifier)?;
        } else {
            key.tag(ALPHANUMERIC);
            key.text(identifier)?;
        }
    }
    key.tag(LIST_END);
    key.finish()
}

/// Checks an ecosystem's order key against its comparator on generated pairs: a key exactly for the
/// versions `parses` accepts, keys in the comparator's order (equal keys exactly for equal versions), every
/// key below `0xFF`; and enough of each outcome that the check means something.
#[cfg(test)]
pub(crate) fn assert_keys_sort_as_compare(
    pairs: &[(String, String)],
    order_key: impl Fn(&str) -> Option<Vec<u8>>,
    compare: impl Fn(&str, &str) -> std::cmp::Ordering,
    parses: impl Fn(&str) -> bool,
    at_least_each: usize,
) {
    let mut counts = [0usize; 3];
    for (a, b) in pairs {
        let (ka, kb) = (order_key(a), order_key(b));
        assert_eq!(ka.is_some(), parses(a), "{a:?}: {ka:02x?}");
        assert_eq!(kb.is_some(), parses(b), "{b:?}: {kb:02x?}");
        if let (Some(ka), Some(kb)) = (ka, kb) {
            // Below the bound of records that may affect any version.
            assert!(ka.first().is_some_and(|b| *b < 0xFF), "{a:?}: {ka:02x?}");
            let expected = compare(a, b);
            assert_eq!(
                ka.cmp(&kb),
                expected,
                "{a:?} vs {b:?}: {ka:02x?} vs {kb:02x?}"
            );
            counts[(expected as i8 + 1) as usize] += 1;
        }
    }
    assert!(
        counts.iter().all(|n| *n >= at_least_each),
        "lt, eq, gt: {counts:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_keys_follow_the_precedence_example() {
        // semver.org §11's example, then the same with longer numbers.
        let ordered = [
            ("1", "0", "0", &["alpha"][..]),
            ("1", "0", "0", &["alpha", "1"]),
            ("1", "0", "0", &["alpha", "beta"]),
            ("1", "0", "0", &["beta"]),
            ("1", "0", "0", &["beta", "2"]),
            ("1", "0", "0", &["beta", "11"]),
            ("1", "0", "0", &["rc", "1"]),
            ("1", "0", "0", &[]),
            ("2", "0", "0", &[]),
            ("2", "1", "0", &[]),
            ("2", "1", "1", &[]),
            ("10", "0", "0", &["0"]),
            ("10", "0", "0", &["a-"]),
            ("10", "0", "0", &["a-", "0"]),
            ("10", "0", "0", &[]),
        ];
        let keys: Vec<Vec<u8>> = ordered
            .iter()
            .map(|(ma, mi, pa, pre)| semver(ma, mi, pa, pre.iter().copied()).unwrap())
            .collect();
        for (pair, versions) in keys.windows(2).zip(ordered.windows(2)) {
            assert!(pair[0] < pair[1], "{versions:?}");
        }
    }

    #[test]
    fn refuses_what_it_cannot_order() {
        assert_eq!(semver("1", "x", "0", []), None);
        assert_eq!(semver("", "0", "0", []), None);
        assert_eq!(semver(&"9".repeat(MAX_DIGITS + 1), "0", "0", []), None);
        assert!(semver(&"9".repeat(MAX_DIGITS), "0", "0", []).is_some());
        assert_eq!(semver("1", "0", "0", ["a\0"]), None);
        let mut key = OrderKey::new();
        key.number(u64::MAX);
        assert_eq!(key.finish(), None);
        assert_eq!(OrderKey::new().finish(), None);
    }
}
