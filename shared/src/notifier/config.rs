//! The notifier's configuration, read with the rest of [`crate::config::Config`].
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `LUCID_SUBSCRIBERS` | JSON array of subscribers: `{"kind": "webhook"\|"sqs"\|"sns", "target": URL or topic ARN, "secret": "…", "min_severity": "High"}` (`kind` defaults to `webhook`) | none |
//! | `LUCID_NOTIFIER_CALLBACK_URL` | base of the callback sent in webhooks; the notification id is appended (`https://lucid.example/notifier/api/v1/notification/`) | `lucid serve`: its own address |
//! | `LUCID_NOTIFIER_MAX_ATTEMPTS` | delivery attempts before a receipt becomes a dead letter | 10 |
//! | `LUCID_NOTIFIER_RETRY_BASE_MS` | first retry delay ceiling (doubles per attempt, full jitter) | 5000 |
//! | `LUCID_NOTIFIER_RETRY_MAX_SECS` | retry delay cap (at most 900, SQS's longest delay) | 900 |
//! | `LUCID_NOTIFIER_CHUNK_MANIFESTS` | affected manifests per fan-out chunk message | 5000 |
//! | `LUCID_NOTIFICATION_RETENTION_DAYS` | delivered/dead sets are garbage-collected after this | 14 |
//! | `LUCID_WEBHOOK_TIMEOUT_MS` | whole-request timeout of one webhook POST | 10000 |
//! | `LUCID_WEBHOOK_ALLOW_PRIVATE` | allow webhook targets on internal addresses (loopback, RFC 1918, metadata) | false |

use std::time::Duration;

use crate::config::{ConfigError, parse_bool, parse_number};
use crate::model::Severity;

/// How a subscriber is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriberKind {
    /// `POST target` with Clair's `{notification_id, callback}`.
    Webhook,
    /// The same body sent as a message to the SQS queue URL `target`.
    Sqs,
    /// The same body published to the SNS topic ARN `target`.
    Sns,
}

impl SubscriberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriberKind::Webhook => "webhook",
            SubscriberKind::Sqs => "sqs",
            SubscriberKind::Sns => "sns",
        }
    }
}

/// One configured subscriber.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriberConfig {
    #[serde(default = "webhook")]
    pub kind: SubscriberKind,
    pub target: String,
    /// HMAC key of the `X-Lucid-Signature` header (webhooks); empty sends no signature.
    #[serde(default)]
    pub secret: String,
    /// Sets whose most severe notification is below this are not delivered to this subscriber.
    #[serde(default)]
    pub min_severity: Severity,
}

fn webhook() -> SubscriberKind {
    SubscriberKind::Webhook
}

/// Everything the notifier reads from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifierConfig {
    pub subscribers: Vec<SubscriberConfig>,
    pub callback_url: Option<String>,
    pub max_attempts: u32,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub chunk_manifests: usize,
    pub retention: Duration,
    pub webhook_timeout: Duration,
    pub allow_private_targets: bool,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        NotifierConfig {
            subscribers: Vec::new(),
            callback_url: None,
            max_attempts: 10,
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(900),
            chunk_manifests: 5000,
            retention: Duration::from_secs(14 * 86_400),
            webhook_timeout: Duration::from_secs(10),
            allow_private_targets: false,
        }
    }
}

impl NotifierConfig {
    /// Reads the variables through `get` (values already trimmed, empty as unset).
    pub fn from_lookup(
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<NotifierConfig, ConfigError> {
        let d = NotifierConfig::default();
        let subscribers: Vec<SubscriberConfig> = match get("LUCID_SUBSCRIBERS") {
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                ConfigError::new(
                    "LUCID_SUBSCRIBERS",
                    format!(
                        "not a JSON array of {{\"kind\",\"target\",\"secret\",\"min_severity\"}}: {e}"
                    ),
                )
            })?,
            None => Vec::new(),
        };
        for s in &subscribers {
            let ok = match s.kind {
                SubscriberKind::Webhook => {
                    url::Url::parse(&s.target).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
                }
                SubscriberKind::Sqs => {
                    s.target.starts_with("https://") || s.target.starts_with("http://")
                }
                SubscriberKind::Sns => {
                    s.target.starts_with("arn:") && s.target.split(':').nth(2) == Some("sns")
                }
            };
            if !ok {
                return Err(ConfigError::new(
                    "LUCID_SUBSCRIBERS",
                    format!(
                        "{} target {:?} is not an http(s) URL (webhook, sqs) or an SNS topic ARN (sns)",
                        s.kind.as_str(),
                        s.target
                    ),
                ));
            }
        }
        let callback_url = get("LUCID_NOTIFIER_CALLBACK_URL");
        if let Some(url) = &callback_url
            && url::Url::parse(url).is_err()
        {
            return Err(ConfigError::new(
                "LUCID_NOTIFIER_CALLBACK_URL",
                format!("{url:?} is not a URL"),
            ));
        }
        let millis =
            |var: &'static str, default: Duration, range: std::ops::RangeInclusive<usize>| {
                parse_number(var, get(var), default.as_millis() as usize, range)
                    .map(|n| Duration::from_millis(n as u64))
            };
        Ok(NotifierConfig {
            subscribers,
            callback_url,
            max_attempts: parse_number(
                "LUCID_NOTIFIER_MAX_ATTEMPTS",
                get("LUCID_NOTIFIER_MAX_ATTEMPTS"),
                d.max_attempts as usize,
                1..=100,
            )? as u32,
            retry_base: millis("LUCID_NOTIFIER_RETRY_BASE_MS", d.retry_base, 1..=900_000)?,
            retry_max: Duration::from_secs(parse_number(
                "LUCID_NOTIFIER_RETRY_MAX_SECS",
                get("LUCID_NOTIFIER_RETRY_MAX_SECS"),
                d.retry_max.as_secs() as usize,
                1..=900,
            )? as u64),
            chunk_manifests: parse_number(
                "LUCID_NOTIFIER_CHUNK_MANIFESTS",
                get("LUCID_NOTIFIER_CHUNK_MANIFESTS"),
                d.chunk_manifests,
                1..=1_000_000,
            )?,
            retention: Duration::from_secs(
                parse_number(
                    "LUCID_NOTIFICATION_RETENTION_DAYS",
                    get("LUCID_NOTIFICATION_RETENTION_DAYS"),
                    14,
                    0..=3650,
                )? as u64
                    * 86_400,
            ),
            webhook_timeout: millis("LUCID_WEBHOOK_TIMEOUT_MS", d.webhook_timeout, 1..=300_000)?,
            allow_private_targets: match get("LUCID_WEBHOOK_ALLOW_PRIVATE") {
                Some(v) => parse_bool("LUCID_WEBHOOK_ALLOW_PRIVATE", &v)?,
                None => false,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(vars: &[(&str, &str)]) -> Result<NotifierConfig, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        NotifierConfig::from_lookup(&move |k| {
            vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn subscribers_and_timings_are_read_and_checked() {
        assert_eq!(cfg(&[]).unwrap(), NotifierConfig::default());
        let c = cfg(&[
            (
                "LUCID_SUBSCRIBERS",
                r#"[{"target":"https://hooks.example/lucid","secret":"s3","min_severity":"High"},
                    {"kind":"sqs","target":"https://sqs.us-east-1.amazonaws.com/1/q"},
                    {"kind":"sns","target":"arn:aws:sns:us-east-1:123456789012:lucid-events"}]"#,
            ),
            ("LUCID_NOTIFIER_RETRY_BASE_MS", "200"),
            ("LUCID_WEBHOOK_ALLOW_PRIVATE", "true"),
        ])
        .unwrap();
        assert_eq!(c.subscribers.len(), 3);
        assert_eq!(c.subscribers[2].kind, SubscriberKind::Sns);
        assert_eq!(c.subscribers[0].kind, SubscriberKind::Webhook);
        assert_eq!(c.subscribers[0].min_severity, Severity::High);
        assert_eq!(c.subscribers[1].kind, SubscriberKind::Sqs);
        assert_eq!(c.subscribers[1].min_severity, Severity::Unknown);
        assert_eq!(c.retry_base, Duration::from_millis(200));
        assert!(c.allow_private_targets);
        for (var, value) in [
            ("LUCID_SUBSCRIBERS", "https://x"),
            ("LUCID_SUBSCRIBERS", r#"[{"target":"ftp://x"}]"#),
            (
                "LUCID_SUBSCRIBERS",
                r#"[{"kind":"sns","target":"arn:aws:sqs:us-east-1:1:q"}]"#,
            ),
            (
                "LUCID_SUBSCRIBERS",
                r#"[{"target":"https://x","colour":"red"}]"#,
            ),
            ("LUCID_NOTIFIER_RETRY_MAX_SECS", "3600"),
            ("LUCID_NOTIFIER_MAX_ATTEMPTS", "0"),
            ("LUCID_NOTIFIER_CALLBACK_URL", "not a url"),
        ] {
            let e = cfg(&[(var, value)]).unwrap_err();
            assert_eq!(e.variable, var, "{value}");
        }
    }
}
