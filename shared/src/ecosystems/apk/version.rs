//! apk-tools' version ordering, as implemented by `src/version.c` of apk-tools 3 (the comparator Alpine's
//! own package manager uses to decide upgrades, so the one a fixed version in the secdb is meant for).
//!
//! A version is `digit{.digit}…{letter}{_suffix{number}}…{~hash}{-r#}`:
//!
//! - the first number compares numerically; later dot-separated numbers compare numerically unless either
//!   has a leading zero, in which case they compare as strings (Gentoo's rule, so `1.02 < 1.1`);
//! - one lowercase letter may follow the numbers (`1.2a`);
//! - suffixes `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`, each with an optional
//!   number (`_rc2`, `_git20240101`);
//! - an optional commit hash `~1a2b3c` (lowercase hex) compares as a string;
//! - an optional revision `-rN` compares numerically.
//!
//! Comparison walks both versions token by token. Where the token kinds first differ, a pre-release suffix
//! sorts lowest, then the version with the "later" kind of token (or the one that ended, or went invalid)
//! sorts lower: `1.0_rc1 < 1.0 < 1.0-r1 < 1.0_p1 < 1.0a < 1.0.1`. Invalid input is not an error: the walk
//! stops at the first token that does not fit the grammar and that position compares as "invalid", exactly
//! as apk-tools does, so the order stays total and nothing panics.
//!
//! Written by hand because no maintained Rust crate implements apk-tools' ordering; the code follows
//! `version.c` token for token and is checked against apk-tools' own test vectors (`testdata/version.data`).

use std::cmp::Ordering;
use std::fmt;

use crate::ecosystems::order_key::OrderKey;

/// Kinds of token, in apk-tools' order. The order matters: where two versions first differ in token kind,
/// the one whose token kind is *later* in this list sorts lower (except pre-release suffixes, lowest of all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TokenKind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNumber,
    CommitHash,
    RevisionNumber,
    End,
    Invalid,
}

/// Suffix names in ascending order; `Release` is the position of "no suffix" and is never parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Suffix {
    Alpha,
    Beta,
    Pre,
    Rc,
    Release,
    Cvs,
    Svn,
    Git,
    Hg,
    P,
}

impl Suffix {
    fn from_name(name: &[u8]) -> Option<Suffix> {
        Some(match name {
            b"alpha" => Suffix::Alpha,
            b"beta" => Suffix::Beta,
            b"pre" => Suffix::Pre,
            b"rc" => Suffix::Rc,
            b"cvs" => Suffix::Cvs,
            b"svn" => Suffix::Svn,
            b"git" => Suffix::Git,
            b"hg" => Suffix::Hg,
            b"p" => Suffix::P,
            _ => return None,
        })
    }

    fn is_pre_release(self) -> bool {
        self < Suffix::Release
    }
}

/// One lexed token: its kind, its raw text and, for numbers, its value.
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: TokenKind,
    text: &'a [u8],
    /// Value of a number token. apk-tools accumulates into a `uint64_t` without overflow checks; wrapping
    /// reproduces it exactly for absurdly long numbers.
    number: u64,
    suffix: Suffix,
}

/// apk-tools' lexer: a cursor over the bytes plus the kind of the previous token, which decides what may
/// follow.
struct Lexer<'a> {
    rest: &'a [u8],
    previous: TokenKind,
}

impl<'a> Lexer<'a> {
    fn new(version: &'a str) -> Lexer<'a> {
        Lexer {
            rest: version.as_bytes(),
            previous: TokenKind::InitialDigit,
        }
    }

    fn token(&mut self, kind: TokenKind, text: &'a [u8]) -> Token<'a> {
        self.previous = kind;
        Token {
            kind,
            text,
            number: 0,
            suffix: Suffix::Release,
        }
    }

    fn invalid(&mut self) -> Token<'a> {
        self.token(TokenKind::Invalid, b"")
    }

    /// Splits off the longest prefix of `rest` whose bytes satisfy `keep`.
    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a [u8] {
        let len = self.rest.iter().take_while(|b| keep(**b)).count();
        let (taken, rest) = self.rest.split_at(len.min(self.rest.len()));
        self.rest = rest;
        taken
    }

    /// Skips one byte (the caller has checked it is there).
    fn skip_one(&mut self) {
        self.rest = self.rest.get(1..).unwrap_or_default();
    }

    fn digits(&mut self, kind: TokenKind) -> Token<'a> {
        let text = self.take_while(|b| b.is_ascii_digit());
        if text.is_empty() {
            return self.invalid();
        }
        let number = text.iter().fold(0u64, |acc, digit| {
            acc.wrapping_mul(10).wrapping_add(u64::from(digit - b'0'))
        });
        let mut token = self.token(kind, text);
        token.number = number;
        token
    }

    fn first(&mut self) -> Token<'a> {
        self.digits(TokenKind::InitialDigit)
    }

    fn next(&mut self) -> Token<'a> {
        let Some(&byte) = self.rest.first() else {
            return self.token(TokenKind::End, b"");
        };
        let previous = self.previous;
        match byte {
            b'a'..=b'z' => {
                if previous > TokenKind::Digit {
                    return self.invalid();
                }
                let text = self.rest.get(..1).unwrap_or_default();
                self.skip_one();
                self.token(TokenKind::Letter, text)
            }
            b'.' | b'0'..=b'9' => {
                if byte == b'.' {
                    if previous > TokenKind::Digit {
                        return self.invalid();
                    }
                    self.skip_one();
                }
                match previous {
                    TokenKind::InitialDigit | TokenKind::Digit => self.digits(TokenKind::Digit),
                    TokenKind::Suffix => self.digits(TokenKind::SuffixNumber),
                    _ => self.invalid(),
                }
            }
            b'_' => {
                if previous > TokenKind::SuffixNumber {
                    return self.invalid();
                }
                self.skip_one();
                let text = self.take_while(|b| b.is_ascii_lowercase());
                match Suffix::from_name(text) {
                    Some(suffix) => {
                        let mut token = self.token(TokenKind::Suffix, text);
                        token.suffix = suffix;
                        token
                    }
                    None => self.invalid(),
                }
            }
            b'~' => {
                if previous >= TokenKind::CommitHash {
                    return self.invalid();
                }
                self.skip_one();
                let text = self.take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if text.is_empty() {
                    return self.invalid();
                }
                self.token(TokenKind::CommitHash, text)
            }
            b'-' => {
                if previous >= TokenKind::RevisionNumber {
                    return self.invalid();
                }
                match self.rest.strip_prefix(b"-r") {
                    Some(rest) => {
                        self.rest = rest;
                        self.digits(TokenKind::RevisionNumber)
                    }
                    None => self.invalid(),
                }
            }
            _ => self.invalid(),
        }
    }
}

/// Compares two tokens of the same kind (apk-tools' `token_cmp`).
fn compare_same_kind(a: &Token<'_>, b: &Token<'_>) -> Ordering {
    match a.kind {
        TokenKind::Digit if a.text.first() == Some(&b'0') || b.text.first() == Some(&b'0') => {
            a.text.cmp(b.text)
        }
        TokenKind::Digit
        | TokenKind::InitialDigit
        | TokenKind::SuffixNumber
        | TokenKind::RevisionNumber => a.number.cmp(&b.number),
        TokenKind::Letter => a.text.first().cmp(&b.text.first()),
        TokenKind::Suffix => a.suffix.cmp(&b.suffix),
        TokenKind::CommitHash | TokenKind::End | TokenKind::Invalid => a.text.cmp(b.text),
    }
}

/// apk-tools' `apk_version_compare_fuzzy`: with `prefix_only`, `a` equals `b` when `b`'s tokens are a
/// prefix of `a`'s.
fn compare_tokens(a: &str, b: &str, prefix_only: bool) -> Ordering {
    let mut lexer_a = Lexer::new(a);
    let mut lexer_b = Lexer::new(b);
    let mut token_a = lexer_a.first();
    let mut token_b = lexer_b.first();
    while token_a.kind == token_b.kind && token_a.kind < TokenKind::End {
        let order = compare_same_kind(&token_a, &token_b);
        if order != Ordering::Equal {
            return order;
        }
        token_a = lexer_a.next();
        token_b = lexer_b.next();
    }
    if token_a.kind == token_b.kind || (prefix_only && token_b.kind == TokenKind::End) {
        return Ordering::Equal;
    }
    if token_a.kind == TokenKind::Suffix && token_a.suffix.is_pre_release() {
        return Ordering::Less;
    }
    if token_b.kind == TokenKind::Suffix && token_b.suffix.is_pre_release() {
        return Ordering::Greater;
    }
    // The version that stopped on the later kind of token is the lower one.
    token_b.kind.cmp(&token_a.kind)
}

/// Orders two apk versions the way apk-tools does. Total and panic-free for any strings: invalid
/// versions compare as apk-tools compares them (up to the first token that breaks the grammar).
pub fn compare(a: &str, b: &str) -> Ordering {
    compare_tokens(a, b, false)
}

/// The version's order key ([`version_order_key`](crate::ecosystems::version_order_key)): the tokens
/// [`compare`] walks, up to and including the first end or invalid one (what follows it never counts), each
/// after a tag ranking token kinds as `compare` does where kinds first differ: pre-release suffixes lowest
/// (`_alpha` < `_beta` < `_pre` < `_rc`), then invalid, end, revision, commit hash, suffix number, the other
/// suffixes in order, letter, digit, initial digit. A token's value follows its tag: numbers fixed-width, a
/// dot-separated number with a leading zero as text below every number without one (`compare` then compares
/// strings, and `0` sorts before `1`–`9`), a letter as its byte, a commit hash as text. Invalid versions have
/// keys too, as `compare` orders them; `None` only for a number beyond 64 bits, which apk-tools wraps.
pub fn order_key(version: &str) -> Option<Vec<u8>> {
    const INVALID: u8 = 0x05;
    const END: u8 = 0x06;
    const REVISION_NUMBER: u8 = 0x07;
    const COMMIT_HASH: u8 = 0x08;
    const SUFFIX_NUMBER: u8 = 0x09;
    const LETTER: u8 = 0x0F;
    const DIGIT: u8 = 0x10;
    const INITIAL_DIGIT: u8 = 0x11;
    const DIGIT_AS_TEXT: u8 = 0x01;
    const DIGIT_AS_NUMBER: u8 = 0x02;
    let exact_number = |token: &Token<'_>| {
        token.text.iter().try_fold(0u64, |acc, digit| {
            acc.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
        })
    };
    let mut key = OrderKey::new();
    let mut lexer = Lexer::new(version);
    let mut token = lexer.first();
    loop {
        match token.kind {
            TokenKind::InitialDigit => {
                key.tag(INITIAL_DIGIT);
                key.number(exact_number(&token)?);
            }
            TokenKind::Digit => {
                key.tag(DIGIT);
                if token.text.first() == Some(&b'0') {
                    key.tag(DIGIT_AS_TEXT);
                    key.text(std::str::from_utf8(token.text).ok()?)?;
                } else {
                    key.tag(DIGIT_AS_NUMBER);
                    key.number(exact_number(&token)?);
                }
            }
            TokenKind::Letter => {
                key.tag(LETTER);
                key.tag(token.text.first().copied()?);
            }
            // Pre-release suffixes take 0x01–0x04, the others 0x0A–0x0E, around the kinds between.
            TokenKind::Suffix => key.tag(match token.suffix {
                Suffix::Alpha => 0x01,
                Suffix::Beta => 0x02,
                Suffix::Pre => 0x03,
                Suffix::Rc => 0x04,
                Suffix::Release => return None,
                Suffix::Cvs => 0x0A,
                Suffix::Svn => 0x0B,
                Suffix::Git => 0x0C,
                Suffix::Hg => 0x0D,
                Suffix::P => 0x0E,
            }),
            TokenKind::SuffixNumber => {
                key.tag(SUFFIX_NUMBER);
                key.number(exact_number(&token)?);
            }
            TokenKind::CommitHash => {
                key.tag(COMMIT_HASH);
                key.text(std::str::from_utf8(token.text).ok()?)?;
            }
            TokenKind::RevisionNumber => {
                key.tag(REVISION_NUMBER);
                key.number(exact_number(&token)?);
            }
            TokenKind::End => {
                key.tag(END);
                return key.finish();
            }
            TokenKind::Invalid => {
                key.tag(INVALID);
                return key.finish();
            }
        }
        token = lexer.next();
    }
}

/// Whether `version` is a well-formed apk version (apk-tools' `apk_version_validate`).
pub fn is_valid(version: &str) -> bool {
    let mut lexer = Lexer::new(version);
    let mut token = lexer.first();
    while token.kind < TokenKind::End {
        token = lexer.next();
    }
    token.kind == TokenKind::End
}

/// apk's `~` dependency operator: whether `version` starts with the components of `prefix`
/// (`3.6.9 ~ 3.6`, but not `3.8.0 ~ 3.8.1`).
pub fn fuzzy_matches(version: &str, prefix: &str) -> bool {
    compare_tokens(version, prefix, true) == Ordering::Equal
}

/// Why a string was refused as an apk version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a valid apk version (expected digits{{.digits}}[letter][_suffix[N]]…[~hash][-rN])"
)]
pub struct InvalidApkVersion(String);

/// A validated apk version. Ordering and equality follow [`compare`], so `1.0-r0` and `1.0` are different
/// versions while equal text is always equal.
#[derive(Debug, Clone)]
pub struct ApkVersion(String);

impl ApkVersion {
    /// Validates `version` against apk-tools' grammar.
    pub fn parse(version: &str) -> Result<ApkVersion, InvalidApkVersion> {
        if is_valid(version) {
            Ok(ApkVersion(version.to_owned()))
        } else {
            Err(InvalidApkVersion(version.chars().take(80).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for ApkVersion {
    type Err = InvalidApkVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApkVersion::parse(s)
    }
}

impl fmt::Display for ApkVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq for ApkVersion {
    fn eq(&self, other: &Self) -> bool {
        compare(&self.0, &other.0) == Ordering::Equal
    }
}

impl Eq for ApkVersion {}

impl PartialOrd for ApkVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ApkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(&self.0, &other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Ordering::{Equal, Greater, Less};

    /// apk-tools' own test vectors, run with the semantics of apk-tools' `test/unit/version_test.c`.
    const APK_TOOLS_VECTORS: &str = include_str!("testdata/version.data");

    /// apk-tools' `apk_version_result_mask_blob`: `<` less, `>` greater, `=` equal, `~` fuzzy + equal.
    fn result_mask(op: &str) -> Option<(bool, bool, bool, bool)> {
        let (mut less, mut greater, mut equal, mut fuzzy) = (false, false, false, false);
        for c in op.chars() {
            match c {
                '<' => less = true,
                '>' => greater = true,
                '=' => equal = true,
                '~' => {
                    fuzzy = true;
                    equal = true
                }
                _ => return None,
            }
        }
        Some((less, greater, equal, fuzzy))
    }

    /// Evaluates one vector line; `None` when it holds, `Some(line)` when it fails.
    fn check_vector_line(raw: &str) -> Option<String> {
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            return None;
        }
        let holds = match line
            .split_once(' ')
            .and_then(|(a, rest)| rest.split_once(' ').map(|(op, b)| (a, op, b)))
        {
            Some((a, op, b)) => {
                let (inverted, op) = match op.strip_prefix('!') {
                    Some(op) => (true, op),
                    None => (false, op),
                };
                let Some((less, greater, equal, fuzzy)) = result_mask(op) else {
                    return Some(format!("{line} (unknown operator)"));
                };
                let order = if fuzzy && fuzzy_matches(a, b) {
                    Equal
                } else {
                    compare(a, b)
                };
                let ok = match order {
                    Less => less,
                    Greater => greater,
                    Equal => equal,
                };
                ok != inverted
            }
            None => match line.strip_prefix('!') {
                Some(version) => !is_valid(version),
                None => is_valid(line),
            },
        };
        (!holds).then(|| line.to_owned())
    }

    #[test]
    fn passes_every_apk_tools_vector() {
        let lines: Vec<&str> = APK_TOOLS_VECTORS.lines().collect();
        assert!(lines.len() > 700, "vector file looks truncated");
        let failures: Vec<String> = lines.iter().filter_map(|l| check_vector_line(l)).collect();
        assert!(
            failures.is_empty(),
            "failing apk-tools vectors: {failures:#?}"
        );
    }

    #[test]
    fn vector_runner_detects_a_wrong_expectation() {
        assert_eq!(check_vector_line("1.0 < 1.1"), None);
        assert_eq!(check_vector_line("1.0 > 1.1"), Some("1.0 > 1.1".to_owned()));
        assert_eq!(check_vector_line("!1.0"), Some("!1.0".to_owned()));
        assert!(check_vector_line("1.0 <> 1.1").is_none());
        assert!(check_vector_line("1.0 ?? 1.1").is_some());
        assert_eq!(check_vector_line("   # only a comment"), None);
    }

    #[test]
    fn orders_suffixes_revisions_and_letters() {
        let ascending = [
            "1.0_alpha",
            "1.0_alpha2",
            "1.0_beta",
            "1.0_pre1",
            "1.0_rc1",
            "1.0",
            "1.0-r1",
            "1.0-r10",
            "1.0_cvs",
            "1.0_svn",
            "1.0_git20240101",
            "1.0_hg",
            "1.0_p1",
            "1.0_p2",
            "1.0a",
            "1.0b",
            "1.0.1",
            "1.1",
            "1.10",
            "2",
        ];
        for pair in ascending.windows(2) {
            assert_eq!(compare(pair[0], pair[1]), Less, "{} < {}", pair[0], pair[1]);
            assert_eq!(
                compare(pair[1], pair[0]),
                Greater,
                "{} > {}",
                pair[1],
                pair[0]
            );
        }
    }

    #[test]
    fn secdb_style_fixed_versions() {
        // Real fixed versions from Alpine's secdb against plausible installed versions.
        assert_eq!(compare("3.1.4-r5", "3.1.4-r6"), Less);
        assert_eq!(compare("3.1.4-r6", "3.1.4-r6"), Equal);
        assert_eq!(compare("3.1.5-r0", "3.1.4-r6"), Greater);
        assert_eq!(
            compare("1.2.4_git20230717-r4", "1.2.4_git20230717-r5"),
            Less
        );
        assert_eq!(compare("1.36.1-r15", "1.36.1-r7"), Greater);
        assert_eq!(compare("2.4.57-r0", "2.4.6-r0"), Greater);
        assert_eq!(compare("9.3_p2-r0", "9.3_p1-r1"), Greater);
        assert_eq!(compare("9.3-r0", "9.3_p1-r0"), Less);
    }

    #[test]
    fn leading_zeros_compare_as_strings_after_the_first_number() {
        assert_eq!(compare("1.02", "1.1"), Less);
        assert_eq!(compare("1.0", "1.00"), Less);
        assert_eq!(compare("1.010", "1.02"), Less);
        // The first number is always numeric: 006 is 6.
        assert_eq!(compare("006", "6"), Equal);
        assert_eq!(compare("006", "1.0.0"), Greater);
    }

    #[test]
    fn invalid_input_compares_without_panicking() {
        // apk-tools compares up to the first token that breaks the grammar; an invalid tail is lower than
        // an end or any post-release token, higher than a pre-release suffix.
        assert_eq!(compare("1.0_foo", "1.0_bar"), Equal);
        assert_eq!(compare("1.0_foo", "1.0"), Less);
        assert_eq!(compare("1.0_foo", "1.0_rc1"), Greater);
        assert_eq!(compare("", ""), Equal);
        assert_eq!(compare("", "0"), Less);
        assert_eq!(compare("abc", "1"), Less);
        assert_eq!(compare("1.0\0", "1.0"), Less);
        assert_eq!(compare("1.0-r", "1.0-r0"), Less);
        assert_eq!(compare("1.0~", "1.0~0"), Less);
        assert_eq!(compare("½", "1"), Less);
        assert!(!is_valid(""));
        assert!(!is_valid("1.0 "));
        assert!(!is_valid("1.0-R1"));
    }

    #[test]
    fn huge_numbers_wrap_like_apk_tools() {
        // 2^64 + 1 wraps to 1 in apk-tools' uint64_t accumulator.
        assert_eq!(compare("18446744073709551617", "1"), Equal);
        assert_eq!(compare(&"9".repeat(10_000), "1"), Greater);
        assert!(is_valid(&format!("1.{}", "9".repeat(100_000))));
    }

    #[test]
    fn apk_version_type_validates_and_orders() {
        let mut versions: Vec<ApkVersion> = ["1.2-r1", "1.2_rc1", "1.10", "1.2"]
            .iter()
            .map(|v| v.parse().unwrap())
            .collect();
        versions.sort();
        let sorted: Vec<&str> = versions.iter().map(ApkVersion::as_str).collect();
        assert_eq!(sorted, ["1.2_rc1", "1.2", "1.2-r1", "1.10"]);
        let err = "1.2-beta".parse::<ApkVersion>().unwrap_err();
        assert!(err.to_string().contains("not a valid apk version"), "{err}");
        assert_eq!(ApkVersion::parse("1.0").unwrap().to_string(), "1.0");
    }

    /// Well-formed versions in the whole grammar, leading zeros and commit hashes included.
    fn any_valid_version() -> impl Strategy<Value = String> {
        let number = prop_oneof!["0", "[1-9][0-9]{0,3}", "0[0-9]{1,2}"];
        let suffix = (
            prop_oneof!["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"],
            prop::option::of("[0-9]{1,3}"),
        )
            .prop_map(|(name, n)| format!("_{name}{}", n.unwrap_or_default()));
        (
            "[0-9]{1,3}",
            prop::collection::vec(number, 0..4),
            prop::option::of("[a-z]"),
            prop::collection::vec(suffix, 0..3),
            prop::option::of("[0-9a-f]{1,4}"),
            prop::option::of("[0-9]{1,2}"),
        )
            .prop_map(|(first, rest, letter, suffixes, hash, revision)| {
                let mut v = first;
                for n in rest {
                    v.push('.');
                    v.push_str(&n);
                }
                v.push_str(&letter.unwrap_or_default());
                v.push_str(&suffixes.concat());
                if let Some(h) = hash {
                    v.push('~');
                    v.push_str(&h);
                }
                if let Some(r) = revision {
                    v.push_str("-r");
                    v.push_str(&r);
                }
                v
            })
    }

    /// Valid versions plus mangled ones, so the invalid paths are exercised too.
    fn any_version() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => any_valid_version(),
            1 => "[0-9a-z._~-]{0,12}",
            1 => any::<String>(),
        ]
    }

    /// The Go program that answers for the reference implementation: one `a<TAB>b` pair per input line, one
    /// `-1`/`0`/`1` per output line.
    const REFERENCE_PROGRAM: &str = r#"package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	version "github.com/knqyf263/go-apk-version"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		pair := strings.SplitN(in.Text(), "\t", 2)
		if len(pair) != 2 {
			fmt.Fprintln(out, "?")
			continue
		}
		fmt.Fprintln(out, version.Version(pair[0]).Compare(version.Version(pair[1])))
	}
}
"#;

    const REFERENCE_INSTALL: &str = "the apk reference comparator is knqyf263/go-apk-version (the one Clair and \
        Trivy use), run with Go: `apt-get install -y golang-go golang-github-knqyf263-go-apk-version-dev` \
        (or set LUCID_REF_GOPATH to a GOPATH holding github.com/knqyf263/go-apk-version)";

    /// Compares every pair with go-apk-version in one `go run`.
    fn reference_compare(pairs: &[(String, String)]) -> Vec<Ordering> {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let gopath =
            std::env::var("LUCID_REF_GOPATH").unwrap_or_else(|_| "/usr/share/gocode".into());
        let library = std::path::Path::new(&gopath).join("src/github.com/knqyf263/go-apk-version");
        assert!(
            library.is_dir(),
            "{} is missing: {REFERENCE_INSTALL}",
            library.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("main.go");
        std::fs::write(&program, REFERENCE_PROGRAM).unwrap();
        let mut child = Command::new("go")
            .arg("run")
            .arg(&program)
            .env("GO111MODULE", "off")
            .env("GOPATH", &gopath)
            .env("GOCACHE", std::env::temp_dir().join("lucid-ref-go-cache"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `go` ({e}): {REFERENCE_INSTALL}"));
        let mut input = String::new();
        for (a, b) in pairs {
            input.push_str(&format!("{a}\t{b}\n"));
        }
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(
            output.status.success(),
            "reference failed: {}\n{REFERENCE_INSTALL}",
            String::from_utf8_lossy(&output.stderr)
        );
        let verdicts: Vec<Ordering> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|l| match l {
                "-1" => Less,
                "0" => Equal,
                "1" => Greater,
                other => panic!("unexpected reference answer {other:?}"),
            })
            .collect();
        assert_eq!(
            verdicts.len(),
            pairs.len(),
            "reference answered a different number of pairs"
        );
        verdicts
    }

    /// Versions in the part of the grammar where go-apk-version (a port of apk-tools 2) and apk-tools 3
    /// agree: no leading zeros after the first number (revision included), no `~hash`, no `_suffix`.
    /// CI found go-apk-version ordering pre-release suffixes after the bare release now and then
    /// (`62.0_beta36914` > `62.0`, `9010.0_rc_pre849` > `9010.0`, `7.0_beta322-r0` > `7.0`), which apk-tools
    /// never does; suffixes are checked against apk-tools' own `version.data` vectors instead.
    fn reference_domain_version() -> impl Strategy<Value = String> {
        let number = prop_oneof!["0", "[1-9][0-9]{0,4}"];
        let suffixes = Just(Vec::<String>::new());
        (
            "[1-9][0-9]{0,3}",
            prop::collection::vec(number, 0..4),
            prop::option::of("[a-z]"),
            suffixes,
            prop::option::of(prop_oneof!["0", "[1-9][0-9]?"]),
        )
            .prop_map(|(first, rest, letter, suffixes, revision)| {
                let mut v = first;
                for n in rest {
                    v.push('.');
                    v.push_str(&n);
                }
                v.push_str(&letter.unwrap_or_default());
                v.push_str(&suffixes.concat());
                if let Some(r) = revision {
                    v.push_str("-r");
                    v.push_str(&r);
                }
                v
            })
    }

    #[test]
    fn agrees_with_reference_implementation() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::default();
        // Close pairs (a shared prefix) find ordering bugs that independent pairs rarely reach.
        let independent = (reference_domain_version(), reference_domain_version());
        let mut pairs: Vec<(String, String)> = (0..6000)
            .map(|_| independent.new_tree(&mut runner).unwrap().current())
            .collect();
        let related: Vec<(String, String)> = pairs
            .iter()
            .take(3000)
            .map(|(a, b)| {
                let cut = a.len().min(b.len()) / 2;
                let prefix = a.get(..cut).unwrap_or_default();
                (
                    a.clone(),
                    format!("{prefix}{}", b.get(cut..).unwrap_or_default()),
                )
            })
            // Splicing may cut `105` into `1.0|5`; keep only versions still inside the domain.
            .filter(|(_, b)| {
                is_valid(b)
                    && !b
                        .as_bytes()
                        .windows(3)
                        .any(|w| w[0] == b'.' && w[1] == b'0' && w[2].is_ascii_digit())
            })
            .collect();
        pairs.extend(related);
        let expected = reference_compare(&pairs);
        let disagreements: Vec<String> = pairs
            .iter()
            .zip(&expected)
            .filter(|((a, b), want)| compare(a, b) != **want)
            .map(|((a, b), want)| {
                format!("{a} vs {b}: reference {want:?}, ours {:?}", compare(a, b))
            })
            .collect();
        assert!(
            disagreements.is_empty(),
            "{} of {} pairs disagree, e.g. {:#?}",
            disagreements.len(),
            pairs.len(),
            &disagreements[..disagreements.len().min(20)]
        );
    }

    /// The `a < b` lines of the vector file.
    fn vector_less_pairs() -> &'static [(&'static str, &'static str)] {
        static PAIRS: std::sync::OnceLock<Vec<(&'static str, &'static str)>> =
            std::sync::OnceLock::new();
        PAIRS.get_or_init(|| {
            APK_TOOLS_VECTORS
                .lines()
                .filter_map(|l| l.split('#').next())
                .filter_map(|l| {
                    let mut parts = l.split_whitespace();
                    match (parts.next(), parts.next(), parts.next()) {
                        (Some(a), Some("<"), Some(b)) => Some((a, b)),
                        _ => None,
                    }
                })
                .collect()
        })
    }

    /// [`order_key`] against [`compare`] (itself checked against apk-tools' vectors above): same order,
    /// equal keys exactly for equal versions, a key for every string whose numbers fit 64 bits.
    #[test]
    fn order_keys_sort_as_compare_does() {
        let pairs = crate::ecosystems::python::version::reference_tool::generate(
            prop_oneof![
                4 => (any_version(), any_version()),
                // Near neighbours: one more token, or an invalid tail.
                2 => any_valid_version().prop_flat_map(|a| {
                    let tails = vec![".0", ".1", ".01", "a", "_rc1", "_p", "_p1", "~ab", "-r1", "-r0", "!", ""];
                    (Just(a), prop::sample::select(tails))
                        .prop_map(|(a, tail)| (a.clone(), format!("{a}{tail}")))
                }),
            ],
            30_000,
        );
        let fits = |v: &str| {
            !v.split(|c: char| !c.is_ascii_digit())
                .any(|run| run.parse::<u64>().is_err() && !run.is_empty())
        };
        crate::ecosystems::order_key::assert_keys_sort_as_compare(
            &pairs, order_key, compare, fits, 1000,
        );
    }

    #[test]
    fn order_keys_follow_the_token_kinds() {
        let ordered = [
            "1.0_alpha",
            "1.0_rc1",
            "1.0",
            "1.0-r1",
            "1.0~ab",
            "1.0_p1",
            "1.0a",
            "1.0.1",
            "1.00",
            "1.01",
            "1.1",
            "1.9",
            "1.10",
            "2",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert!(order_key(pair[0]) < order_key(pair[1]), "{pair:?}");
        }
        // Nothing after the first invalid token counts.
        assert_eq!(order_key("1.0!a"), order_key("1.0!b"));
        assert_eq!(order_key(&format!("1.{}", "9".repeat(20))), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn generated_valid_versions_are_valid(v in any_valid_version()) {
            prop_assert!(is_valid(&v), "{v}");
            prop_assert_eq!(compare(&v, &v), Equal);
        }

        #[test]
        fn antisymmetric(a in any_version(), b in any_version()) {
            prop_assert_eq!(compare(&a, &b), compare(&b, &a).reverse());
        }

        #[test]
        fn transitive(mut three in prop::collection::vec(any_version(), 3)) {
            three.sort_by(|x, y| compare(x, y));
            prop_assert_ne!(compare(&three[0], &three[1]), Greater);
            prop_assert_ne!(compare(&three[1], &three[2]), Greater);
            prop_assert_ne!(compare(&three[0], &three[2]), Greater);
            if compare(&three[0], &three[1]) == Less || compare(&three[1], &three[2]) == Less {
                prop_assert_eq!(compare(&three[0], &three[2]), Less);
            }
        }

        #[test]
        fn revision_and_post_suffix_raise_pre_suffix_lowers(
            // Plain numbers only, so that every appended tail is still well-formed.
            v in "[0-9]{1,3}(\\.(0|[1-9][0-9]{0,3}|0[0-9]{1,2})){0,3}"
        ) {
            prop_assert_eq!(compare(&v, &format!("{v}-r1")), Less);
            prop_assert_eq!(compare(&v, &format!("{v}_p1")), Less);
            prop_assert_eq!(compare(&v, &format!("{v}.1")), Less);
            prop_assert_eq!(compare(&v, &format!("{v}_rc1")), Greater);
            prop_assert_eq!(compare(&v, &format!("{v}_alpha")), Greater);
        }

        #[test]
        fn consistent_with_the_vectors(v in any_valid_version()) {
            // For every `a < b` vector, a generated version at or below `a` is below `b`: the order stays
            // transitive through the versions the vectors name.
            for (a, b) in vector_less_pairs() {
                if compare(&v, a) != Greater {
                    prop_assert_eq!(compare(&v, b), Less, "{} <= {} < {}", v, a, b);
                }
            }
        }
    }
}
