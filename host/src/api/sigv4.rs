//! SigV4 authentication of incoming requests.
//!
//! The signature is recomputed with the maintained `aws-sigv4` crate over the
//! request as received (method, path, the headers the client signed, body),
//! with the secret of the access key the credential names, and compared in
//! constant time. Nothing of the signing algorithm is written here; this file
//! only parses the `Authorization` header and picks the inputs.

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use http::request::Parts;
use subtle::ConstantTimeEq;
use time::PrimitiveDateTime;
use time::macros::format_description;

use super::identities::Identities;
use crate::authz::Principal;

/// How far a request's `X-Amz-Date` may be from the server's clock.
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// Why a request is not authenticated, with AWS's exception names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,
    /// The `Authorization` header or the date does not parse.
    #[error("{0}")]
    IncompleteSignature(String),
    /// The access key is unknown.
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
    /// The signature does not match.
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    InvalidSignature,
    /// The request's time is more than five minutes from the server's.
    #[error(
        "Signature expired: {0} is now earlier or later than the server time by more than 5 minutes"
    )]
    Expired(String),
}

impl AuthError {
    /// The AWS exception name.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::IncompleteSignature(_) => "IncompleteSignatureException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::InvalidSignature | Self::Expired(_) => "InvalidSignatureException",
        }
    }
}

/// An authenticated request: who signed it and for which region.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The principal of the access key.
    pub principal: Principal,
    /// The region of the credential scope.
    pub region: String,
    /// The access key the request was signed with.
    pub access_key_id: String,
}

/// The parts of `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn incomplete(what: &str) -> AuthError {
    AuthError::IncompleteSignature(format!("the Authorization header is malformed: {what}"))
}

fn parse_authorization(header: &str) -> Result<Authorization<'_>, AuthError> {
    let rest = header
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| incomplete("only AWS4-HMAC-SHA256 is supported"))?;
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (name, value) = part
            .trim()
            .split_once('=')
            .ok_or_else(|| incomplete("expected name=value"))?;
        match name {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed_headers = Some(value),
            "Signature" => signature = Some(value),
            _ => return Err(incomplete("unknown component")),
        }
    }
    let credential = credential.ok_or_else(|| incomplete("no Credential"))?;
    let mut scope = credential.split('/');
    let (Some(access_key_id), Some(date), Some(region), Some(service), Some("aws4_request"), None) = (
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
    ) else {
        return Err(incomplete(
            "Credential must be KEY/DATE/REGION/SERVICE/aws4_request",
        ));
    };
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        signed_headers: signed_headers
            .ok_or_else(|| incomplete("no SignedHeaders"))?
            .split(';')
            .collect(),
        signature: signature.ok_or_else(|| incomplete("no Signature"))?,
    })
}

/// Parses `X-Amz-Date` (`YYYYMMDD'T'HHMMSS'Z'`).
fn parse_amz_date(text: &str) -> Result<SystemTime, AuthError> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    let parsed = PrimitiveDateTime::parse(text, format).map_err(|_| {
        AuthError::IncompleteSignature(format!("`X-Amz-Date` `{text}` is not YYYYMMDDTHHMMSSZ"))
    })?;
    Ok(parsed.assume_utc().into())
}

/// Authenticates a request, or says why not.
pub fn authenticate(
    parts: &Parts,
    body: &[u8],
    identities: &Identities,
    now: SystemTime,
) -> Result<Authenticated, AuthError> {
    let header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .ok_or(AuthError::MissingAuthenticationToken)?
        .to_str()
        .map_err(|_| incomplete("not ASCII"))?;
    let authorization = parse_authorization(header)?;
    let amz_date = parts
        .headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            AuthError::IncompleteSignature("the request has no `X-Amz-Date` header".into())
        })?;
    let time = parse_amz_date(amz_date)?;
    if !amz_date.starts_with(authorization.date) || authorization.date.len() != 8 {
        return Err(AuthError::InvalidSignature);
    }
    let skew = now.duration_since(time).unwrap_or_else(|e| e.duration());
    if skew > MAX_SKEW {
        return Err(AuthError::Expired(amz_date.to_owned()));
    }
    if !authorization.signed_headers.contains(&"host") || authorization.service != "kms" {
        return Err(AuthError::InvalidSignature);
    }
    let identity = identities
        .get(authorization.access_key_id)
        .ok_or(AuthError::UnrecognizedClient)?;

    // The headers the client signed, as received.
    let mut headers = Vec::with_capacity(authorization.signed_headers.len());
    for name in &authorization.signed_headers {
        let value = parts
            .headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .ok_or(AuthError::InvalidSignature)?;
        headers.push((*name, value));
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let request = SignableRequest::new(
        parts.method.as_str(),
        path,
        headers.into_iter(),
        SignableBody::Bytes(body),
    )
    .map_err(|_| AuthError::InvalidSignature)?;

    let mut settings = SigningSettings::default();
    // Sign exactly what the client signed: nothing is excluded.
    settings.excluded_headers = Some(Vec::new());
    let params = SigningParams::builder()
        .identity(&identity.signing)
        .region(authorization.region)
        .name(authorization.service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|_| AuthError::InvalidSignature)?;
    let expected = sign(request, &params.into()).map_err(|_| AuthError::InvalidSignature)?;
    if !bool::from(
        expected
            .signature()
            .as_bytes()
            .ct_eq(authorization.signature.as_bytes()),
    ) {
        return Err(AuthError::InvalidSignature);
    }
    Ok(Authenticated {
        principal: identity.principal.clone(),
        region: authorization.region.to_owned(),
        access_key_id: authorization.access_key_id.to_owned(),
    })
}
