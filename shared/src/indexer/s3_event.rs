//! S3 `ObjectCreated` notifications, as S3 delivers them to Lambda directly or through SQS.
//!
//! Parsed tolerantly (as JSON values, not `aws_lambda_events`' strict structs): emulators omit fields AWS
//! always sends (`userIdentity`, `requestParameters`), and the first message after configuring
//! notifications is an `s3:TestEvent` with no records at all.

use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::blob::BlobKey;
use crate::model::Digest;

/// Why a notification could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3EventError {
    #[error("S3 event is not JSON: {0}")]
    NotJson(String),
    #[error("S3 event record {index}: {reason}")]
    BadRecord { index: usize, reason: String },
}

/// One created object named by a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedObject {
    pub bucket: String,
    pub key: String,
    pub size: Option<u64>,
}

impl CreatedObject {
    /// The layer digest when the key is `layers/<digest>`.
    pub fn layer_digest(&self) -> Option<Digest> {
        BlobKey::new(self.key.clone()).ok()?.layer_digest()
    }
}

/// The objects created according to one S3 notification body. Test events and non-create events yield
/// nothing.
pub fn created_objects(body: &str) -> Result<Vec<CreatedObject>, S3EventError> {
    let v: Value = serde_json::from_str(body).map_err(|e| S3EventError::NotJson(e.to_string()))?;
    created_objects_from_value(&v)
}

/// As [`created_objects`], from parsed JSON.
pub fn created_objects_from_value(v: &Value) -> Result<Vec<CreatedObject>, S3EventError> {
    let Some(records) = v.get("Records") else {
        // s3:TestEvent and other record-less messages.
        return Ok(Vec::new());
    };
    let records = records.as_array().ok_or(S3EventError::BadRecord {
        index: 0,
        reason: "`Records` is not an array".into(),
    })?;
    let mut out = Vec::new();
    for (index, r) in records.iter().enumerate() {
        let bad = |reason: &str| S3EventError::BadRecord {
            index,
            reason: reason.to_owned(),
        };
        let name = r
            .get("eventName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !name.starts_with("ObjectCreated:") {
            continue;
        }
        let s3 = r.get("s3").ok_or_else(|| bad("no `s3` object"))?;
        let bucket = s3
            .pointer("/bucket/name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no bucket name"))?;
        let raw_key = s3
            .pointer("/object/key")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no object key"))?;
        // S3 form-encodes keys: '+' is a space, then percent escapes.
        let key = percent_decode_str(&raw_key.replace('+', " "))
            .decode_utf8()
            .map_err(|_| bad("object key is not UTF-8 after decoding"))?
            .into_owned();
        let size = s3.pointer("/object/size").and_then(Value::as_u64);
        out.push(CreatedObject {
            bucket: bucket.to_owned(),
            key,
            size,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAYER: &str = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

    fn aws_event(key: &str) -> String {
        // The shape AWS documents for S3 → Lambda notifications (event version 2.1).
        format!(
            r#"{{"Records":[{{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
            "eventTime":"2026-11-28T12:00:00.000Z","eventName":"ObjectCreated:Put",
            "userIdentity":{{"principalId":"AWS:AIDAEXAMPLE"}},
            "requestParameters":{{"sourceIPAddress":"203.0.113.7"}},
            "responseElements":{{"x-amz-request-id":"C3D13FE58DE4C810","x-amz-id-2":"FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"}},
            "s3":{{"s3SchemaVersion":"1.0","configurationId":"layers",
            "bucket":{{"name":"lucid-layers","ownerIdentity":{{"principalId":"A3NL1KOZZKExample"}},"arn":"arn:aws:s3:::lucid-layers"}},
            "object":{{"key":"{key}","size":1024,"eTag":"d41d8cd98f00b204e9800998ecf8427e","sequencer":"0055AED6DCD90281E5"}}}}}}]}}"#
        )
    }

    #[test]
    fn decodes_url_encoded_layer_keys() {
        let body = aws_event(&format!("layers/{}", LAYER.replace(':', "%3A")));
        let objs = created_objects(&body).unwrap();
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0].bucket, "lucid-layers");
        assert_eq!(objs[0].size, Some(1024));
        assert_eq!(objs[0].layer_digest().unwrap().to_string(), LAYER);
        // moto encodes '/' too.
        let body = aws_event(&format!("layers%2F{}", LAYER.replace(':', "%3A")));
        assert_eq!(
            created_objects(&body).unwrap()[0].key,
            format!("layers/{LAYER}")
        );
    }

    #[test]
    fn test_events_and_other_keys_yield_no_layers() {
        let test_event = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-28T12:00:00.000Z","Bucket":"lucid-layers","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}"#;
        assert!(created_objects(test_event).unwrap().is_empty());
        let objs = created_objects(&aws_event("other/file+name.txt")).unwrap();
        assert_eq!(objs[0].key, "other/file name.txt");
        assert_eq!(objs[0].layer_digest(), None);
    }

    #[test]
    fn tolerates_missing_optional_fields_and_rejects_garbage() {
        let minimal = format!(
            r#"{{"Records":[{{"eventName":"ObjectCreated:CompleteMultipartUpload","s3":{{"bucket":{{"name":"b"}},"object":{{"key":"layers/{LAYER}"}}}}}}]}}"#
        );
        assert_eq!(created_objects(&minimal).unwrap().len(), 1);
        assert!(matches!(
            created_objects("not json"),
            Err(S3EventError::NotJson(_))
        ));
        assert!(created_objects(r#"{"Records":{}}"#).is_err());
        assert!(created_objects(r#"{"Records":[{"eventName":"ObjectCreated:Put"}]}"#).is_err());
        let removed = r#"{"Records":[{"eventName":"ObjectRemoved:Delete","s3":{}}]}"#;
        assert!(created_objects(removed).unwrap().is_empty());
    }
}
