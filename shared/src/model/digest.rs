//! Content digests (`sha256:<hex>`), the identity of manifests and layers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The hash algorithms a digest may name. Clair requires sha256 and accepts sha512.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestAlgorithm {
    Sha256,
    Sha512,
}

impl DigestAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 64,
            DigestAlgorithm::Sha512 => 128,
        }
    }
}

/// Why a string is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("digest {0:?} has no ':' between algorithm and hex")]
    MissingSeparator(String),
    #[error("digest algorithm {0:?} is not supported (use sha256 or sha512)")]
    UnsupportedAlgorithm(String),
    #[error("digest hex part must be {expected} lowercase hex characters, got {got:?}")]
    BadHex { expected: usize, got: String },
}

/// A validated content digest such as `sha256:2c26b4…`.
///
/// The hex part is always lowercase and of the algorithm's length, so a `Digest` is safe to use in object
/// keys, file names and SQL parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: DigestAlgorithm,
    hex: String,
}

impl Digest {
    /// The sha256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        use sha2::Digest as _;
        Digest {
            algorithm: DigestAlgorithm::Sha256,
            hex: hex::encode(sha2::Sha256::digest(bytes)),
        }
    }

    /// Builds a sha256 digest from an already computed hash.
    pub fn from_sha256_bytes(hash: &[u8]) -> Digest {
        Digest {
            algorithm: DigestAlgorithm::Sha256,
            hex: hex::encode(hash),
        }
    }

    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (algo, hex) = s
            .split_once(':')
            .ok_or_else(|| DigestError::MissingSeparator(truncate(s)))?;
        let algorithm = match algo {
            "sha256" => DigestAlgorithm::Sha256,
            "sha512" => DigestAlgorithm::Sha512,
            other => return Err(DigestError::UnsupportedAlgorithm(truncate(other))),
        };
        let ok = hex.len() == algorithm.hex_len()
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !ok {
            return Err(DigestError::BadHex {
                expected: algorithm.hex_len(),
                got: truncate(hex),
            });
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_owned(),
        })
    }
}

/// Keeps error messages short when the input is hostile.
fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_sha256() {
        let s = format!("sha256:{}", "ab".repeat(32));
        let d: Digest = s.parse().unwrap();
        assert_eq!(d.to_string(), s);
        assert_eq!(d.algorithm(), DigestAlgorithm::Sha256);
    }

    #[test]
    fn rejects_bad_digests() {
        assert!(matches!(
            "sha256".parse::<Digest>(),
            Err(DigestError::MissingSeparator(_))
        ));
        assert!(matches!(
            "md5:abcd".parse::<Digest>(),
            Err(DigestError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            "sha256:ABCD".parse::<Digest>(),
            Err(DigestError::BadHex { .. })
        ));
        let upper = format!("sha256:{}", "AB".repeat(32));
        assert!(upper.parse::<Digest>().is_err());
        let traversal = format!("sha256:../{}", "a".repeat(61));
        assert!(traversal.parse::<Digest>().is_err());
    }

    #[test]
    fn sha256_of_known_value() {
        assert_eq!(
            Digest::sha256_of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
