//! A minimal SigV4 signer for KMS requests, for keyward's own tools (the
//! load generator) and for tests that send raw HTTP. Applications should use
//! an AWS SDK; this exists so that those tools need none.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;

/// Credentials and region to sign with.
#[derive(Clone)]
pub struct Signer {
    access_key_id: String,
    secret_access_key: zeroize::Zeroizing<String>,
    region: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// Why signing failed.
#[derive(Debug, thiserror::Error)]
#[error("signing the request failed: {0}")]
pub struct SignError(String);

impl Signer {
    /// A signer for `region`.
    pub fn new(access_key_id: &str, secret_access_key: &str, region: &str) -> Self {
        Self {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: zeroize::Zeroizing::new(secret_access_key.to_owned()),
            region: region.to_owned(),
        }
    }

    /// The headers of a signed `POST /` to `host` for `TrentService.<operation>`
    /// with `body`, at `time`: `host`, `content-type`, `x-amz-target`,
    /// `x-amz-date` and `authorization`.
    pub fn headers(
        &self,
        host: &str,
        operation: &str,
        body: &[u8],
        time: SystemTime,
    ) -> Result<Vec<(String, String)>, SignError> {
        let mut headers = vec![
            ("host".to_owned(), host.to_owned()),
            (
                "content-type".to_owned(),
                "application/x-amz-json-1.1".to_owned(),
            ),
            (
                "x-amz-target".to_owned(),
                format!("TrentService.{operation}"),
            ),
        ];
        let request = SignableRequest::new(
            "POST",
            "/",
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .map_err(|e| SignError(e.to_string()))?;
        let identity = Credentials::new(
            self.access_key_id.as_str(),
            self.secret_access_key.as_str(),
            None,
            None,
            "keyward-signer",
        )
        .into();
        let params = SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("kms")
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| SignError(e.to_string()))?;
        let (instructions, _) = sign(request, &params.into())
            .map_err(|e| SignError(e.to_string()))?
            .into_parts();
        for (name, value) in instructions.headers() {
            headers.push((name.to_owned(), value.to_owned()));
        }
        Ok(headers)
    }
}
