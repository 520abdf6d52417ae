//! Images pulled from a registry over the Docker Registry HTTP API v2 (the OCI distribution API):
//! `lucid scan registry.example/repo:tag` or `…@sha256:…`.
//!
//! The manifest named by the reference is fetched (an image index or Docker manifest list is resolved to
//! one platform by the same code as an OCI layout, [`super::oci`]); layer blobs are then streamed straight
//! into the indexer when it reads them, never written to disk. Authentication follows the registry's
//! `401` challenge: `Bearer realm=…,service=…,scope=…` → a token from the realm (anonymous, or with basic
//! credentials), or `Basic` with the credentials. Plain HTTP is used only for loopback registries or when
//! asked (`RegistryOptions::plain_http`).

use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::TryStreamExt as _;
use sha2::Digest as _;
use tokio::runtime::Handle;

use super::{Image, ImageError, ImageFormat, MAX_METADATA_BYTES, OpenOptions};
use crate::model::Digest;

const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// `host[:port]/repository[:tag|@digest]`, as `docker pull` takes it (no host: Docker Hub).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    /// A tag or a digest.
    pub reference: String,
}

impl Reference {
    /// Whether `s` names a registry image rather than a file: its first component is a host (has a `.` or
    /// a `:`, or is `localhost`) and a repository follows.
    pub fn looks_like(s: &str) -> bool {
        s.split_once('/').is_some_and(|(host, rest)| {
            !rest.is_empty()
                && (host.contains('.') || host.contains(':') || host == "localhost")
                && !host.starts_with('.')
        })
    }

    fn is_loopback(&self) -> bool {
        let host = self
            .registry
            .rsplit_once(':')
            .map_or(self.registry.as_str(), |(h, _)| h);
        matches!(host, "localhost" | "127.0.0.1" | "[::1]")
    }
}

impl std::str::FromStr for Reference {
    type Err = ImageError;

    fn from_str(s: &str) -> Result<Reference, ImageError> {
        let bad = |reason: &str| ImageError::Registry {
            reference: s.chars().take(200).collect(),
            reason: reason.to_owned(),
        };
        let (name, reference) = match s.split_once('@') {
            Some((name, digest)) => {
                digest
                    .parse::<Digest>()
                    .map_err(|_| bad("the digest after @ is not algorithm:hex"))?;
                (name, digest.to_owned())
            }
            None => match s.rsplit_once(':') {
                Some((name, tag)) if !tag.contains('/') => (name, tag.to_owned()),
                _ => (s, "latest".to_owned()),
            },
        };
        let (registry, repository) = if Reference::looks_like(name) {
            let (host, repo) = name.split_once('/').ok_or_else(|| bad("no repository"))?;
            (host.to_owned(), repo.to_owned())
        } else if name.contains('/') {
            ("registry-1.docker.io".to_owned(), name.to_owned())
        } else {
            ("registry-1.docker.io".to_owned(), format!("library/{name}"))
        };
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c);
        if repository.is_empty() || !repository.chars().all(valid) {
            return Err(bad(
                "repository names are lowercase letters, digits and ._-/",
            ));
        }
        if reference.is_empty()
            || !reference
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c))
        {
            return Err(bad("invalid tag"));
        }
        Ok(Reference {
            registry,
            repository,
            reference,
        })
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sep = if self.reference.contains(':') {
            '@'
        } else {
            ':'
        };
        write!(
            f,
            "{}/{}{sep}{}",
            self.registry, self.repository, self.reference
        )
    }
}

/// Registry credentials (`--username`/`--password`, `LUCID_REGISTRY_USERNAME`/`_PASSWORD`).
#[derive(Clone, Default)]
pub struct RegistryOptions {
    pub username: Option<String>,
    pub password: Option<String>,
    /// Use `http://` even for a registry that is not on a loopback address.
    pub plain_http: bool,
}

/// The registry's HTTP side: base URL, repository, and the `Authorization` value won from a challenge.
struct Client {
    http: reqwest::Client,
    base: String,
    reference: Reference,
    options: RegistryOptions,
    authorization: Mutex<Option<String>>,
    handle: Handle,
}

impl Client {
    fn error(&self, reason: impl Into<String>) -> ImageError {
        ImageError::Registry {
            reference: self.reference.to_string(),
            reason: reason.into(),
        }
    }

    /// GET `/v2/<repo>/<path>`, answering one `401` challenge.
    async fn get(&self, path: &str, accept: &str) -> Result<reqwest::Response, ImageError> {
        let url = format!("{}/v2/{}/{path}", self.base, self.reference.repository);
        for attempt in 0..2 {
            let mut request = self.http.get(&url).header(reqwest::header::ACCEPT, accept);
            let authorization = self.authorization.lock().ok().and_then(|a| a.clone());
            if let Some(value) = authorization {
                request = request.header(reqwest::header::AUTHORIZATION, value);
            }
            let response = request
                .send()
                .await
                .map_err(|e| self.error(format!("GET {url}: {}", crate::error_chain(&e))))?;
            if response.status() == reqwest::StatusCode::UNAUTHORIZED && attempt == 0 {
                let challenge = response
                    .headers()
                    .get(reqwest::header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                self.authenticate(&challenge).await?;
                continue;
            }
            if !response.status().is_success() {
                let hint = if response.status() == reqwest::StatusCode::UNAUTHORIZED {
                    " (give --username/--password or LUCID_REGISTRY_USERNAME/_PASSWORD)"
                } else {
                    ""
                };
                return Err(self.error(format!("GET {url}: {}{hint}", response.status())));
            }
            return Ok(response);
        }
        Err(self.error(format!("GET {url}: still unauthorized")))
    }

    fn basic(&self) -> Option<String> {
        use base64::Engine as _;
        let user = self.options.username.as_deref()?;
        let password = self.options.password.as_deref().unwrap_or_default();
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        ))
    }

    /// Answers a `WWW-Authenticate` challenge.
    async fn authenticate(&self, challenge: &str) -> Result<(), ImageError> {
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        let value = if scheme.eq_ignore_ascii_case("basic") {
            self.basic()
                .ok_or_else(|| self.error("the registry wants a username and password"))?
        } else if scheme.eq_ignore_ascii_case("bearer") {
            let params = challenge_params(params);
            let realm = params
                .get("realm")
                .ok_or_else(|| self.error("bearer challenge without a realm"))?;
            let mut url = reqwest::Url::parse(realm)
                .map_err(|e| self.error(format!("token realm {realm:?}: {e}")))?;
            {
                let mut query = url.query_pairs_mut();
                if let Some(service) = params.get("service") {
                    query.append_pair("service", service);
                }
                let scope = params
                    .get("scope")
                    .cloned()
                    .unwrap_or_else(|| format!("repository:{}:pull", self.reference.repository));
                query.append_pair("scope", &scope);
            }
            let mut request = self.http.get(url.clone());
            if let Some(basic) = self.basic() {
                request = request.header(reqwest::header::AUTHORIZATION, basic);
            }
            let response = request
                .send()
                .await
                .map_err(|e| self.error(format!("token {url}: {}", crate::error_chain(&e))))?;
            if !response.status().is_success() {
                return Err(self.error(format!("token {url}: {}", response.status())));
            }
            #[derive(serde::Deserialize)]
            struct Token {
                #[serde(default)]
                token: String,
                #[serde(default)]
                access_token: String,
            }
            let token: Token = response
                .json()
                .await
                .map_err(|e| self.error(format!("token {url}: {e}")))?;
            let token = if token.token.is_empty() {
                token.access_token
            } else {
                token.token
            };
            if token.is_empty() {
                return Err(self.error(format!("token {url}: no token in the answer")));
            }
            format!("Bearer {token}")
        } else {
            return Err(self.error(format!(
                "unauthorized, with an unsupported challenge {:?}",
                challenge.chars().take(80).collect::<String>()
            )));
        };
        if let Ok(mut slot) = self.authorization.lock() {
            *slot = Some(value);
        }
        Ok(())
    }

    /// A small document by digest: a blob (config) or, when the registry has no such blob, a manifest
    /// (a platform's manifest listed by an index). Capped at the metadata limit.
    async fn small(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let response = match self.get(&format!("blobs/{digest}"), "*/*").await {
            Ok(r) => r,
            Err(_) => {
                self.get(&format!("manifests/{digest}"), MANIFEST_TYPES)
                    .await?
            }
        };
        self.body(response).await
    }

    async fn body(&self, response: reqwest::Response) -> Result<Vec<u8>, ImageError> {
        if response.content_length().unwrap_or(0) > MAX_METADATA_BYTES {
            return Err(self.error("metadata document over the 8 MiB limit"));
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| self.error(crate::error_chain(&e)))?
        {
            body.extend_from_slice(&chunk);
            if body.len() as u64 > MAX_METADATA_BYTES {
                return Err(self.error("metadata document over the 8 MiB limit"));
            }
        }
        Ok(body)
    }
}

/// `key="value", key=value` pairs of a challenge.
fn challenge_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((v, n)) => (v, n),
                None => (quoted, ""),
            }
        } else {
            match after.split_once(',') {
                Some((v, n)) => (v, n),
                None => (after, ""),
            }
        };
        out.insert(key, value.trim().to_owned());
        rest = next.trim_start_matches(',').trim();
    }
    out
}

/// The files [`super::oci::open`] reads, served from a registry: `index.json` (the index the reference
/// names, or one made for a single manifest) and `blobs/<alg>/<hex>`, fetched when read.
pub(crate) struct RegistryBlobs {
    client: Arc<Client>,
    location: PathBuf,
    docs: HashMap<String, Vec<u8>>,
}

impl std::fmt::Debug for RegistryBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryBlobs")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl RegistryBlobs {
    pub(crate) fn location(&self) -> &Path {
        &self.location
    }

    pub(crate) fn contains(&self, rel: &str) -> bool {
        self.docs.contains_key(rel) || rel.starts_with("blobs/")
    }

    /// A reader over the file; blobs are requested on the first read (so opening never blocks), and
    /// their size is unknown (0).
    pub(crate) fn open(&self, rel: &str) -> Result<(Box<dyn Read + Send>, u64), ImageError> {
        if let Some(doc) = self.docs.get(rel) {
            return Ok((Box::new(Cursor::new(doc.clone())), doc.len() as u64));
        }
        let digest = rel
            .strip_prefix("blobs/")
            .and_then(|d| d.split_once('/'))
            .map(|(alg, hex)| format!("{alg}:{hex}"))
            .ok_or_else(|| ImageError::Missing {
                image: self.location.clone(),
                file: rel.chars().take(200).collect(),
            })?;
        Ok((
            Box::new(LazyBlob {
                client: self.client.clone(),
                digest,
                inner: None,
            }),
            0,
        ))
    }
}

/// A blob fetched on its first read and streamed; must be read off the async threads (the indexer reads
/// layers in a blocking task).
struct LazyBlob {
    client: Arc<Client>,
    digest: String,
    inner: Option<Box<dyn Read + Send>>,
}

impl Read for LazyBlob {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.inner.is_none() {
            let client = self.client.clone();
            let digest = self.digest.clone();
            let handle = client.handle.clone();
            let reader: Box<dyn Read + Send> = handle.block_on(async move {
                match client.get(&format!("blobs/{digest}"), "*/*").await {
                    Ok(response) => {
                        let stream = response.bytes_stream().map_err(std::io::Error::other);
                        let reader = tokio_util::io::StreamReader::new(stream);
                        Ok(Box::new(tokio_util::io::SyncIoBridge::new_with_handle(
                            reader,
                            client.handle.clone(),
                        )) as Box<dyn Read + Send>)
                    }
                    // A platform manifest of an index is not a blob on every registry.
                    Err(blob_error) => match client.small(&digest).await {
                        Ok(doc) => Ok(Box::new(Cursor::new(doc)) as Box<dyn Read + Send>),
                        Err(_) => Err(std::io::Error::other(blob_error.to_string())),
                    },
                }
            })?;
            self.inner = Some(reader);
        }
        match &mut self.inner {
            Some(r) => r.read(buf),
            None => Ok(0),
        }
    }
}

/// Opens `reference` on its registry: fetches the manifest (resolving an index to `options.platform`) and
/// returns an [`Image`] whose layers stream from the registry. Call from a blocking task inside a Tokio
/// runtime.
pub fn open(
    reference: &Reference,
    options: &OpenOptions,
    registry: &RegistryOptions,
) -> Result<Image, ImageError> {
    let handle = Handle::try_current().map_err(|_| ImageError::Registry {
        reference: reference.to_string(),
        reason: "no async runtime".into(),
    })?;
    let scheme = if registry.plain_http || reference.is_loopback() {
        "http"
    } else {
        "https"
    };
    let http = reqwest::Client::builder()
        .user_agent(concat!("lucid/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(15))
        .build()
        .map_err(|e| ImageError::Registry {
            reference: reference.to_string(),
            reason: e.to_string(),
        })?;
    let client = Arc::new(Client {
        http,
        base: format!("{scheme}://{}", reference.registry),
        reference: reference.clone(),
        options: registry.clone(),
        authorization: Mutex::new(None),
        handle: handle.clone(),
    });
    let fetch = client.clone();
    let tag = reference.reference.clone();
    let (bytes, media_type) = handle.block_on(async move {
        let response = fetch
            .get(&format!("manifests/{tag}"), MANIFEST_TYPES)
            .await?;
        let media_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        Ok::<_, ImageError>((fetch.body(response).await?, media_type))
    })?;
    let digest = Digest::from_sha256_bytes(&sha2::Sha256::digest(&bytes));
    if reference.reference.contains(':') && reference.reference != digest.to_string() {
        return Err(client.error(format!("the registry's manifest has digest {digest}")));
    }
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(default, rename = "mediaType")]
        media_type: String,
    }
    let declared = serde_json::from_slice::<Head>(&bytes)
        .map(|h| h.media_type)
        .unwrap_or_default();
    let media_type = if declared.is_empty() {
        media_type
    } else {
        declared
    };
    let mut docs = HashMap::new();
    if super::oci::INDEX_TYPES.contains(&media_type.as_str()) {
        docs.insert("index.json".to_owned(), bytes);
    } else {
        let media_type = if media_type.is_empty() {
            "application/vnd.oci.image.manifest.v1+json".to_owned()
        } else {
            media_type
        };
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{"mediaType": media_type, "digest": digest.to_string(), "size": bytes.len()}],
        });
        docs.insert(
            format!("blobs/{}/{}", digest.algorithm().as_str(), digest.hex()),
            bytes,
        );
        docs.insert("index.json".to_owned(), index.to_string().into_bytes());
    }
    let blobs = RegistryBlobs {
        client,
        location: PathBuf::from(reference.to_string()),
        docs,
    };
    let mut image = super::oci::open(
        super::archive::Archive::Registry(Box::new(blobs)),
        ImageFormat::Registry,
        options,
    )?;
    image.name = Some(reference.to_string());
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r: Reference = "registry.example:5000/team/app:1.2".parse().unwrap();
        assert_eq!(
            (
                r.registry.as_str(),
                r.repository.as_str(),
                r.reference.as_str()
            ),
            ("registry.example:5000", "team/app", "1.2")
        );
        let r: Reference = "debian".parse().unwrap();
        assert_eq!(r.repository, "library/debian");
        assert_eq!(r.reference, "latest");
        let d = format!("sha256:{}", "a".repeat(64));
        let r: Reference = format!("localhost/app@{d}").parse().unwrap();
        assert_eq!(
            (r.registry.as_str(), r.reference.as_str()),
            ("localhost", d.as_str())
        );
        assert!(r.is_loopback());
        assert!(Reference::looks_like("ghcr.io/org/app:1"));
        assert!(!Reference::looks_like("images/app.tar"));
        assert!(!Reference::looks_like("./app.tar"));
        assert!("host.example/App".parse::<Reference>().is_err());
    }

    #[test]
    fn challenges() {
        let p = challenge_params(
            r#"realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(p["realm"], "https://auth.example/token");
        assert_eq!(p["service"], "registry.example");
        assert_eq!(p["scope"], "repository:a/b:pull");
    }
}
