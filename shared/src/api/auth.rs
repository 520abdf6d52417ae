//! Clair's pre-shared-key authentication: `Authorization: Bearer <JWT>` signed with HMAC (HS256, HS384 or
//! HS512) under the base64-decoded key of `LUCID_PSK`.
//!
//! Checks, as Clair does: the signature; `exp`, `nbf` (and `iat` when present) with a 15 s clock leeway;
//! `iss` in the allow-list `LUCID_PSK_ISSUERS` (an empty list accepts any issuer). Unlike Clair, `exp` is
//! required, so a leaked token cannot live forever. With `LUCID_PSK` unset authentication is off (the local
//! default of `lucid serve`).
//!
//! Minting a token (any JWT library; with Python's PyJWT):
//! `jwt.encode({"iss": "ci", "exp": int(time.time()) + 300}, base64.b64decode(PSK), "HS256")`.

use http::HeaderMap;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::AuthConfig;

/// Clock leeway for `exp`/`nbf`/`iat`, as Clair.
pub const LEEWAY_SECS: u64 = 15;

/// Why a request is not authenticated (the message goes into the 401 body).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token (Authorization: Bearer <JWT>)")]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("token issuer {0:?} is not accepted")]
    Issuer(String),
}

#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    iat: Option<u64>,
}

/// Verifies bearer tokens against the pre-shared key.
#[derive(Clone)]
pub struct Verifier {
    /// `Err` only for an empty key, which configuration already refuses; then every token is refused.
    key: Result<DecodingKey, String>,
    validation: Validation,
    issuers: Vec<String>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuers", &self.issuers)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    pub fn new(config: &AuthConfig) -> Verifier {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        Verifier {
            key: DecodingKey::from_secret(&config.key).map_err(|e| e.to_string()),
            validation,
            issuers: config.issuers.clone(),
        }
    }

    /// Checks the request's `Authorization` header.
    pub fn verify(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        let value = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(AuthError::Missing)?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        let key = self
            .key
            .as_ref()
            .map_err(|e| AuthError::Invalid(format!("the server's key is unusable: {e}")))?;
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        let claims = data.claims;
        if let Some(iat) = claims.iat {
            let now = jsonwebtoken::get_current_timestamp();
            if iat > now + LEEWAY_SECS {
                return Err(AuthError::Invalid("token issued in the future".into()));
            }
        }
        if !self.issuers.is_empty() {
            let iss = claims.iss.unwrap_or_default();
            if !self.issuers.contains(&iss) {
                return Err(AuthError::Issuer(iss));
            }
        }
        Ok(())
    }
}

/// Issuer of the tokens Lucid's notifier signs its webhooks with, as Clair's.
pub const NOTIFIER_ISSUER: &str = "clair-notifier";

/// A token for an outgoing request, as Clair signs one (HS256, `iss`, `iat` now, `nbf` a minute ago,
/// `exp` in a minute), so receivers verify it with the same pre-shared key.
pub fn sign(config: &AuthConfig, issuer: &str) -> Result<String, AuthError> {
    mint(&config.key, issuer, 60)
}

/// Mints a token [`Verifier`] accepts, for clients (`lucid report --psk`) and the notifier: HS256 under
/// `key` (the base64-decoded `LUCID_PSK`), `iss` = `issuer`, `iat` now, `nbf` a minute ago (clock skew),
/// expiring after `ttl_secs`.
pub fn mint(key: &[u8], issuer: &str, ttl_secs: u64) -> Result<String, AuthError> {
    let now = jsonwebtoken::get_current_timestamp();
    let claims = serde_json::json!({
        "iss": issuer,
        "iat": now,
        "nbf": now.saturating_sub(60),
        "exp": now + ttl_secs,
    });
    let key = jsonwebtoken::EncodingKey::from_secret(key)
        .map_err(|e| AuthError::Invalid(e.to_string()))?;
    jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::HS256), &claims, &key)
        .map_err(|e| AuthError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn verifier(issuers: &[&str]) -> Verifier {
        Verifier::new(&AuthConfig {
            key: KEY.to_vec(),
            issuers: issuers.iter().map(|s| s.to_string()).collect(),
        })
    }

    fn headers(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        h
    }

    fn token(claims: serde_json::Value, key: &[u8], alg: Algorithm) -> String {
        encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(key).unwrap(),
        )
        .unwrap()
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    #[test]
    fn accepts_valid_tokens_of_the_hmac_family() {
        let v = verifier(&["quay"]);
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let t = token(json!({"iss": "quay", "exp": now() + 60}), KEY, alg);
            assert_eq!(v.verify(&headers(&t)), Ok(()));
        }
        // Within the leeway.
        let t = token(
            json!({"iss": "quay", "exp": now() - 5, "nbf": now() + 5}),
            KEY,
            Algorithm::HS256,
        );
        assert_eq!(v.verify(&headers(&t)), Ok(()));
    }

    #[test]
    fn signed_tokens_verify_with_the_same_key() {
        let config = AuthConfig {
            key: KEY.to_vec(),
            issuers: vec![NOTIFIER_ISSUER.to_owned()],
        };
        let token = sign(&config, NOTIFIER_ISSUER).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        assert_eq!(Verifier::new(&config).verify(&headers), Ok(()));
        let other = AuthConfig {
            key: b"another key, 32 bytes long......".to_vec(),
            issuers: Vec::new(),
        };
        assert!(Verifier::new(&other).verify(&headers).is_err());
    }

    #[test]
    fn minted_tokens_verify() {
        let t = mint(KEY, "quay", 60).unwrap();
        assert_eq!(verifier(&["quay"]).verify(&headers(&t)), Ok(()));
        let other = mint(b"another key, another key, 32 by", "quay", 60).unwrap();
        assert!(verifier(&["quay"]).verify(&headers(&other)).is_err());
    }

    #[test]
    fn rejects_missing_expired_foreign_and_forged_tokens() {
        let v = verifier(&["quay"]);
        assert_eq!(v.verify(&HeaderMap::new()), Err(AuthError::Missing));
        let mut basic = HeaderMap::new();
        basic.insert(
            http::header::AUTHORIZATION,
            "Basic dXNlcjpwdw==".parse().unwrap(),
        );
        assert_eq!(v.verify(&basic), Err(AuthError::Missing));
        let expired = token(
            json!({"iss": "quay", "exp": now() - 120}),
            KEY,
            Algorithm::HS256,
        );
        assert!(
            matches!(v.verify(&headers(&expired)), Err(AuthError::Invalid(m)) if m.contains("xpired"))
        );
        let no_exp = token(json!({"iss": "quay"}), KEY, Algorithm::HS256);
        assert!(matches!(
            v.verify(&headers(&no_exp)),
            Err(AuthError::Invalid(_))
        ));
        let foreign = token(
            json!({"iss": "mallory", "exp": now() + 60}),
            KEY,
            Algorithm::HS256,
        );
        assert_eq!(
            v.verify(&headers(&foreign)),
            Err(AuthError::Issuer("mallory".into()))
        );
        let forged = token(
            json!({"iss": "quay", "exp": now() + 60}),
            b"another key, another key, 32 by",
            Algorithm::HS256,
        );
        assert!(matches!(
            v.verify(&headers(&forged)),
            Err(AuthError::Invalid(_))
        ));
        let future = token(
            json!({"iss": "quay", "exp": now() + 600, "nbf": now() + 300}),
            KEY,
            Algorithm::HS256,
        );
        assert!(matches!(
            v.verify(&headers(&future)),
            Err(AuthError::Invalid(_))
        ));
        assert!(matches!(
            v.verify(&headers("not.a.jwt")),
            Err(AuthError::Invalid(_))
        ));
        // An empty allow-list accepts any issuer.
        assert_eq!(verifier(&[]).verify(&headers(&foreign)), Ok(()));
    }
}
