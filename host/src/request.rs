//! What a request is, below the layers that act on it: who calls, from
//! where ([`Caller`], [`TlsDetails`]), and what its `KeyId` names
//! (`KeyRef`). The service, the audit trail and the wire protocol all read
//! these, so they live here rather than in any one of them.

use std::borrow::Cow;

use crate::authz::Principal;

/// Who is calling, and from where: the authenticated principal, the
/// request's region and the transport facts that policies can test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The authenticated principal.
    pub principal: Principal,
    /// The region the request is addressed to.
    pub region: String,
    /// The peer address, for requests that came over the network.
    pub source_ip: Option<std::net::IpAddr>,
    /// Whether the request came over TLS. False for in-process calls.
    pub secure_transport: bool,
    /// The TLS connection the request came over, for the audit trail
    /// (CloudTrail's `tlsDetails`). Set, with `secure_transport`, for
    /// requests that came over HTTPS.
    pub tls: Option<TlsDetails>,
    /// The AWS service the request came through (`kms:ViaService`), such as
    /// `s3.us-east-1.amazonaws.com`. Set by the embedding service.
    pub via_service: Option<String>,
    /// The caller's user agent, for the audit trail. `None` for
    /// in-process callers, which the trail records as
    /// `keyward-library/<version>`.
    pub user_agent: Option<String>,
    /// The access key the request was signed with, for the audit trail.
    pub access_key_id: Option<String>,
    /// The request id to record (an HTTP caller sees it as
    /// `x-amzn-RequestId`); a fresh one is made if absent.
    pub request_id: Option<String>,
}

impl Caller {
    /// An in-process caller in `region` (no source address, no TLS).
    pub fn new(principal: Principal, region: impl Into<String>) -> Self {
        Self {
            principal,
            region: region.into(),
            source_ip: None,
            secure_transport: false,
            tls: None,
            via_service: None,
            user_agent: None,
            access_key_id: None,
            request_id: None,
        }
    }

    /// The same caller, via `service`.
    pub fn via(mut self, service: impl Into<String>) -> Self {
        self.via_service = Some(service.into());
        self
    }
}

/// The TLS connection a request came over, as CloudTrail's `tlsDetails`
/// records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsDetails {
    /// The protocol version: `TLSv1.2` or `TLSv1.3`.
    pub version: Cow<'static, str>,
    /// The cipher suite, by the name CloudTrail gives it: the IANA name
    /// for TLS 1.3 (`TLS_AES_128_GCM_SHA256`), OpenSSL's for TLS 1.2
    /// (`ECDHE-RSA-AES128-GCM-SHA256`).
    pub cipher_suite: Cow<'static, str>,
    /// The request's `Host` header (`clientProvidedHostHeader`), if it had
    /// one.
    pub host: Option<String>,
}

/// Why a `KeyId` names nothing: the service reports each as AWS does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BadKeyRef {
    /// Empty, or longer than [`MAX_KEY_ID_LEN`].
    Length,
    /// A KMS ARN that does not name a key or alias.
    Arn(String),
    /// Neither a key id, an ARN nor an alias name.
    KeyId(String),
}

/// The longest `KeyId` AWS accepts.
pub(crate) const MAX_KEY_ID_LEN: usize = 2048;

/// What a `KeyId` parameter names.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KeyRef<'a> {
    /// A key, by id or ARN. `account` is set when an ARN named it; a bare
    /// id means the caller's account.
    Key {
        region: &'a str,
        account: Option<&'a str>,
        key_id: &'a str,
    },
    /// An alias, by name (`alias/…`) or ARN; `account` is set when an ARN
    /// named it.
    Alias {
        region: &'a str,
        account: Option<&'a str>,
        name: &'a str,
    },
}

impl<'a> KeyRef<'a> {
    /// Parses `text`; a key id or alias name without an ARN is in
    /// `request_region`.
    pub(crate) fn parse(text: &'a str, request_region: &'a str) -> Result<Self, BadKeyRef> {
        if text.is_empty() || text.len() > MAX_KEY_ID_LEN {
            return Err(BadKeyRef::Length);
        }
        if text.starts_with("alias/") {
            return Ok(Self::Alias {
                region: request_region,
                account: None,
                name: text,
            });
        }
        if let Some(rest) = text.strip_prefix("arn:aws:kms:") {
            let invalid = || BadKeyRef::Arn(text.to_owned());
            let mut parts = rest.splitn(3, ':');
            let (Some(region), Some(account), Some(resource)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(invalid());
            };
            if region.is_empty() || !crate::authz::is_account_id(account) {
                return Err(invalid());
            }
            if resource.starts_with("alias/") {
                return Ok(Self::Alias {
                    region,
                    account: Some(account),
                    name: resource,
                });
            }
            let key_id = resource
                .strip_prefix("key/")
                .filter(|id| is_key_id(id))
                .ok_or_else(invalid)?;
            return Ok(Self::Key {
                region,
                account: Some(account),
                key_id,
            });
        }
        if is_key_id(text) {
            return Ok(Self::Key {
                region: request_region,
                account: None,
                key_id: text,
            });
        }
        Err(BadKeyRef::KeyId(text.to_owned()))
    }
}

/// A key id: a lowercase UUID, or `mrk-` and 32 hex digits.
pub(crate) fn is_key_id(text: &str) -> bool {
    let hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if let Some(rest) = text.strip_prefix("mrk-") {
        return rest.len() == 32 && hex(rest);
    }
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| hex(g))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_refs_parse() {
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(
            KeyRef::parse(id, "us-east-1").unwrap(),
            KeyRef::Key {
                region: "us-east-1",
                account: None,
                key_id: id
            }
        );
        let arn = format!("arn:aws:kms:eu-west-1:111122223333:key/{id}");
        assert_eq!(
            KeyRef::parse(&arn, "us-east-1").unwrap(),
            KeyRef::Key {
                region: "eu-west-1",
                account: Some("111122223333"),
                key_id: id
            }
        );
        assert_eq!(
            KeyRef::parse("alias/x", "us-east-1").unwrap(),
            KeyRef::Alias {
                region: "us-east-1",
                account: None,
                name: "alias/x"
            }
        );
        assert_eq!(
            KeyRef::parse("arn:aws:kms:eu-west-1:111122223333:alias/x", "us-east-1").unwrap(),
            KeyRef::Alias {
                region: "eu-west-1",
                account: Some("111122223333"),
                name: "alias/x"
            }
        );
        assert!(matches!(
            KeyRef::parse("", "us-east-1"),
            Err(BadKeyRef::Length)
        ));
        assert!(matches!(
            KeyRef::parse(&"a".repeat(2049), "us-east-1"),
            Err(BadKeyRef::Length)
        ));
        for bad in [
            "not-a-key",
            "1234ABCD-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:1:key/x",
            "mrk-12",
        ] {
            assert!(
                matches!(
                    KeyRef::parse(bad, "us-east-1"),
                    Err(BadKeyRef::Arn(_) | BadKeyRef::KeyId(_))
                ),
                "{bad}"
            );
        }
    }
}
