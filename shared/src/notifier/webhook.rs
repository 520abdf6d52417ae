//! Webhook delivery: the signed POST Clair's notifier makes (`{"notification_id", "callback"}`), retry
//! timing, and the guard that keeps subscribers from pointing the service at internal addresses.
//!
//! Signature: `X-Lucid-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the
//! subscriber's secret, so receivers can verify the sender and reject replays (a stale `t`). The timestamp
//! is inside the MAC, so it cannot be changed without the secret. [`verify_signature`] is what a receiver
//! does.

use std::net::IpAddr;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-lucid-signature";

/// Clair's webhook body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WebhookBody {
    pub notification_id: uuid::Uuid,
    /// The paged `GET /notifier/api/v1/notification/{id}` URL.
    pub callback: String,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail; an empty key still yields a (weak) MAC.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new_from_slice(b"\0").expect("1-byte key"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature header value for `body` sent at `timestamp` (unix seconds).
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(tag))
}

/// Why a signature was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("malformed signature header")]
    Malformed,
    #[error("signature timestamp outside the accepted window")]
    Stale,
    #[error("signature does not match")]
    Mismatch,
}

/// Checks a signature header as a receiver would: well-formed, at most `tolerance` from `now`, and
/// matching (compared in constant time).
pub fn verify_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut tag = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => tag = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(timestamp), Some(tag)) = (timestamp, tag) else {
        return Err(SignatureError::Malformed);
    };
    if now.abs_diff(timestamp) > tolerance.as_secs() {
        return Err(SignatureError::Stale);
    }
    mac(secret, timestamp, body)
        .verify_slice(&tag)
        .map_err(|_| SignatureError::Mismatch)
}

/// Delay before delivery attempt `attempt` (1 = the first retry): exponential from `base`, capped at
/// `cap`, with "full jitter" (uniform in [0, that]) so retries of many subscribers spread out.
pub fn retry_delay(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exponential = base.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
    let ceiling = exponential.min(cap);
    let millis = ceiling.as_millis().min(u128::from(u64::MAX)) as u64;
    Duration::from_millis(rand::random_range(0..=millis))
}

/// Why a webhook target is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("webhook target {0:?} is not an http(s) URL")]
    NotHttp(String),
    #[error(
        "webhook target {url:?} resolves to {address}, an internal address (allow with LUCID_WEBHOOK_ALLOW_PRIVATE)"
    )]
    Internal { url: String, address: IpAddr },
    #[error("webhook target {url:?} does not resolve: {reason}")]
    Unresolvable { url: String, reason: String },
}

/// Whether `address` is loopback, private, link-local (incl. the cloud metadata service), unspecified,
/// multicast, carrier-grade NAT or an IPv6 unique-local/mapped form of those.
pub fn is_internal(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// Resolves the target's host and refuses internal addresses unless `allow_internal`. Returns the
/// addresses checked, so the caller can connect to exactly those (no re-resolution in between).
pub async fn check_target(url: &str, allow_internal: bool) -> Result<Vec<IpAddr>, TargetError> {
    let parsed = url::Url::parse(url).map_err(|_| TargetError::NotHttp(url.to_owned()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(TargetError::NotHttp(url.to_owned()));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| TargetError::NotHttp(url.to_owned()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| TargetError::Unresolvable {
                url: url.to_owned(),
                reason: e.to_string(),
            })?
            .map(|a| a.ip())
            .collect(),
    };
    if addresses.is_empty() {
        return Err(TargetError::Unresolvable {
            url: url.to_owned(),
            reason: "no addresses".to_owned(),
        });
    }
    if !allow_internal && let Some(address) = addresses.iter().copied().find(|a| is_internal(*a)) {
        return Err(TargetError::Internal {
            url: url.to_owned(),
            address,
        });
    }
    Ok(addresses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_reject_tampering_and_replays() {
        let secret = b"whsec-test-0123456789";
        let body = br#"{"notification_id":"0190b1f2-0000-7000-8000-000000000000","callback":"https://x/cb"}"#;
        let header = signature(secret, 1_764_000_000, body);
        assert!(header.starts_with("t=1764000000,v1="));
        let window = Duration::from_secs(300);
        assert_eq!(
            verify_signature(secret, &header, body, 1_764_000_100, window),
            Ok(())
        );
        // Another body, another secret, a moved timestamp: rejected.
        assert_eq!(
            verify_signature(secret, &header, b"{}", 1_764_000_100, window),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"other", &header, body, 1_764_000_100, window),
            Err(SignatureError::Mismatch)
        );
        let moved = header.replace("t=1764000000", "t=1764000100");
        assert_eq!(
            verify_signature(secret, &moved, body, 1_764_000_100, window),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(secret, &header, body, 1_764_009_000, window),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_signature(secret, "v1=zz", body, 1_764_000_000, window),
            Err(SignatureError::Malformed)
        );
        // Known answer, computed independently: printf '1764000000.{}' | openssl dgst -sha256 -hmac key
        assert_eq!(
            signature(b"key", 1_764_000_000, b"{}"),
            format!(
                "t=1764000000,v1={}",
                "135a1a8c79ff2a07661486422c8068924d01c7a70da314a29ce512bc61231899"
            )
        );
    }

    #[test]
    fn retry_delays_grow_exponentially_with_jitter_under_the_cap() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(60);
        for attempt in 1..=10 {
            let ceiling = (base * 2u32.pow(attempt - 1)).min(cap);
            for _ in 0..50 {
                assert!(
                    retry_delay(attempt, base, cap) <= ceiling,
                    "attempt {attempt}"
                );
            }
        }
        // Jitter: fifty draws at attempt 6 (ceiling 32 s) are not all equal.
        let draws: std::collections::BTreeSet<Duration> =
            (0..50).map(|_| retry_delay(6, base, cap)).collect();
        assert!(draws.len() > 1);
        assert!(retry_delay(u32::MAX, base, cap) <= cap);
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(internal.parse().unwrap()), "{internal}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "100.128.0.1"] {
            assert!(!is_internal(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn targets_are_checked_before_delivery() {
        assert!(matches!(
            check_target("http://127.0.0.1:9/hook", false).await,
            Err(TargetError::Internal { .. })
        ));
        assert!(matches!(
            check_target("http://[::1]:9/hook", false).await,
            Err(TargetError::Internal { .. })
        ));
        assert!(matches!(
            check_target("http://localhost:9/hook", false).await,
            Err(TargetError::Internal { .. })
        ));
        assert_eq!(
            check_target("http://127.0.0.1:9/hook", true).await,
            Ok(vec!["127.0.0.1".parse().unwrap()])
        );
        assert!(matches!(
            check_target("file:///etc/passwd", true).await,
            Err(TargetError::NotHttp(_))
        ));
        assert!(
            check_target("https://93.184.215.14/hook", false)
                .await
                .is_ok()
        );
    }
}
