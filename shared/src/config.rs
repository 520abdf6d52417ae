//! One typed configuration, read from the environment and validated at start.
//!
//! Every function and the CLI build a [`Config`] first; a missing or invalid variable is reported as one
//! [`ConfigError`] naming the variable, so a misconfigured deployment fails with a single clear line.

use std::path::PathBuf;
use std::time::Duration;

/// A configuration problem, naming the environment variable at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(variable: &'static str, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            variable,
            problem: problem.into(),
        }
    }
}

/// Where layer blobs live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobConfig {
    /// An S3 bucket (`LUCID_BUCKET`).
    S3 { bucket: String },
    /// A local directory (`LUCID_BLOB_DIR`), for the embedded default.
    Dir { path: PathBuf },
}

/// Where queued work goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueConfig {
    /// SQS queues by URL.
    Sqs {
        fetch_queue_url: Option<String>,
        notify_queue_url: Option<String>,
    },
    /// In-process queues (the embedded default).
    InProcess,
}

/// Pre-shared-key JWT authentication for the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// The decoded HS256 key.
    pub key: Vec<u8>,
    /// Accepted `iss` values; empty accepts any issuer.
    pub issuers: Vec<String>,
}

/// The whole configuration. Parts a given binary does not use may still be set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `DATABASE_URL`; `None` (and no secret) means "start the embedded PostgreSQL" (CLI only).
    pub database_url: Option<String>,
    /// `LUCID_DATABASE_SECRET_ARN`: a Secrets Manager secret in RDS's JSON shape (`username`, `password`,
    /// `host`, `port`, `dbname`), resolved at start when `DATABASE_URL` is unset.
    pub database_secret_arn: Option<String>,
    /// `LUCID_DATABASE_HOST`: replaces the host named by the database secret (an RDS Proxy endpoint).
    pub database_host: Option<String>,
    /// `LUCID_DB_POOL_SIZE`: connections per process (default 2 on Lambda, 8 elsewhere).
    pub db_pool_size: usize,
    /// `LUCID_DB_CONNECT_TIMEOUT_SECS` (default 5).
    pub db_connect_timeout: Duration,
    /// How often the API's matcher loads whole the namespaces whose feeds switched
    /// (`LUCID_MATCHER_REFRESH_SECS`, default 60; 0: never, every report reads what its cache lacks).
    pub matcher_refresh: Option<Duration>,
    pub blobs: BlobConfig,
    pub queues: QueueConfig,
    /// `AWS_ENDPOINT_URL`: an S3/SQS-compatible endpoint (emulators, MinIO).
    pub aws_endpoint_url: Option<String>,
    /// `LUCID_S3_FORCE_PATH_STYLE` (default true when `AWS_ENDPOINT_URL` is set).
    pub s3_force_path_style: bool,
    /// `LUCID_AWS_*`: retries, backoff and timeouts of S3/SQS/SNS calls (see [`crate::aws::AwsCallPolicy`]).
    pub aws_calls: crate::aws::AwsCallPolicy,
    /// `LUCID_PSK` (base64) and `LUCID_PSK_ISSUERS` (comma-separated).
    pub auth: Option<AuthConfig>,
    /// `LUCID_HOME`: the data directory of the embedded default.
    pub home: PathBuf,
    pub feeds: FeedConfig,
    /// `LUCID_SUBSCRIBERS`, `LUCID_NOTIFIER_*`, `LUCID_WEBHOOK_*`: see [`crate::notifier::NotifierConfig`].
    pub notifier: crate::notifier::NotifierConfig,
}

/// Which vulnerability feeds the updater runs, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedConfig {
    /// `LUCID_FEEDS`: comma-separated source-name prefixes to run (`alpine,osv/PyPI`); empty runs all.
    pub only: Vec<String>,
    /// `LUCID_FEED_DIR`: read feeds from this folder (air-gapped) instead of the network.
    pub dir: Option<PathBuf>,
    /// `LUCID_FEED_MIRROR_{OSV,ALPINE,UBUNTU,DEBIAN_TRACKER,RHEL_OVAL,RHEL_VEX,AMAZON,WOLFI,CHAINGUARD,NVD,KEV,EPSS}`: base URLs replacing the public ones.
    pub mirrors: crate::feeds::catalog::FeedMirrors,
    /// `LUCID_FEED_KEEP_OPERATIONS`: update operations kept per updater by garbage collection (default 3).
    pub keep_operations: usize,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads configuration through `get`, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let on_lambda = get("AWS_LAMBDA_FUNCTION_NAME").is_some();

        let database_url = match get("DATABASE_URL") {
            Some(url) => {
                url.parse::<tokio_postgres::Config>().map_err(|e| {
                    ConfigError::new("DATABASE_URL", format!("not a PostgreSQL URL: {e}"))
                })?;
                Some(url)
            }
            None => None,
        };
        let database_secret_arn = get("LUCID_DATABASE_SECRET_ARN");
        if let Some(arn) = &database_secret_arn
            && !arn.starts_with("arn:")
        {
            return Err(ConfigError::new(
                "LUCID_DATABASE_SECRET_ARN",
                format!("{arn:?} is not an ARN"),
            ));
        }
        let db_pool_size = parse_number(
            "LUCID_DB_POOL_SIZE",
            get("LUCID_DB_POOL_SIZE"),
            if on_lambda { 2 } else { 8 },
            1..=256,
        )?;
        let db_connect_timeout = Duration::from_secs(parse_number(
            "LUCID_DB_CONNECT_TIMEOUT_SECS",
            get("LUCID_DB_CONNECT_TIMEOUT_SECS"),
            5,
            1..=600,
        )? as u64);

        let matcher_refresh = match parse_number(
            "LUCID_MATCHER_REFRESH_SECS",
            get("LUCID_MATCHER_REFRESH_SECS"),
            60,
            0..=86_400,
        )? {
            0 => None,
            secs => Some(Duration::from_secs(secs as u64)),
        };

        let home = match get("LUCID_HOME") {
            Some(h) => PathBuf::from(h),
            None => default_home(get("HOME"), get("XDG_DATA_HOME")),
        };

        let blobs = match (get("LUCID_BUCKET"), get("LUCID_BLOB_DIR")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "LUCID_BUCKET",
                    "set either LUCID_BUCKET (S3) or LUCID_BLOB_DIR (local directory), not both",
                ));
            }
            (Some(bucket), None) => {
                validate_bucket(&bucket)?;
                BlobConfig::S3 { bucket }
            }
            (None, Some(dir)) => BlobConfig::Dir { path: dir.into() },
            (None, None) => BlobConfig::Dir {
                path: home.join("blobs"),
            },
        };

        let fetch_queue_url = get("LUCID_FETCH_QUEUE_URL");
        let notify_queue_url = get("LUCID_NOTIFY_QUEUE_URL");
        for (var, value) in [
            ("LUCID_FETCH_QUEUE_URL", &fetch_queue_url),
            ("LUCID_NOTIFY_QUEUE_URL", &notify_queue_url),
        ] {
            if let Some(v) = value {
                url::Url::parse(v).map_err(|e| ConfigError::new(var, format!("not a URL: {e}")))?;
            }
        }
        let queues = if fetch_queue_url.is_some() || notify_queue_url.is_some() {
            QueueConfig::Sqs {
                fetch_queue_url,
                notify_queue_url,
            }
        } else {
            QueueConfig::InProcess
        };

        let aws_endpoint_url = get("AWS_ENDPOINT_URL");
        if let Some(e) = &aws_endpoint_url {
            url::Url::parse(e)
                .map_err(|err| ConfigError::new("AWS_ENDPOINT_URL", format!("not a URL: {err}")))?;
        }
        let s3_force_path_style = match get("LUCID_S3_FORCE_PATH_STYLE") {
            Some(v) => parse_bool("LUCID_S3_FORCE_PATH_STYLE", &v)?,
            None => aws_endpoint_url.is_some(),
        };

        let auth = match get("LUCID_PSK") {
            Some(psk) => {
                use base64::Engine as _;
                let key = base64::engine::general_purpose::STANDARD
                    .decode(&psk)
                    .map_err(|_| {
                        ConfigError::new("LUCID_PSK", "must be base64 (standard alphabet)")
                    })?;
                if key.len() < 16 {
                    return Err(ConfigError::new(
                        "LUCID_PSK",
                        "key is shorter than 16 bytes; use e.g. `openssl rand -base64 32`",
                    ));
                }
                let issuers = get("LUCID_PSK_ISSUERS")
                    .map(|s| {
                        s.split(',')
                            .map(|i| i.trim().to_owned())
                            .filter(|i| !i.is_empty())
                            .collect()
                    })
                    .unwrap_or_default();
                Some(AuthConfig { key, issuers })
            }
            None => None,
        };

        let mut mirrors = crate::feeds::catalog::FeedMirrors::default();
        for (var, slot) in [
            ("LUCID_FEED_MIRROR_OSV", &mut mirrors.osv),
            ("LUCID_FEED_MIRROR_ALPINE", &mut mirrors.alpine),
            ("LUCID_FEED_MIRROR_UBUNTU", &mut mirrors.ubuntu),
            (
                "LUCID_FEED_MIRROR_DEBIAN_TRACKER",
                &mut mirrors.debian_tracker,
            ),
            ("LUCID_FEED_MIRROR_RHEL_OVAL", &mut mirrors.rhel_oval),
            ("LUCID_FEED_MIRROR_RHEL_VEX", &mut mirrors.rhel_vex),
            ("LUCID_FEED_MIRROR_AMAZON", &mut mirrors.amazon),
            ("LUCID_FEED_MIRROR_ORACLE", &mut mirrors.oracle),
            ("LUCID_FEED_MIRROR_SUSE", &mut mirrors.suse),
            ("LUCID_FEED_MIRROR_PHOTON", &mut mirrors.photon),
            ("LUCID_FEED_MIRROR_WOLFI", &mut mirrors.wolfi),
            ("LUCID_FEED_MIRROR_CHAINGUARD", &mut mirrors.chainguard),
            ("LUCID_FEED_MIRROR_NVD", &mut mirrors.nvd),
            ("LUCID_FEED_MIRROR_KEV", &mut mirrors.kev),
            ("LUCID_FEED_MIRROR_EPSS", &mut mirrors.epss),
        ] {
            if let Some(v) = get(var) {
                url::Url::parse(&v)
                    .map_err(|e| ConfigError::new(var, format!("not a URL: {e}")))?;
                *slot = v;
            }
        }
        let feeds = FeedConfig {
            only: get("LUCID_FEEDS")
                .map(|s| {
                    s.split(',')
                        .map(|i| i.trim().to_owned())
                        .filter(|i| !i.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            dir: get("LUCID_FEED_DIR").map(PathBuf::from),
            mirrors,
            keep_operations: parse_number(
                "LUCID_FEED_KEEP_OPERATIONS",
                get("LUCID_FEED_KEEP_OPERATIONS"),
                3,
                1..=1000,
            )?,
        };

        let database_host = get("LUCID_DATABASE_HOST");
        let notifier = crate::notifier::NotifierConfig::from_lookup(&get)?;
        let aws_calls = crate::aws::AwsCallPolicy::from_lookup(&get)?;
        Ok(Config {
            aws_calls,
            notifier,
            database_host,
            feeds,
            database_url,
            database_secret_arn,
            db_pool_size,
            db_connect_timeout,
            matcher_refresh,
            blobs,
            queues,
            aws_endpoint_url,
            s3_force_path_style,
            auth,
            home,
        })
    }

    /// The database URL, or an error naming `DATABASE_URL` (for binaries with no embedded default).
    pub fn require_database_url(&self) -> Result<&str, ConfigError> {
        self.database_url.as_deref().ok_or_else(|| {
            ConfigError::new(
                "DATABASE_URL",
                "is not set (set it, or LUCID_DATABASE_SECRET_ARN)",
            )
        })
    }

    /// The S3 bucket, or an error naming `LUCID_BUCKET` (for the Lambda functions).
    pub fn require_bucket(&self) -> Result<&str, ConfigError> {
        match &self.blobs {
            BlobConfig::S3 { bucket } => Ok(bucket),
            BlobConfig::Dir { .. } => Err(ConfigError::new("LUCID_BUCKET", "is not set")),
        }
    }
}

/// `$XDG_DATA_HOME/lucid`, else `~/.local/share/lucid`; root uses `/var/lib/lucid`, because the
/// embedded PostgreSQL runs as the `postgres` user, which cannot enter `/root`.
fn default_home(home: Option<String>, xdg: Option<String>) -> PathBuf {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/var/lib/lucid");
    }
    if let Some(x) = xdg {
        return PathBuf::from(x).join("lucid");
    }
    match home {
        Some(h) => PathBuf::from(h).join(".local/share/lucid"),
        None => PathBuf::from(".lucid"),
    }
}

/// Builds a PostgreSQL URL from a Secrets Manager secret in the JSON shape RDS writes
/// (`{"username","password","host","port","dbname"}`; `port` may be a number or a string, `dbname`
/// defaults to `postgres`). User and password are percent-encoded.
/// `url` with its host replaced by `host` (errors name `LUCID_DATABASE_HOST`).
pub fn with_host(url: &str, host: &str) -> Result<String, ConfigError> {
    let bad = |problem: String| ConfigError::new("LUCID_DATABASE_HOST", problem);
    let mut parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
    parsed
        .set_host(Some(host))
        .map_err(|e| bad(format!("host {host:?}: {e}")))?;
    Ok(parsed.to_string())
}

pub fn database_url_from_secret(secret: &str) -> Result<String, ConfigError> {
    let bad = |problem: String| ConfigError::new("LUCID_DATABASE_SECRET_ARN", problem);
    let v: serde_json::Value =
        serde_json::from_str(secret).map_err(|e| bad(format!("secret is not JSON: {e}")))?;
    let field = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let user = field("username").ok_or_else(|| bad("secret has no \"username\"".into()))?;
    let password = field("password").unwrap_or_default();
    let host = field("host").ok_or_else(|| bad("secret has no \"host\"".into()))?;
    let port = match v.get("port") {
        None | Some(serde_json::Value::Null) => 5432,
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| bad(format!("port {n} is invalid")))?,
        Some(serde_json::Value::String(s)) => s
            .parse::<u16>()
            .map_err(|_| bad(format!("port {s:?} is invalid")))?,
        Some(other) => return Err(bad(format!("port {other} is invalid"))),
    };
    let dbname = field("dbname").unwrap_or_else(|| "postgres".to_owned());
    let mut url = url::Url::parse("postgres://localhost").map_err(|e| bad(e.to_string()))?;
    url.set_host(Some(&host))
        .map_err(|e| bad(format!("host {host:?}: {e}")))?;
    let _ = url.set_port(Some(port));
    let _ = url.set_username(&user);
    if !password.is_empty() {
        let _ = url.set_password(Some(&password));
    }
    url.set_path(&format!("/{dbname}"));
    Ok(url.to_string())
}

pub(crate) fn parse_number(
    var: &'static str,
    value: Option<String>,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, ConfigError> {
    let Some(v) = value else { return Ok(default) };
    let n: usize = v
        .parse()
        .map_err(|_| ConfigError::new(var, format!("{v:?} is not a whole number")))?;
    if !range.contains(&n) {
        return Err(ConfigError::new(
            var,
            format!("{n} is outside {}..={}", range.start(), range.end()),
        ));
    }
    Ok(n)
}

pub(crate) fn parse_bool(var: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::new(var, format!("{v:?} is not true or false"))),
    }
}

/// S3 bucket naming rules (3–63 chars, lowercase letters, digits, dots, hyphens).
fn validate_bucket(b: &str) -> Result<(), ConfigError> {
    let ok = (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            "LUCID_BUCKET",
            format!("{b:?} is not a valid S3 bucket name"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_to_embedded_mode() {
        let c = cfg(&[("LUCID_HOME", "/tmp/x")]).unwrap();
        assert_eq!(c.database_url, None);
        assert_eq!(
            c.blobs,
            BlobConfig::Dir {
                path: "/tmp/x/blobs".into()
            }
        );
        assert_eq!(c.queues, QueueConfig::InProcess);
        assert_eq!(c.db_pool_size, 8);
        assert!(c.require_database_url().is_err());
        assert_eq!(c.matcher_refresh, Some(Duration::from_secs(60)));
    }

    #[test]
    fn matcher_refresh_can_be_turned_off_and_bad_values_are_named() {
        let off = cfg(&[("LUCID_MATCHER_REFRESH_SECS", "0")]).unwrap();
        assert_eq!(off.matcher_refresh, None);
        let every = cfg(&[("LUCID_MATCHER_REFRESH_SECS", "5")]).unwrap();
        assert_eq!(every.matcher_refresh, Some(Duration::from_secs(5)));
        let bad = cfg(&[("LUCID_MATCHER_REFRESH_SECS", "soon")]).unwrap_err();
        assert_eq!(bad.variable, "LUCID_MATCHER_REFRESH_SECS");
    }

    #[test]
    fn lambda_mode_uses_small_pools_and_s3() {
        let c = cfg(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "lucid-indexer"),
            ("DATABASE_URL", "postgres://u@db:5432/lucid"),
            ("LUCID_BUCKET", "lucid-layers"),
            (
                "LUCID_NOTIFY_QUEUE_URL",
                "https://sqs.us-east-1.amazonaws.com/1/q",
            ),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ])
        .unwrap();
        assert_eq!(c.db_pool_size, 2);
        assert_eq!(c.require_bucket().unwrap(), "lucid-layers");
        assert!(c.s3_force_path_style);
        assert!(matches!(c.queues, QueueConfig::Sqs { .. }));
    }

    #[test]
    fn feed_settings_parse_and_bad_ones_name_their_variable() {
        let c = cfg(&[
            ("LUCID_FEEDS", "alpine, osv/PyPI,"),
            ("LUCID_FEED_DIR", "/srv/feeds"),
            ("LUCID_FEED_MIRROR_OSV", "https://mirror.example/osv"),
            ("LUCID_FEED_MIRROR_KEV", "https://mirror.example/kev.json"),
            ("LUCID_FEED_KEEP_OPERATIONS", "5"),
        ])
        .unwrap();
        assert_eq!(c.feeds.only, ["alpine", "osv/PyPI"]);
        assert_eq!(c.feeds.dir, Some(PathBuf::from("/srv/feeds")));
        assert_eq!(c.feeds.mirrors.osv, "https://mirror.example/osv");
        assert_eq!(c.feeds.mirrors.kev, "https://mirror.example/kev.json");
        assert_eq!(c.feeds.mirrors.alpine, "https://secdb.alpinelinux.org");
        assert_eq!(c.feeds.keep_operations, 5);
        assert_eq!(cfg(&[]).unwrap().feeds.keep_operations, 3);
        for (var, value) in [
            ("LUCID_FEED_MIRROR_EPSS", "not a url"),
            ("LUCID_FEED_MIRROR_RHEL_OVAL", "::"),
            ("LUCID_FEED_KEEP_OPERATIONS", "0"),
            ("LUCID_FEED_KEEP_OPERATIONS", "many"),
        ] {
            assert_eq!(
                cfg(&[(var, value)]).unwrap_err().variable,
                var,
                "{var}={value}"
            );
        }
    }

    #[test]
    fn errors_name_the_variable() {
        let e = cfg(&[("DATABASE_URL", "postgres://u@h:notaport/db")]).unwrap_err();
        assert_eq!(e.variable, "DATABASE_URL");
        let e = cfg(&[("LUCID_DB_POOL_SIZE", "zero")]).unwrap_err();
        assert_eq!(e.variable, "LUCID_DB_POOL_SIZE");
        let e = cfg(&[("LUCID_DB_POOL_SIZE", "0")]).unwrap_err();
        assert_eq!(e.variable, "LUCID_DB_POOL_SIZE");
        let e = cfg(&[("LUCID_BUCKET", "No_Such")]).unwrap_err();
        assert_eq!(e.variable, "LUCID_BUCKET");
        let e = cfg(&[("LUCID_PSK", "not base64!")]).unwrap_err();
        assert_eq!(e.variable, "LUCID_PSK");
        let e = cfg(&[("LUCID_PSK", "c2hvcnQ=")]).unwrap_err();
        assert!(e.problem.contains("shorter"));
        let e = cfg(&[("LUCID_FETCH_QUEUE_URL", "not a url")]).unwrap_err();
        assert_eq!(e.variable, "LUCID_FETCH_QUEUE_URL");
        assert!(
            e.to_string()
                .starts_with("configuration: LUCID_FETCH_QUEUE_URL:")
        );
    }

    #[test]
    fn database_secret_in_rds_shape_becomes_a_url() {
        let url = database_url_from_secret(
            r#"{"engine":"postgres","username":"lucid","password":"p@ss:/w%rd","host":"db.cluster-x.us-east-1.rds.amazonaws.com","port":5432,"dbname":"lucid"}"#,
        )
        .unwrap();
        let parsed: tokio_postgres::Config = url.parse().unwrap();
        assert_eq!(parsed.get_user(), Some("lucid"));
        assert_eq!(parsed.get_password(), Some(&b"p@ss:/w%rd"[..]));
        assert_eq!(parsed.get_dbname(), Some("lucid"));
        assert_eq!(parsed.get_ports(), &[5432]);
        let url = database_url_from_secret(r#"{"username":"u","host":"h","port":"6543"}"#).unwrap();
        assert_eq!(url, "postgres://u@h:6543/postgres");
        for bad in [
            "nope",
            r#"{"host":"h"}"#,
            r#"{"username":"u"}"#,
            r#"{"username":"u","host":"h","port":70000}"#,
            r#"{"username":"u","host":"h","port":[1]}"#,
        ] {
            let e = database_url_from_secret(bad).unwrap_err();
            assert_eq!(e.variable, "LUCID_DATABASE_SECRET_ARN", "{bad}");
        }
        let proxied = with_host("postgres://u:p@db.cluster-x:5432/lucid", "proxy.x").unwrap();
        assert_eq!(proxied, "postgres://u:p@proxy.x:5432/lucid");
        assert_eq!(
            with_host("postgres://u@h/db", "bad host/")
                .unwrap_err()
                .variable,
            "LUCID_DATABASE_HOST"
        );
        let e = cfg(&[("LUCID_DATABASE_SECRET_ARN", "lucid-db")]).unwrap_err();
        assert_eq!(e.variable, "LUCID_DATABASE_SECRET_ARN");
    }

    #[test]
    fn psk_decodes_and_issuers_split() {
        // "0123456789abcdef0123456789abcdef" in base64
        let c = cfg(&[
            ("LUCID_PSK", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
            ("LUCID_PSK_ISSUERS", "quay, clairctl"),
        ])
        .unwrap();
        let auth = c.auth.unwrap();
        assert_eq!(auth.key, b"0123456789abcdef0123456789abcdef");
        assert_eq!(auth.issuers, vec!["quay", "clairctl"]);
    }
}
