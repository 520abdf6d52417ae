//! A small Docker Registry HTTP API v2 client: pulls one image manifest (following an image index to its
//! linux/amd64 entry) with the registry's token authentication, so a scan request that names only a
//! repository and digest (Harbor's) can be staged as fetch jobs for its layers.
//!
//! Authentication as registries do it: the request is sent with the caller's `Authorization` value (Harbor
//! passes `Basic <robot credentials>` or `Bearer <token>`); on a `401` with a `WWW-Authenticate: Bearer
//! realm=…,service=…` challenge, a pull token for the repository is requested from the realm with the
//! caller's credentials and the request repeated with `Bearer <token>`. The value that worked is returned
//! so the layer fetches send the same.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use serde::Deserialize;
use sha2::{Digest as _, Sha256, Sha512};

use crate::model::{Digest, DigestAlgorithm};

pub const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Largest manifest accepted (registries cap them at 4 MiB).
const MAX_MANIFEST_BYTES: usize = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The request names something no registry could serve (bad URL, repository name).
    #[error("{0}")]
    BadRequest(String),
    /// The registry answered, but not with a usable manifest (401, 404, a schema 1 manifest, a mismatch).
    #[error("{0}")]
    Rejected(String),
    /// The registry could not be reached or failed (network, 5xx).
    #[error("{0}")]
    Unavailable(String),
}

/// A pulled image manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledManifest {
    /// The digest of the image manifest itself (the index entry's when an index was named).
    pub digest: Digest,
    pub media_type: String,
    /// Layer digests in stacking order.
    pub layers: Vec<Digest>,
    /// The `Authorization` value the registry accepted (send it with the blob requests), if any.
    pub authorization: Option<String>,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
}

#[derive(Deserialize)]
struct ManifestDoc {
    #[serde(rename = "schemaVersion", default)]
    schema_version: u32,
    #[serde(rename = "mediaType", default)]
    media_type: String,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

/// Deserializes a registry manifest or index document as `pull_manifest` does, for the fuzzers
/// (`crate::fuzzing`).
pub fn fuzz_manifest_doc(body: &[u8]) {
    let _ = serde_json::from_slice::<ManifestDoc>(body);
}

/// Docker's repository name grammar, loosely: lowercase path components of `[a-z0-9._-]`.
pub fn valid_repository(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.split('/').all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        })
}

/// The registry's base URL (`https://host[:port]`, any path dropped to its `/v2/` root).
pub fn base_url(registry: &str) -> Result<reqwest::Url, RegistryError> {
    let url = reqwest::Url::parse(registry)
        .map_err(|e| RegistryError::BadRequest(format!("registry url {registry:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(RegistryError::BadRequest(format!(
            "registry url {registry:?} is not an http(s) URL with a host"
        )));
    }
    Ok(url)
}

/// The URL of a blob of `repository` on `base`.
pub fn blob_url(base: &reqwest::Url, repository: &str, digest: &Digest) -> String {
    format!(
        "{}/v2/{repository}/blobs/{digest}",
        base.as_str().trim_end_matches('/')
    )
}

pub struct RegistryClient {
    http: reqwest::Client,
}

impl RegistryClient {
    pub fn new() -> Result<RegistryClient, RegistryError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(5))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("lucid/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RegistryError::Unavailable(format!("building the HTTP client: {e}")))?;
        Ok(RegistryClient { http })
    }

    /// Pulls the image manifest `reference` of `repository` (an index resolves to its linux/amd64
    /// manifest, else its first), verifying its digest.
    pub async fn pull_manifest(
        &self,
        base: &reqwest::Url,
        repository: &str,
        reference: &Digest,
        authorization: Option<&str>,
    ) -> Result<PulledManifest, RegistryError> {
        if !valid_repository(repository) {
            return Err(RegistryError::BadRequest(format!(
                "repository {repository:?} is not a valid repository name"
            )));
        }
        let mut auth = authorization
            .filter(|a| !a.trim().is_empty())
            .map(str::to_owned);
        let (doc, media_type) = self
            .get_manifest(base, repository, reference, &mut auth)
            .await?;
        if doc.manifests.is_some() {
            let entries = doc.manifests.unwrap_or_default();
            let pick = entries
                .iter()
                .find(|d| {
                    d.platform
                        .as_ref()
                        .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
                })
                .or_else(|| entries.first())
                .ok_or_else(|| RegistryError::Rejected("the image index is empty".to_owned()))?;
            let digest: Digest = pick.digest.parse().map_err(|e| {
                RegistryError::Rejected(format!("index entry digest {:?}: {e}", pick.digest))
            })?;
            let (doc, media_type) = self
                .get_manifest(base, repository, &digest, &mut auth)
                .await?;
            if doc.manifests.is_some() {
                return Err(RegistryError::Rejected(
                    "the image index names another index".to_owned(),
                ));
            }
            return layers_of(doc, media_type, digest, auth);
        }
        layers_of(doc, media_type, reference.clone(), auth)
    }

    async fn get_manifest(
        &self,
        base: &reqwest::Url,
        repository: &str,
        reference: &Digest,
        auth: &mut Option<String>,
    ) -> Result<(ManifestDoc, String), RegistryError> {
        let url = format!(
            "{}/v2/{repository}/manifests/{reference}",
            base.as_str().trim_end_matches('/')
        );
        let mut resp = self.send(&url, auth.as_deref()).await?;
        if resp.status() == StatusCode::UNAUTHORIZED
            && let Some(challenge) = resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_bearer_challenge)
        {
            let token = self.token(&challenge, repository, auth.as_deref()).await?;
            let bearer = format!("Bearer {token}");
            resp = self.send(&url, Some(&bearer)).await?;
            *auth = Some(bearer);
        }
        let status = resp.status();
        if status.is_server_error() {
            return Err(RegistryError::Unavailable(format!(
                "GET {url}: registry answered {status}"
            )));
        }
        if !status.is_success() {
            return Err(RegistryError::Rejected(format!(
                "GET {url}: registry answered {status}"
            )));
        }
        let header_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().trim().to_owned())
            .unwrap_or_default();
        let body = read_limited(resp, &url).await?;
        let actual = match reference.algorithm() {
            DigestAlgorithm::Sha256 => hex::encode(Sha256::digest(&body)),
            DigestAlgorithm::Sha512 => hex::encode(Sha512::digest(&body)),
        };
        if actual != reference.hex() {
            return Err(RegistryError::Rejected(format!(
                "GET {url}: the manifest's {} is {actual}, not the requested digest",
                reference.algorithm().as_str()
            )));
        }
        let doc: ManifestDoc = serde_json::from_slice(&body).map_err(|e| {
            RegistryError::Rejected(format!("GET {url}: the manifest is not valid JSON: {e}"))
        })?;
        if doc.schema_version != 2 {
            return Err(RegistryError::Rejected(format!(
                "GET {url}: manifest schema version {} is not supported (2 is)",
                doc.schema_version
            )));
        }
        let media_type = if doc.media_type.is_empty() {
            header_type
        } else {
            doc.media_type.clone()
        };
        Ok((doc, media_type))
    }

    async fn send(
        &self,
        url: &str,
        auth: Option<&str>,
    ) -> Result<reqwest::Response, RegistryError> {
        let mut req = self.http.get(url).header(
            ACCEPT,
            HeaderValue::from_static(
                "application/vnd.oci.image.manifest.v1+json, \
                 application/vnd.docker.distribution.manifest.v2+json, \
                 application/vnd.oci.image.index.v1+json, \
                 application/vnd.docker.distribution.manifest.list.v2+json",
            ),
        );
        if let Some(a) = auth {
            let value = HeaderValue::from_str(a).map_err(|_| {
                RegistryError::BadRequest("the authorization value is not a valid header".into())
            })?;
            req = req.header(AUTHORIZATION, value);
        }
        req.send().await.map_err(|e| {
            RegistryError::Unavailable(format!("GET {url}: {}", crate::error_chain(&e)))
        })
    }

    /// A pull token for `repository` from the challenge's realm, asked with the caller's credentials.
    async fn token(
        &self,
        challenge: &BearerChallenge,
        repository: &str,
        auth: Option<&str>,
    ) -> Result<String, RegistryError> {
        let mut url = reqwest::Url::parse(&challenge.realm).map_err(|e| {
            RegistryError::Rejected(format!("token realm {:?}: {e}", challenge.realm))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(RegistryError::Rejected(format!(
                "token realm {:?} is not http(s)",
                challenge.realm
            )));
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = &challenge.service {
                q.append_pair("service", s);
            }
            q.append_pair("scope", &format!("repository:{repository}:pull"));
        }
        let mut req = self.http.get(url.clone());
        // Only credentials go to the token service; a bearer token is the registry's, not the realm's.
        if let Some(a) = auth.filter(|a| a.len() > 6 && a[..6].eq_ignore_ascii_case("basic "))
            && let Ok(v) = HeaderValue::from_str(a)
        {
            req = req.header(AUTHORIZATION, v);
        }
        let resp = req.send().await.map_err(|e| {
            RegistryError::Unavailable(format!("GET {url}: {}", crate::error_chain(&e)))
        })?;
        let status = resp.status();
        if status.is_server_error() {
            return Err(RegistryError::Unavailable(format!(
                "token service answered {status}"
            )));
        }
        if !status.is_success() {
            return Err(RegistryError::Rejected(format!(
                "token service answered {status}: the registry refused the credentials"
            )));
        }
        #[derive(Deserialize)]
        struct Token {
            #[serde(default)]
            token: String,
            #[serde(default)]
            access_token: String,
        }
        let body = read_limited(resp, url.as_str()).await?;
        let t: Token = serde_json::from_slice(&body).map_err(|e| {
            RegistryError::Rejected(format!("the token service's answer is not JSON: {e}"))
        })?;
        let token = if t.token.is_empty() {
            t.access_token
        } else {
            t.token
        };
        if token.is_empty() {
            return Err(RegistryError::Rejected(
                "the token service answered no token".to_owned(),
            ));
        }
        Ok(token)
    }
}

async fn read_limited(mut resp: reqwest::Response, url: &str) -> Result<Vec<u8>, RegistryError> {
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| RegistryError::Unavailable(format!("GET {url}: {}", crate::error_chain(&e))))?
    {
        if body.len() + chunk.len() > MAX_MANIFEST_BYTES {
            return Err(RegistryError::Rejected(format!(
                "GET {url}: larger than {MAX_MANIFEST_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn layers_of(
    doc: ManifestDoc,
    media_type: String,
    digest: Digest,
    authorization: Option<String>,
) -> Result<PulledManifest, RegistryError> {
    let Some(descriptors) = doc.layers else {
        return Err(RegistryError::Rejected(format!(
            "manifest {digest} ({media_type}) lists no layers"
        )));
    };
    let layers = descriptors
        .iter()
        .map(|d| {
            d.digest.parse::<Digest>().map_err(|e| {
                RegistryError::Rejected(format!(
                    "layer digest {:?} ({}): {e}",
                    d.digest, d.media_type
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if layers.is_empty() {
        return Err(RegistryError::Rejected(format!(
            "manifest {digest} has no layers"
        )));
    }
    Ok(PulledManifest {
        digest,
        media_type,
        layers,
        authorization,
    })
}

/// The parameters of a `WWW-Authenticate: Bearer realm="…",service="…"` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerChallenge {
    pub realm: String,
    pub service: Option<String>,
}

pub fn parse_bearer_challenge(header: &str) -> Option<BearerChallenge> {
    let (scheme, params) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = None;
    let mut rest = params.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "realm" => realm = Some(value.to_owned()),
            "service" => service = Some(value.to_owned()),
            _ => {}
        }
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    Some(BearerChallenge {
        realm: realm?,
        service,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let c = parse_bearer_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        )
        .unwrap();
        assert_eq!(c.realm, "https://auth.example/token");
        assert_eq!(c.service.as_deref(), Some("registry.example"));
        assert_eq!(
            parse_bearer_challenge("Bearer realm=http://r/t")
                .unwrap()
                .realm,
            "http://r/t"
        );
        assert!(parse_bearer_challenge(r#"Basic realm="x""#).is_none());
        assert!(parse_bearer_challenge(r#"Bearer service="x""#).is_none());
        assert!(parse_bearer_challenge(r#"Bearer realm="unterminated"#).is_none());
    }

    #[test]
    fn repository_names() {
        for ok in ["library/debian", "app", "a.b/c-d_e/f"] {
            assert!(valid_repository(ok), "{ok}");
        }
        for bad in ["", "Upper", "a//b", "/a", "a/", "../x", "a b", "a?b", "-a"] {
            assert!(!valid_repository(bad), "{bad}");
        }
    }
}
