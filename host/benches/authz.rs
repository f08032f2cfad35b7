#![allow(missing_docs, reason = "criterion macros generate undocumented items")]
#![allow(clippy::unwrap_used, reason = "a benchmark aborts on any failure")]
//! The authorization decision alone: a 20-statement key policy (in Cedar,
//! and the same in IAM JSON), 100 grants on the key and 5 identity policies
//! (issue 3's target: p50 ≤ 10 µs).
//!
//! Run: `cargo bench -p keyward --bench authz`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keyward::authz::request::{self, RequestFacts};
use keyward::authz::{Action, KeyPolicies, Principal, Question, decide, identity_policy_set};
use keyward::model::{
    EncryptionContext, GrantConstraints, GrantOperation, KeyManager, KeySpec, KeyState, KeyUsage,
    OriginType,
};
use keyward::store::{GrantRecord, KeyRecord};

const ACCOUNT: &str = "111122223333";
const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn key() -> KeyRecord {
    KeyRecord {
        key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
        region: "us-east-1".into(),
        account: ACCOUNT.into(),
        arn: KEY.into(),
        description: String::new(),
        created_ms: 0,
        state: KeyState::Enabled,
        key_spec: KeySpec::SymmetricDefault,
        key_usage: KeyUsage::EncryptDecrypt,
        origin: OriginType::AwsKms,
        key_manager: KeyManager::Customer,
        multi_region: false,
        current_version: 1,
        policy: String::new(),
        policy_version: 1,
        tags: Default::default(),
        deletion: None,
        rotation: None,
        on_demand_rotations: 0,
        imported: None,
        aliases: Vec::new(),
    }
}

/// 20 statements: the root, 17 named users with conditions, 2 forbids.
fn key_policy() -> String {
    let mut text =
        format!("@id(\"root\") permit (principal == Account::\"{ACCOUNT}\", action, resource);\n");
    for i in 0..17 {
        text.push_str(&format!(
            "permit (principal == User::\"arn:aws:iam::{ACCOUNT}:user/u{i}\", action in [Action::\"Encrypt\", \
             Action::\"Decrypt\"], resource) when {{ context.encryption_context.hasTag(\"team\") && \
             context.encryption_context.getTag(\"team\") == \"t{i}\" }};\n"
        ));
    }
    text.push_str(&format!(
        "forbid (principal == User::\"arn:aws:iam::{ACCOUNT}:user/banned\", action, resource);\n\
         forbid (principal, action == Action::\"Decrypt\", resource) when {{ context has source_ip && \
         context.source_ip.isInRange(ip(\"192.0.2.0/24\")) }};\n"
    ));
    text
}

/// The same 20 statements in IAM JSON, compiled to Cedar when they are set.
fn json_key_policy() -> String {
    let mut statements = vec![format!(
        r#"{{"Sid": "root", "Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::{ACCOUNT}:root"}}, "Action": "kms:*", "Resource": "*"}}"#
    )];
    for i in 0..17 {
        statements.push(format!(
            r#"{{"Sid": "u{i}", "Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::{ACCOUNT}:user/u{i}"}},
                "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*",
                "Condition": {{"StringEquals": {{"kms:EncryptionContext:team": "t{i}"}}}}}}"#
        ));
    }
    statements.push(format!(
        r#"{{"Sid": "banned", "Effect": "Deny", "Principal": {{"AWS": "arn:aws:iam::{ACCOUNT}:user/banned"}}, "Action": "kms:*", "Resource": "*"}}"#
    ));
    statements.push(
        r#"{"Sid": "no-decrypt-from-test-net", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}"#
            .to_owned(),
    );
    format!(
        r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
        statements.join(",\n")
    )
}

fn grants() -> Vec<GrantRecord> {
    (0..100)
        .map(|i| GrantRecord {
            grant_id: format!("{i:064x}"),
            grant_token: String::new(),
            region: "us-east-1".into(),
            key_id: "k".into(),
            name: None,
            grantee_principal: format!("arn:aws:iam::{ACCOUNT}:role/r{i}"),
            retiring_principal: None,
            issuing_account: ACCOUNT.into(),
            operations: vec![GrantOperation::Decrypt, GrantOperation::Encrypt],
            constraints: Some(GrantConstraints {
                encryption_context_subset: Some([("tenant".to_string(), format!("t{i}"))].into()),
                encryption_context_equals: None,
            }),
            created_ms: 0,
        })
        .collect()
}

fn identity() -> Vec<(String, String)> {
    (0..5)
        .map(|i| {
            (
                format!("p{i}"),
                format!(
                    "permit (principal == Role::\"arn:aws:iam::{ACCOUNT}:role/r{i}\", action == Action::\"DescribeKey\", resource);"
                ),
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let key = key();
    let cedar = KeyPolicies::new(KEY, false, &key_policy(), &grants()).unwrap();
    let json = KeyPolicies::new(KEY, false, &json_key_policy(), &grants()).unwrap();
    let identity = identity_policy_set(ACCOUNT, &identity()).unwrap();
    let context_pairs: EncryptionContext = [("tenant".to_string(), "t42".to_string())].into();

    let cache = request::PreparedCache::default();
    let mut group = c.benchmark_group("authz");
    let root = Principal::parse(&format!("arn:aws:iam::{ACCOUNT}:root")).unwrap();
    // Building a request's entities and context from scratch (a cache miss).
    group.bench_function("build_entities_and_context", |b| {
        b.iter(|| {
            let facts = RequestFacts {
                region: "us-east-1",
                encryption_context: Some(&context_pairs),
                now_ms: 1_767_225_600_000,
                ..Default::default()
            };
            black_box(request::build(None, &root, Some(&key), ACCOUNT, &facts).unwrap())
        })
    });
    for (name, arn, policies) in [
        (
            "decide_grantee_role_100_grants",
            format!("arn:aws:iam::{ACCOUNT}:role/r42"),
            &cedar,
        ),
        (
            "decide_account_root",
            format!("arn:aws:iam::{ACCOUNT}:root"),
            &cedar,
        ),
        (
            "decide_grantee_role_100_grants_json_policy",
            format!("arn:aws:iam::{ACCOUNT}:role/r42"),
            &json,
        ),
        (
            "decide_account_root_json_policy",
            format!("arn:aws:iam::{ACCOUNT}:root"),
            &json,
        ),
    ] {
        let principal = Principal::parse(&arn).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                // Everything the request path does: the (cached) entities and
                // context, and the decision.
                let facts = RequestFacts {
                    region: "us-east-1",
                    encryption_context: Some(&context_pairs),
                    now_ms: 1_767_225_600_000,
                    ..Default::default()
                };
                let prepared = cache
                    .prepare(None, &principal, Some(&key), ACCOUNT, &facts)
                    .unwrap();
                let question = Question {
                    principal: &principal,
                    action: Action::Decrypt,
                    resource: request::key_uid(KEY),
                    resource_account: ACCOUNT,
                    entities: &prepared.entities,
                    context: prepared.context.clone(),
                };
                let decision = decide(&question, Some(policies), &identity);
                assert!(decision.allowed);
                black_box(decision)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
