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
mod json;
pub mod log;
pub mod members;
pub mod query;

use std::cell::{Cell, RefCell};

use serde_json::value::RawValue;

use self::json::Object;
use crate::authz::{Decision, PrincipalKind};
use crate::request::Caller;
use crate::store::{KeyRecord, NewEvent};

/// The operations whose successful use of a key `GetKeyLastUsage` reports
/// (AWS's `KeyLastUsageTrackingOperation` values that keyward serves).
const TRACKED_OPERATIONS: &[&str] = &[
    "Decrypt",
    "DeriveSharedSecret",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "ReEncrypt",
    "Sign",
    "Verify",
    "VerifyMac",
];

/// Whether an event of `operation` records a use of its keys (its
/// resources) for `GetKeyLastUsage`: only a successful cryptographic one.
/// The writer and the reader of the log both ask this.
fn uses_its_keys(operation: &str, succeeded: bool) -> bool {
    succeeded && TRACKED_OPERATIONS.contains(&operation)
}

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
    /// The service the operation belongs to (`eventSource`):
    /// `kms.amazonaws.com`, or `iam.amazonaws.com` for identity policies.
    pub event_source: &'a str,
    /// The request, as [`members`] writes it.
    pub parameters: &'a RawValue,
    /// What the request touched and how it was decided.
    pub trail: &'a Trail,
    /// When, in milliseconds since the epoch.
    pub time_ms: i64,
    /// The request id (the `x-amzn-RequestId` an HTTP caller saw).
    pub request_id: &'a str,
}

impl EventBuilder<'_> {
    /// The event, ready for the chain.
    pub fn build(self, outcome: Outcome<'_>) -> NewEvent {
        let trail = self.trail.inner.borrow();
        let principal = &self.caller.principal;
        // In the buffers of this thread's last event, if it is done with.
        let mut built = SPARE.take().unwrap_or_default();
        let mut id = uuid::Uuid::encode_buffer();
        set(
            &mut built.event_id,
            uuid::Uuid::new_v4().hyphenated().encode_lower(&mut id),
        );
        let (error_code, error_message, response_elements) = match &outcome {
            Outcome::Success(response) => {
                (None, None, response.as_deref().unwrap_or(RawValue::NULL))
            }
            Outcome::Failure { code, message } => (Some(*code), Some(*message), RawValue::NULL),
        };
        built.json.clear();
        built.json.reserve(2048);
        let mut event = Object::new(&mut built.json);
        event.str("eventVersion", "1.11");
        let mut identity = event.object("userIdentity");
        if self.service_event {
            identity.str("accountId", principal.account());
            identity.str("invokedBy", KMS_SERVICE);
        } else {
            let (kind, name) = match principal.kind() {
                PrincipalKind::AccountRoot => ("Root", None),
                PrincipalKind::User(name) => ("IAMUser", Some(name.as_str())),
                PrincipalKind::Role(name) => ("AssumedRole", Some(name.as_str())),
            };
            identity.str("type", kind);
            match name {
                None => identity.str("principalId", principal.account()),
                Some(name) => identity.str_of("principalId", &[principal.account(), ":", name]),
            }
            identity.str("arn", principal.arn());
            identity.str("accountId", principal.account());
            identity.str_if("accessKeyId", self.caller.access_key_id.as_deref());
            identity.str_if("userName", name.filter(|_| kind == "IAMUser"));
            if let PrincipalKind::Role(name) = principal.kind() {
                // Where CloudTrail tooling looks for the role behind a
                // session. (keyward's callers act as the role itself, so
                // there is no session name, id or creation time.)
                let mut context = identity.object("sessionContext");
                let mut issuer = context.object("sessionIssuer");
                issuer.str("type", "Role");
                issuer.str("arn", principal.arn());
                issuer.str("accountId", principal.account());
                issuer.str("userName", name);
            }
            identity.str_if("invokedBy", self.caller.via_service.as_deref());
        }
        drop(identity);
        with_iso8601(self.time_ms, |time| event.str("eventTime", time));
        event.str("eventSource", self.event_source);
        event.str("eventName", self.operation);
        event.str("awsRegion", &self.caller.region);
        match (&self.caller.source_ip, &self.caller.via_service) {
            (Some(ip), _) => event.ip("sourceIPAddress", *ip),
            (None, Some(service)) => event.str("sourceIPAddress", service),
            (None, None) if self.service_event => event.str("sourceIPAddress", KMS_SERVICE),
            (None, None) => event.str("sourceIPAddress", "localhost"),
        }
        event.str(
            "userAgent",
            match (&self.caller.user_agent, self.service_event) {
                (_, true) => KMS_SERVICE,
                (Some(agent), false) => agent,
                (None, false) => LIBRARY_AGENT,
            },
        );
        event.str_if("errorCode", error_code);
        event.str_if("errorMessage", error_message);
        event.raw("requestParameters", self.parameters);
        event.raw("responseElements", response_elements);
        let mut additional = event.object("additionalEventData");
        if let Some((allowed, reasons)) = &trail.decision {
            // keyward's extension: how the request was authorized, by the
            // ids of the key-policy, identity-policy or guardrail
            // statements, or the grants, that decided.
            let mut authorization = additional.object("keywardAuthorization");
            authorization.str("decision", if *allowed { "Allow" } else { "Deny" });
            let mut listed = authorization.array("reasons");
            for reason in reasons {
                listed.str(reason);
            }
        }
        drop(additional);
        event.str("requestID", self.request_id);
        event.str("eventID", &built.event_id);
        event.bool("readOnly", self.read_only);
        let mut resources = event.array("resources");
        for (arn, account, ..) in &trail.keys {
            let mut resource = resources.object();
            resource.str("accountId", account);
            resource.str("type", "AWS::KMS::Key");
            resource.str("ARN", arn);
        }
        drop(resources);
        event.str(
            "eventType",
            if self.service_event {
                "AwsServiceEvent"
            } else {
                "AwsApiCall"
            },
        );
        event.bool("managementEvent", true);
        event.str(
            "recipientAccountId",
            trail
                .keys
                .first()
                .map_or(principal.account(), |(_, account, ..)| account),
        );
        event.str("eventCategory", "Management");
        if let Some(tls) = self.caller.tls.as_ref().filter(|_| !self.service_event) {
            let mut details = event.object("tlsDetails");
            details.str("tlsVersion", &tls.version);
            details.str("cipherSuite", &tls.cipher_suite);
            details.str_if("clientProvidedHostHeader", tls.host.as_deref());
        }
        drop(event);
        let used = if uses_its_keys(self.operation, error_code.is_none()) {
            trail.keys.as_slice()
        } else {
            &[]
        };
        built.used_keys.truncate(used.len());
        for (n, (_, _, region, key_id)) in used.iter().enumerate() {
            match built.used_keys.get_mut(n) {
                Some((to_region, to_key_id)) => {
                    set(to_region, region);
                    set(to_key_id, key_id);
                }
                None => built.used_keys.push((region.clone(), key_id.clone())),
            }
        }
        set(&mut built.region, self.chain);
        built.time_ms = self.time_ms;
        set(&mut built.event_name, self.operation);
        set(&mut built.request_id, self.request_id);
        built
    }
}

/// Makes `to` a copy of `from`, in `to`'s buffer.
fn set(to: &mut String, from: &str) {
    to.clear();
    to.push_str(from);
}

thread_local! {
    /// This thread's last event, once written ([`reuse`]): the next event
    /// is built in its buffers, without allocating.
    static SPARE: Cell<Option<NewEvent>> = const { Cell::new(None) };
}

/// The largest buffer a thread keeps for its next event or line: one that
/// a huge event grew past it is freed.
const KEPT_BUFFER: usize = 64 << 10;

/// Keeps `event`'s buffers for the next event this thread builds (unless
/// a huge event grew them).
pub(crate) fn reuse(event: NewEvent) {
    if event.json.capacity() <= KEPT_BUFFER {
        SPARE.set(Some(event));
    }
}

/// Who CloudTrail says made the changes keyward makes on its own.
const KMS_SERVICE: &str = "kms.amazonaws.com";

/// The user agent of in-process (library) callers.
pub const LIBRARY_AGENT: &str = concat!("keyward-library/", env!("CARGO_PKG_VERSION"));

/// `2026-11-23T02:41:00Z`, as CloudTrail writes times.
pub fn iso8601(time_ms: i64) -> String {
    with_iso8601(time_ms, str::to_owned)
}

/// How CloudTrail writes an event's time.
const ISO8601: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// Whether `time_ms` falls in the second that `event_time` (an event's
/// `eventTime`) names.
fn in_second(time_ms: i64, event_time: &str) -> bool {
    with_iso8601(time_ms, |text| text == event_time)
}

/// The start of the second that `event_time` names, in milliseconds.
fn parse_iso8601(event_time: &str) -> Option<i64> {
    let time = time::PrimitiveDateTime::parse(event_time, ISO8601).ok()?;
    Some(time.assume_utc().unix_timestamp() * 1000)
}

/// Calls `f` with [`iso8601`] of `time_ms`, without allocating.
fn with_iso8601<R>(time_ms: i64, f: impl FnOnce(&str) -> R) -> R {
    thread_local! {
        /// The last second formatted on this thread: every event of a
        /// second has the same time.
        static LAST: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let second = time_ms.div_euclid(1000);
    LAST.with_borrow_mut(|(last, text)| {
        if *last != second {
            *text = time::OffsetDateTime::from_unix_timestamp(second)
                .ok()
                .and_then(|t| t.format(ISO8601).ok())
                .unwrap_or_default();
            *last = second;
        }
        f(text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::Principal;

    /// The exact bytes of an Encrypt event by an IAM user over HTTP, and of
    /// its denial: the CloudTrail record fields in CloudTrail's order.
    #[test]
    fn an_encrypt_event_is_written_byte_for_byte() {
        let mut caller = Caller::new(
            Principal::parse("arn:aws:iam::111122223333:user/Alice").unwrap(),
            "us-west-2",
        );
        caller.source_ip = Some("192.0.2.0".parse().unwrap());
        caller.user_agent = Some("aws-cli/2.27 \"quoted\"".into());
        caller.access_key_id = Some("AKIAEXAMPLE".into());
        let key_id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let arn = format!("arn:aws:kms:us-west-2:111122223333:key/{key_id}");
        let trail = Trail::default();
        {
            let mut inner = trail.inner.borrow_mut();
            inner.keys.push((
                arn.clone(),
                "111122223333".into(),
                "us-west-2".into(),
                key_id.into(),
            ));
            inner.decision = Some((true, vec!["key-policy/default".into()]));
        }
        let parameters = RawValue::from_string(format!(
            r#"{{"keyId":"{key_id}","encryptionContext":{{"Dept":"Eng"}}}}"#
        ))
        .unwrap();
        let build = |outcome| {
            EventBuilder {
                caller: &caller,
                chain: "us-west-2",
                operation: "Encrypt",
                read_only: true,
                service_event: false,
                event_source: KMS_SERVICE,
                parameters: &parameters,
                trail: &trail,
                time_ms: 1_795_000_000_123,
                request_id: "f3423043-63bc-11e4-bc2b-4198b6150d5c",
            }
            .build(outcome)
        };
        let expected = |error: &str| {
            format!(
                concat!(
                    r#"{{"eventVersion":"1.11","userIdentity":{{"type":"IAMUser","#,
                    r#""principalId":"111122223333:Alice","#,
                    r#""arn":"arn:aws:iam::111122223333:user/Alice","accountId":"111122223333","#,
                    r#""accessKeyId":"AKIAEXAMPLE","userName":"Alice"}},"#,
                    r#""eventTime":"2026-11-18T11:06:40Z","eventSource":"kms.amazonaws.com","#,
                    r#""eventName":"Encrypt","awsRegion":"us-west-2","#,
                    r#""sourceIPAddress":"192.0.2.0","userAgent":"aws-cli/2.27 \"quoted\"",{}"#,
                    r#""requestParameters":{{"keyId":"{}","encryptionContext":{{"Dept":"Eng"}}}},"#,
                    r#""responseElements":null,"#,
                    r#""additionalEventData":{{"keywardAuthorization":{{"decision":"Allow","#,
                    r#""reasons":["key-policy/default"]}}}},"#,
                    r#""requestID":"f3423043-63bc-11e4-bc2b-4198b6150d5c","eventID":"<id>","#,
                    r#""readOnly":true,"#,
                    r#""resources":[{{"accountId":"111122223333","type":"AWS::KMS::Key","ARN":"{}"}}],"#,
                    r#""eventType":"AwsApiCall","managementEvent":true,"#,
                    r#""recipientAccountId":"111122223333","eventCategory":"Management"}}"#,
                ),
                error, key_id, arn
            )
        };
        let with_id = |event: &NewEvent| event.json.replace(&event.event_id, "<id>");

        let succeeded = build(Outcome::Success(None));
        assert_eq!(with_id(&succeeded), expected(""));
        assert_eq!(
            (succeeded.region.as_str(), succeeded.time_ms),
            ("us-west-2", 1_795_000_000_123)
        );
        assert_eq!(
            succeeded.used_keys,
            [("us-west-2".to_owned(), key_id.to_owned())]
        );

        let failed = build(Outcome::Failure {
            code: "DisabledException",
            message: "key is \"disabled\"",
        });
        assert_eq!(
            with_id(&failed),
            expected(r#""errorCode":"DisabledException","errorMessage":"key is \"disabled\"","#)
        );
        assert!(failed.used_keys.is_empty());
    }

    /// A role's events name it where CloudTrail names a session's issuer.
    #[test]
    fn a_role_is_its_sessions_issuer() {
        let role = "arn:aws:iam::111122223333:role/Deployer";
        let caller = Caller::new(Principal::parse(role).unwrap(), "us-east-1");
        let event = EventBuilder {
            caller: &caller,
            chain: "us-east-1",
            operation: "ListKeys",
            read_only: true,
            service_event: false,
            event_source: KMS_SERVICE,
            parameters: RawValue::NULL,
            trail: &Trail::default(),
            time_ms: 1_795_000_000_000,
            request_id: "r",
        }
        .build(Outcome::Success(None));
        let event: serde_json::Value = serde_json::from_str(&event.json).unwrap();
        let identity = &event["userIdentity"];
        assert_eq!(identity["type"], "AssumedRole");
        assert_eq!(identity["arn"], role);
        assert_eq!(
            identity["sessionContext"]["sessionIssuer"],
            serde_json::json!({
                "type": "Role",
                "arn": role,
                "accountId": "111122223333",
                "userName": "Deployer",
            })
        );
        assert!(identity.get("userName").is_none());
    }

    /// Events are built in the buffers of the thread's last one: nothing of
    /// it may stay, whatever it held (here, more keys and a longer JSON).
    #[test]
    fn an_event_built_in_a_reused_buffer_keeps_nothing_of_the_last() {
        let caller = Caller::new(
            Principal::account_root("111122223333").unwrap(),
            "eu-west-1",
        );
        let trail = |keys: &[&str]| {
            let trail = Trail::default();
            let mut inner = trail.inner.borrow_mut();
            for key_id in keys {
                let arn = format!("arn:aws:kms:eu-west-1:111122223333:key/{key_id}");
                let key = (
                    arn,
                    "111122223333".into(),
                    "eu-west-1".into(),
                    key_id.to_string(),
                );
                inner.keys.push(key);
            }
            inner.decision = Some((true, vec!["key-policy/default".into()]));
            drop(inner);
            trail
        };
        let (one, two) = (trail(&["k1"]), trail(&["k2-much-longer", "k3"]));
        let parameters = RawValue::from_string(r#"{"keyId":"k1"}"#.into()).unwrap();
        let build = |operation, trail, request_id, outcome| {
            EventBuilder {
                caller: &caller,
                chain: "eu-west-1",
                operation,
                read_only: true,
                service_event: false,
                event_source: KMS_SERVICE,
                parameters: &parameters,
                trail,
                time_ms: 1_795_000_000_000,
                request_id,
            }
            .build(outcome)
        };
        let same_id = |mut event: NewEvent, as_in: &NewEvent| {
            event.json = event.json.replace(&event.event_id, &as_in.event_id);
            event.event_id.clone_from(&as_in.event_id);
            event
        };
        let longer_id = "r".repeat(100);
        let fresh = build("Encrypt", &one, "r1", Outcome::Success(None));
        reuse(build("ReEncrypt", &two, &longer_id, Outcome::Success(None)));
        let reused = build("Encrypt", &one, "r1", Outcome::Success(None));
        assert_eq!(same_id(reused.clone(), &fresh), fresh);
        assert_eq!(
            reused.used_keys,
            [("eu-west-1".to_owned(), "k1".to_owned())]
        );

        let failure = || Outcome::Failure {
            code: "NotFoundException",
            message: "no such key",
        };
        let fresh = build("Encrypt", &one, "r2", failure());
        reuse(reused);
        let reused = build("Encrypt", &one, "r2", failure());
        assert_eq!(same_id(reused.clone(), &fresh), fresh);
        assert!(reused.used_keys.is_empty());
    }

    #[test]
    fn times_are_cloudtrail_times() {
        assert_eq!(iso8601(1_795_000_000_123), "2026-11-18T11:06:40Z");
        assert_eq!(iso8601(1_795_000_000_999), "2026-11-18T11:06:40Z");
        assert_eq!(iso8601(1_795_000_001_000), "2026-11-18T11:06:41Z");
        assert_eq!(
            parse_iso8601("2026-11-18T11:06:41Z"),
            Some(1_795_000_001_000)
        );
        assert!(in_second(1_795_000_001_999, "2026-11-18T11:06:41Z"));
        assert!(!in_second(1_795_000_002_000, "2026-11-18T11:06:41Z"));
        assert_eq!(iso8601(1_795_000_000_000), "2026-11-18T11:06:40Z");
    }
}
