//! The audit trail, keyward's CloudTrail: one event for every request that
//! reaches the pipeline, allowed or denied, successful or not.
//!
//! - [`Trail`] collects, while a request runs, what its event needs besides
//!   the request and the outcome: the keys it touched and the authorization
//!   decision.
//! - [`EventBuilder`] writes the CloudTrail-shaped JSON. Parameters and
//!   responses are written by [`members`], with every binary field and
//!   grant token left out, so that no plaintext, data key, ciphertext, key
//!   material or token reaches it.
//! - [`chain`] links events into a SHA-256 chain per region and checks it;
//!   digests are MACed inside the guest.
//! - [`log`] keeps the events: an append-only file per region, which a
//!   mutation's event joins before the mutation commits.
//! - [`commit::GroupCommit`] shares one fsync among concurrent requests that
//!   change nothing, when events must be on disk before the answer.
//! - [`query`] filters events and exports CloudTrail log files.
//!
//! If an event cannot be written, the request fails and, for a mutation,
//! nothing it did is kept (fail closed).

pub mod chain;
pub mod commit;
pub mod log;
pub mod members;
pub mod query;

use std::borrow::Cow;
use std::cell::RefCell;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::authz::{Decision, PrincipalKind};
use crate::service::Caller;
use crate::store::{KeyRecord, NewEvent};

/// The operations whose successful use of a key `GetKeyLastUsage` reports
/// (AWS's `KeyLastUsageTrackingOperation` values that keyward serves).
const TRACKED_OPERATIONS: &[&str] = &[
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
];

/// What a request did that its event records, collected while it runs.
#[derive(Debug, Default)]
pub struct Trail {
    inner: RefCell<TrailInner>,
}

#[derive(Debug, Default)]
struct TrailInner {
    /// The keys the request named, in order: (ARN, account, region, key id).
    keys: Vec<(String, String, String, String)>,
    /// The authorization decision, if one was made.
    decision: Option<(bool, Vec<String>)>,
}

impl Trail {
    /// Records a key the request resolved (it becomes one of the event's
    /// `resources`).
    pub fn key(&self, key: &KeyRecord) {
        let mut inner = self.inner.borrow_mut();
        if !inner.keys.iter().any(|(arn, ..)| *arn == key.arn) {
            inner.keys.push((
                key.arn.clone(),
                key.account.clone(),
                key.region.clone(),
                key.key_id.clone(),
            ));
        }
    }

    /// Records an authorization decision. With two (ReEncrypt), a denial
    /// wins and the reasons are joined.
    pub fn decision(&self, decision: &Decision) {
        let mut inner = self.inner.borrow_mut();
        match &mut inner.decision {
            None => inner.decision = Some((decision.allowed, decision.reasons.clone())),
            Some((allowed, reasons)) => {
                *allowed &= decision.allowed;
                reasons.extend(decision.reasons.iter().cloned());
            }
        }
    }
}

/// The outcome of a request, as the event reports it.
#[derive(Debug)]
pub enum Outcome<'a> {
    /// It succeeded, with this response as [`members`] writes it, or with
    /// none recorded (`null`, as for the cryptographic operations).
    Success(Option<Box<RawValue>>),
    /// It failed with this error code and message.
    Failure {
        /// The KMS exception name.
        code: &'static str,
        /// The message the caller saw.
        message: &'a str,
    },
}

/// Everything one event is built from.
#[derive(Debug)]
pub struct EventBuilder<'a> {
    /// Who called.
    pub caller: &'a Caller,
    /// The chain the event joins: the caller's region, if it is served.
    pub chain: &'a str,
    /// The operation.
    pub operation: &'a str,
    /// Whether the operation changes nothing.
    pub read_only: bool,
    /// Whether keyward did it on its own schedule (a scheduled deletion or
    /// an automatic rotation): CloudTrail's `AwsServiceEvent`, invoked by
    /// `kms.amazonaws.com` on behalf of the key's account.
    pub service_event: bool,
    /// The request, as [`members`] writes it.
    pub parameters: &'a RawValue,
    /// What the request touched and how it was decided.
    pub trail: &'a Trail,
    /// When, in milliseconds since the epoch.
    pub time_ms: i64,
    /// The request id (the `x-amzn-RequestId` an HTTP caller saw).
    pub request_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CloudTrailEvent<'a> {
    event_version: &'static str,
    user_identity: UserIdentity<'a>,
    event_time: String,
    event_source: &'static str,
    event_name: &'a str,
    aws_region: &'a str,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: Cow<'a, str>,
    user_agent: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
    request_parameters: &'a RawValue,
    response_elements: &'a RawValue,
    additional_event_data: AdditionalEventData<'a>,
    #[serde(rename = "requestID")]
    request_id: &'a str,
    #[serde(rename = "eventID")]
    event_id: &'a str,
    read_only: bool,
    resources: Resources<'a>,
    event_type: &'static str,
    management_event: bool,
    recipient_account_id: &'a str,
    event_category: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserIdentity<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal_id: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arn: Option<&'a str>,
    account_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_key_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invoked_by: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AdditionalEventData<'a> {
    /// keyward's extension: how the request was authorized.
    #[serde(skip_serializing_if = "Option::is_none")]
    keyward_authorization: Option<Authorization<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Authorization<'a> {
    decision: &'static str,
    /// The ids of the key-policy, identity-policy or guardrail statements, or
    /// the grants, that decided.
    reasons: &'a [String],
}

/// The keys a request touched, as CloudTrail's `resources`.
struct Resources<'a>(&'a [(String, String, String, String)]);

impl Serialize for Resources<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|(arn, account, ..)| Resource {
            account_id: account,
            kind: "AWS::KMS::Key",
            arn,
        }))
    }
}

#[derive(Serialize)]
struct Resource<'a> {
    #[serde(rename = "accountId")]
    account_id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "ARN")]
    arn: &'a str,
}

impl EventBuilder<'_> {
    /// The event, ready for the chain.
    pub fn build(self, outcome: Outcome<'_>) -> NewEvent {
        let trail = self.trail.inner.borrow();
        let principal = &self.caller.principal;
        let (kind, user_name) = match principal.kind() {
            PrincipalKind::AccountRoot => ("Root", None),
            PrincipalKind::User(name) => ("IAMUser", Some(name.as_str())),
            PrincipalKind::Role(name) => ("AssumedRole", Some(name.as_str())),
        };
        let principal_id = match user_name {
            None => Cow::Borrowed(principal.account()),
            Some(name) => Cow::Owned(format!("{}:{name}", principal.account())),
        };
        let event_id = uuid::Uuid::new_v4().to_string();
        let source_ip_address = match (&self.caller.source_ip, &self.caller.via_service) {
            (Some(ip), _) => Cow::Owned(ip.to_string()),
            (None, Some(service)) => Cow::Borrowed(service.as_str()),
            (None, None) if self.service_event => Cow::Borrowed(KMS_SERVICE),
            (None, None) => Cow::Borrowed("localhost"),
        };
        let (error_code, error_message, response_elements) = match &outcome {
            Outcome::Success(response) => {
                (None, None, response.as_deref().unwrap_or(RawValue::NULL))
            }
            Outcome::Failure { code, message } => (Some(*code), Some(*message), RawValue::NULL),
        };
        let user_identity = if self.service_event {
            UserIdentity {
                kind: None,
                principal_id: None,
                arn: None,
                account_id: principal.account(),
                access_key_id: None,
                user_name: None,
                invoked_by: Some(KMS_SERVICE),
            }
        } else {
            UserIdentity {
                kind: Some(kind),
                principal_id: Some(principal_id),
                arn: Some(principal.arn()),
                account_id: principal.account(),
                access_key_id: self.caller.access_key_id.as_deref(),
                user_name: user_name.filter(|_| kind == "IAMUser"),
                invoked_by: self.caller.via_service.as_deref(),
            }
        };
        let event = CloudTrailEvent {
            event_version: "1.11",
            user_identity,
            event_time: iso8601(self.time_ms),
            event_source: "kms.amazonaws.com",
            event_name: self.operation,
            aws_region: &self.caller.region,
            source_ip_address,
            user_agent: match (&self.caller.user_agent, self.service_event) {
                (_, true) => KMS_SERVICE,
                (Some(agent), false) => agent,
                (None, false) => LIBRARY_AGENT,
            },
            error_code,
            error_message,
            request_parameters: self.parameters,
            response_elements,
            additional_event_data: AdditionalEventData {
                keyward_authorization: trail.decision.as_ref().map(|(allowed, reasons)| {
                    Authorization {
                        decision: if *allowed { "Allow" } else { "Deny" },
                        reasons,
                    }
                }),
            },
            request_id: self.request_id,
            event_id: &event_id,
            read_only: self.read_only,
            resources: Resources(&trail.keys),
            event_type: if self.service_event {
                "AwsServiceEvent"
            } else {
                "AwsApiCall"
            },
            management_event: true,
            recipient_account_id: trail
                .keys
                .first()
                .map_or(principal.account(), |(_, account, ..)| account),
            event_category: "Management",
        };
        // INVARIANT: the event is plain strings, numbers and JSON values,
        // which always serialise.
        let mut json = Vec::with_capacity(2048);
        if serde_json::to_writer(&mut json, &event).is_err() {
            json.clear();
        }
        let json = String::from_utf8(json).unwrap_or_default();
        let succeeded = error_code.is_none();
        let used_keys = if succeeded && TRACKED_OPERATIONS.contains(&self.operation) {
            trail
                .keys
                .iter()
                .map(|(_, _, region, key_id)| (region.clone(), key_id.clone()))
                .collect()
        } else {
            Vec::new()
        };
        NewEvent {
            region: self.chain.to_owned(),
            time_ms: self.time_ms,
            json,
            used_keys,
            event_name: self.operation.to_owned(),
            event_id,
            request_id: self.request_id.to_owned(),
        }
    }
}

/// Who CloudTrail says made the changes keyward makes on its own.
const KMS_SERVICE: &str = "kms.amazonaws.com";

/// The user agent of in-process (library) callers.
pub const LIBRARY_AGENT: &str = concat!("keyward-library/", env!("CARGO_PKG_VERSION"));

/// `2026-11-23T02:41:00Z`, as CloudTrail writes times.
pub fn iso8601(time_ms: i64) -> String {
    thread_local! {
        /// The last second formatted on this thread: every event of a
        /// second has the same time.
        static LAST: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let second = time_ms.div_euclid(1000);
    LAST.with_borrow_mut(|(last, text)| {
        if *last != second {
            let format =
                time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
            *text = time::OffsetDateTime::from_unix_timestamp(second)
                .ok()
                .and_then(|t| t.format(format).ok())
                .unwrap_or_default();
            *last = second;
        }
        text.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_cloudtrail_times() {
        assert_eq!(iso8601(1_795_000_000_123), "2026-11-18T11:06:40Z");
        assert_eq!(iso8601(1_795_000_000_999), "2026-11-18T11:06:40Z");
        assert_eq!(iso8601(1_795_000_001_000), "2026-11-18T11:06:41Z");
        assert_eq!(iso8601(1_795_000_000_000), "2026-11-18T11:06:40Z");
    }
}
