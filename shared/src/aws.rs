//! AWS SDK clients, configured once per process. `AWS_ENDPOINT_URL` points them at an emulator (moto)
//! or an S3-compatible store; path-style addressing is used when configured (emulators need it).

use aws_config::BehaviorVersion;

use crate::config::Config;

/// Loads the SDK's shared configuration (credentials, region) from the usual AWS sources.
pub async fn sdk_config(config: &Config) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
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
