//! AWS SDK clients, configured once per process. `AWS_ENDPOINT_URL` points them at an emulator (moto)
//! or an S3-compatible store; path-style addressing is used when configured (emulators need it).
//!
//! Every call is retried by the SDK's standard strategy (exponential backoff with full jitter; throttling
//! answers such as S3's `503 SlowDown`, 5xx answers, timeouts and dropped connections are retried) and
//! bounded in time, per [`AwsCallPolicy`], so a failing service ends in an error rather than a hang.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

use crate::config::{Config, ConfigError, parse_number};

/// How AWS calls are retried and bounded in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsCallPolicy {
    /// `LUCID_AWS_MAX_ATTEMPTS`: attempts per call, the first included (default 5).
    pub max_attempts: u32,
    /// `LUCID_AWS_INITIAL_BACKOFF_MS`: the backoff before the first retry; it doubles with each further
    /// retry, up to `max_backoff`, and each wait is drawn at random below it (default 200 ms).
    pub initial_backoff: Duration,
    /// `LUCID_AWS_MAX_BACKOFF_SECS`: the longest wait between two attempts (default 20 s).
    pub max_backoff: Duration,
    /// `LUCID_AWS_CONNECT_TIMEOUT_SECS`: to open a connection (default 5 s).
    pub connect_timeout: Duration,
    /// `LUCID_AWS_READ_TIMEOUT_SECS`: from a request to the first byte of its answer (default 60 s; SQS
    /// long polls wait up to 20 s).
    pub read_timeout: Duration,
}

impl Default for AwsCallPolicy {
    fn default() -> AwsCallPolicy {
        AwsCallPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(60),
        }
    }
}

impl AwsCallPolicy {
    /// Reads the `LUCID_AWS_*` variables through `get`.
    pub(crate) fn from_lookup(
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<AwsCallPolicy, ConfigError> {
        let default = AwsCallPolicy::default();
        let secs = |d: Duration| d.as_secs() as usize;
        Ok(AwsCallPolicy {
            max_attempts: parse_number(
                "LUCID_AWS_MAX_ATTEMPTS",
                get("LUCID_AWS_MAX_ATTEMPTS"),
                default.max_attempts as usize,
                1..=20,
            )? as u32,
            initial_backoff: Duration::from_millis(parse_number(
                "LUCID_AWS_INITIAL_BACKOFF_MS",
                get("LUCID_AWS_INITIAL_BACKOFF_MS"),
                default.initial_backoff.as_millis() as usize,
                1..=60_000,
            )? as u64),
            max_backoff: Duration::from_secs(parse_number(
                "LUCID_AWS_MAX_BACKOFF_SECS",
                get("LUCID_AWS_MAX_BACKOFF_SECS"),
                secs(default.max_backoff),
                1..=300,
            )? as u64),
            connect_timeout: Duration::from_secs(parse_number(
                "LUCID_AWS_CONNECT_TIMEOUT_SECS",
                get("LUCID_AWS_CONNECT_TIMEOUT_SECS"),
                secs(default.connect_timeout),
                1..=300,
            )? as u64),
            read_timeout: Duration::from_secs(parse_number(
                "LUCID_AWS_READ_TIMEOUT_SECS",
                get("LUCID_AWS_READ_TIMEOUT_SECS"),
                secs(default.read_timeout),
                1..=900,
            )? as u64),
        })
    }

    /// The SDK's standard retry strategy with these attempts and backoffs.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(self.max_backoff)
    }

    /// Connect and first-byte timeouts.
    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .build()
    }
}

/// Loads the SDK's shared configuration (credentials, region) from the usual AWS sources, with Lucid's
/// retry and timeout policy.
pub async fn sdk_config(config: &Config) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(config.aws_calls.retry_config())
        .timeout_config(config.aws_calls.timeout_config());
    if let Some(endpoint) = &config.aws_endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// An S3 client honouring `LUCID_S3_FORCE_PATH_STYLE`.
pub fn s3_client(sdk: &aws_config::SdkConfig, force_path_style: bool) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(force_path_style)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

pub fn sqs_client(sdk: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(sdk)
}

pub fn sns_client(sdk: &aws_config::SdkConfig) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(sdk)
}

/// The message and source chain of an SDK error (its Display alone is often just "service error").
pub fn describe_sdk_error<E: std::error::Error>(e: &E) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let s_str = s.to_string();
        if !msg.contains(&s_str) {
            msg.push_str(": ");
            msg.push_str(&s_str);
        }
        src = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn policy(vars: &[(&str, &str)]) -> Result<AwsCallPolicy, ConfigError> {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        AwsCallPolicy::from_lookup(&|k: &str| map.get(k).map(|v| v.to_string()))
    }

    #[test]
    fn call_policy_defaults_and_overrides_reach_the_sdk_configs() {
        let default = policy(&[]).unwrap();
        assert_eq!(default, AwsCallPolicy::default());
        let retry = default.retry_config();
        assert_eq!(retry.mode(), aws_config::retry::RetryMode::Standard);
        assert_eq!(retry.max_attempts(), 5);
        assert_eq!(retry.initial_backoff(), Duration::from_millis(200));

        let custom = policy(&[
            ("LUCID_AWS_MAX_ATTEMPTS", "3"),
            ("LUCID_AWS_INITIAL_BACKOFF_MS", "50"),
            ("LUCID_AWS_MAX_BACKOFF_SECS", "2"),
            ("LUCID_AWS_CONNECT_TIMEOUT_SECS", "1"),
            ("LUCID_AWS_READ_TIMEOUT_SECS", "9"),
        ])
        .unwrap();
        let retry = custom.retry_config();
        assert_eq!(retry.max_attempts(), 3);
        assert_eq!(retry.initial_backoff(), Duration::from_millis(50));
        assert_eq!(retry.max_backoff(), Duration::from_secs(2));
        let timeouts = custom.timeout_config();
        assert_eq!(timeouts.connect_timeout(), Some(Duration::from_secs(1)));
        assert_eq!(timeouts.read_timeout(), Some(Duration::from_secs(9)));

        let zero = policy(&[("LUCID_AWS_MAX_ATTEMPTS", "0")]).unwrap_err();
        assert!(
            zero.to_string().contains("LUCID_AWS_MAX_ATTEMPTS"),
            "{zero}"
        );
        assert!(policy(&[("LUCID_AWS_READ_TIMEOUT_SECS", "soon")]).is_err());
    }
}
