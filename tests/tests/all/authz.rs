//! Authorization with AWS's semantics, evaluated in Cedar: key policies,
//! identity policies, grants, guardrails and condition keys. Every assertion
//! checks the decision or the error code.

use keyward::authz::Action;
use keyward::model::{
    CreateGrantRequest, CreateKeyRequest, DecryptRequest, EncryptRequest, EncryptionContext,
    GetKeyPolicyRequest, GrantConstraints, GrantOperation, ListGrantsRequest,
    ListKeyPoliciesRequest, ListRetirableGrantsRequest, PutKeyPolicyRequest, ReEncryptRequest,
    RetireGrantRequest, RevokeGrantRequest, ScheduleKeyDeletionRequest, SecretBytes, Tag,
    TagResourceRequest,
};
use keyward::{Caller, Principal};

use crate::support::{ACCOUNT, Env, OTHER_ACCOUNT, REGION, code, context, role, user};

fn arn(key: &str) -> String {
    format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}")
}

fn encrypt(
    env: &Env,
    caller: &Caller,
    key: &str,
    ctx: Option<EncryptionContext>,
) -> keyward::KmsResult<Vec<u8>> {
    encrypt_with_tokens(env, caller, key, ctx, Vec::new())
}

fn encrypt_with_tokens(
    env: &Env,
    caller: &Caller,
    key: &str,
    ctx: Option<EncryptionContext>,
    grant_tokens: Vec<String>,
) -> keyward::KmsResult<Vec<u8>> {
    env.kms
        .encrypt(
            caller,
            EncryptRequest {
                key_id: key.to_owned(),
                plaintext: SecretBytes::new(b"authz".to_vec()),
                encryption_context: ctx,
                grant_tokens,
                ..Default::default()
            },
        )
        .map(|r| r.ciphertext_blob)
}

fn key_with_policy(env: &Env, policy: &str) -> String {
    env.kms
        .create_key(
            &env.caller,
            CreateKeyRequest {
                policy: Some(policy.to_owned()),
                bypass_policy_lockout_safety_check: Some(true),
                ..Default::default()
            },
        )
        .unwrap()
        .key_metadata
        .key_id
}

const ALICE: &str = "arn:aws:iam::111122223333:user/alice";

fn allow_alice(env: &Env, actions: &str) {
    env.kms
        .put_identity_policy(
            &env.caller,
            ACCOUNT,
            "alice",
            &format!(r#"permit (principal == User::"{ALICE}", action in [{actions}], resource);"#),
        )
        .unwrap();
}

#[test]
fn users_are_denied_by_default() {
    let env = Env::new();
    let key = env.key();
    let alice = user(ACCOUNT, "alice");
    let error = encrypt(&env, &alice, &key, None).unwrap_err();
    assert_eq!(error.code(), "AccessDeniedException");
    assert!(
        error
            .to_string()
            .contains("because no resource-based policy allows the kms:Encrypt action")
    );
    let decision = env
        .kms
        .explain(&alice, Action::Encrypt, &key, None)
        .unwrap();
    assert!(!decision.allowed);
    assert!(decision.reasons.is_empty());
}

#[test]
fn the_default_key_policy_delegates_to_identity_policies() {
    let env = Env::new();
    let key = env.key();
    let alice = user(ACCOUNT, "alice");
    allow_alice(&env, r#"Action::"Encrypt""#);
    encrypt(&env, &alice, &key, None).unwrap();
    let decision = env
        .kms
        .explain(&alice, Action::Encrypt, &key, None)
        .unwrap();
    assert!(decision.allowed);
    assert_eq!(
        decision.reasons,
        [
            "key-policy/Enable IAM User Permissions",
            "identity/111122223333/alice/policy0"
        ]
    );
    // Only what the identity policy names.
    let decrypt = env
        .kms
        .explain(&alice, Action::Decrypt, &key, None)
        .unwrap();
    assert!(!decrypt.allowed);
    // Deleting the identity policy takes effect at once.
    env.kms
        .delete_identity_policy(&env.caller, ACCOUNT, "alice")
        .unwrap();
    assert_eq!(
        code(encrypt(&env, &alice, &key, None)),
        "AccessDeniedException"
    );
}

#[test]
fn a_key_policy_without_the_account_root_makes_identity_policies_inert() {
    let env = Env::new();
    let key = key_with_policy(
        &env,
        r#"@id("admin") permit (principal == User::"arn:aws:iam::111122223333:user/admin", action, resource);"#,
    );
    let alice = user(ACCOUNT, "alice");
    allow_alice(&env, r#"Action::"Encrypt""#);
    assert_eq!(
        code(encrypt(&env, &alice, &key, None)),
        "AccessDeniedException"
    );
    // The root itself is not named either.
    assert_eq!(
        code(encrypt(&env, &env.caller, &key, None)),
        "AccessDeniedException"
    );
    // The named principal needs no identity policy.
    let admin = user(ACCOUNT, "admin");
    encrypt(&env, &admin, &key, None).unwrap();
    assert_eq!(
        env.kms
            .explain(&admin, Action::Encrypt, &key, None)
            .unwrap()
            .reasons,
        ["key-policy/admin"]
    );
}

#[test]
fn an_explicit_forbid_beats_identity_permits_and_grants() {
    let env = Env::new();
    let key = key_with_policy(
        &env,
        r#"
        @id("root") permit (principal == Account::"111122223333", action, resource);
        @id("no-decrypt-for-alice")
        forbid (principal == User::"arn:aws:iam::111122223333:user/alice", action == Action::"Decrypt", resource);
        "#,
    );
    let alice = user(ACCOUNT, "alice");
    allow_alice(&env, r#"Action::"Encrypt", Action::"Decrypt""#);
    let blob = encrypt(&env, &alice, &key, None).unwrap();
    let grant = env
        .kms
        .create_grant(
            &env.caller,
            CreateGrantRequest {
                key_id: key.clone(),
                grantee_principal: ALICE.into(),
                operations: vec![GrantOperation::Decrypt],
                ..Default::default()
            },
        )
        .unwrap();
    let error = env
        .kms
        .decrypt(
            &alice,
            DecryptRequest {
                ciphertext_blob: blob,
                grant_tokens: vec![grant.grant_token],
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(error.code(), "AccessDeniedException");
    assert!(
        error
            .to_string()
            .contains("explicit deny in key-policy/no-decrypt-for-alice"),
        "{error}"
    );

    // A forbid in an identity policy wins over the key policy too.
    env.kms
        .put_identity_policy(
            &env.caller,
            ACCOUNT,
            "deny-all",
            r#"forbid (principal == User::"arn:aws:iam::111122223333:user/alice", action, resource);"#,
        )
        .unwrap();
    let decision = env
        .kms
        .explain(&alice, Action::Encrypt, &key, None)
        .unwrap();
    assert!(!decision.allowed);
    assert_eq!(decision.reasons, ["identity/111122223333/deny-all/policy0"]);
}

fn grant_to(
    env: &Env,
    key: &str,
    grantee: &str,
    ops: Vec<GrantOperation>,
    constraints: Option<GrantConstraints>,
) -> keyward::model::CreateGrantResponse {
    env.kms
        .create_grant(
            &env.caller,
            CreateGrantRequest {
                key_id: key.to_owned(),
                grantee_principal: grantee.to_owned(),
                retiring_principal: Some("arn:aws:iam::111122223333:role/retirer".into()),
                operations: ops,
                constraints,
                ..Default::default()
            },
        )
        .unwrap()
}

#[test]
fn grant_constraints_are_enforced_on_every_use() {
    let env = Env::new();
    let key = env.key();
    let app = role(ACCOUNT, "app");
    let subset = GrantConstraints {
        encryption_context_subset: Some(context(&[("tenant", "acme")])),
        encryption_context_equals: None,
    };
    let grant = grant_to(
        &env,
        &key,
        app.principal.arn(),
        vec![GrantOperation::Encrypt],
        Some(subset),
    );
    assert_eq!(grant.grant_id.len(), 64);
    // Matching: the pair is there (with others).
    assert!(
        encrypt(
            &env,
            &app,
            &key,
            Some(context(&[("tenant", "acme"), ("file", "x")]))
        )
        .is_ok()
    );
    let decision = env
        .kms
        .explain(
            &app,
            Action::Encrypt,
            &key,
            Some(&context(&[("tenant", "acme")])),
        )
        .unwrap();
    assert_eq!(decision.reasons, [format!("grant/{}", grant.grant_id)]);
    // Not matching: another value, no context, or another action.
    assert_eq!(
        code(encrypt(
            &env,
            &app,
            &key,
            Some(context(&[("tenant", "other")]))
        )),
        "AccessDeniedException"
    );
    assert_eq!(
        code(encrypt(&env, &app, &key, None)),
        "AccessDeniedException"
    );
    assert!(
        !env.kms
            .explain(
                &app,
                Action::Decrypt,
                &key,
                Some(&context(&[("tenant", "acme")]))
            )
            .unwrap()
            .allowed
    );

    // EncryptionContextEquals: exactly these pairs.
    let worker = role(ACCOUNT, "worker");
    let equals = GrantConstraints {
        encryption_context_subset: None,
        encryption_context_equals: Some(context(&[("job", "42")])),
    };
    grant_to(
        &env,
        &key,
        worker.principal.arn(),
        vec![GrantOperation::Encrypt],
        Some(equals),
    );
    encrypt(&env, &worker, &key, Some(context(&[("job", "42")]))).unwrap();
    assert_eq!(
        code(encrypt(
            &env,
            &worker,
            &key,
            Some(context(&[("job", "42"), ("extra", "1")]))
        )),
        "AccessDeniedException"
    );
}

#[test]
fn retired_and_revoked_grants_stop_working_at_once() {
    let env = Env::new();
    let key = env.key();
    let app = role(ACCOUNT, "app");
    let first = grant_to(
        &env,
        &key,
        app.principal.arn(),
        vec![GrantOperation::Encrypt],
        None,
    );
    encrypt(&env, &app, &key, None).unwrap();
    // Retired by its retiring principal, by token.
    let retirer = role(ACCOUNT, "retirer");
    let listed = env.kms.list_retirable_grants(
        &retirer,
        ListRetirableGrantsRequest {
            retiring_principal: retirer.principal.arn().into(),
            ..Default::default()
        },
    );
    // The retirer role has no identity policy for ListRetirableGrants.
    assert_eq!(code(listed), "AccessDeniedException");
    let listed = env
        .kms
        .list_retirable_grants(
            &env.caller,
            ListRetirableGrantsRequest {
                retiring_principal: retirer.principal.arn().into(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(listed.grants.len(), 1);
    // Another account may not list them, even with its own permissions.
    let outsider = env.kms.list_retirable_grants(
        &crate::support::root(OTHER_ACCOUNT),
        ListRetirableGrantsRequest {
            retiring_principal: retirer.principal.arn().into(),
            ..Default::default()
        },
    );
    assert_eq!(code(outsider), "AccessDeniedException");
    // The grantee may not retire a grant without RetireGrant.
    let refused = env.kms.retire_grant(
        &app,
        RetireGrantRequest {
            grant_token: Some(first.grant_token.clone()),
            ..Default::default()
        },
    );
    assert_eq!(code(refused), "AccessDeniedException");
    env.kms
        .retire_grant(
            &retirer,
            RetireGrantRequest {
                grant_token: Some(first.grant_token.clone()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        code(encrypt(&env, &app, &key, None)),
        "AccessDeniedException"
    );
    let again = env.kms.retire_grant(
        &retirer,
        RetireGrantRequest {
            grant_token: Some(first.grant_token),
            ..Default::default()
        },
    );
    assert_eq!(code(again), "InvalidGrantTokenException");

    // Revoked by the key's account.
    let second = grant_to(
        &env,
        &key,
        app.principal.arn(),
        vec![GrantOperation::Encrypt],
        None,
    );
    encrypt(&env, &app, &key, None).unwrap();
    env.kms
        .revoke_grant(
            &env.caller,
            RevokeGrantRequest {
                key_id: key.clone(),
                grant_id: second.grant_id.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        code(encrypt(&env, &app, &key, None)),
        "AccessDeniedException"
    );
    let unknown = env.kms.revoke_grant(
        &env.caller,
        RevokeGrantRequest {
            key_id: key,
            grant_id: second.grant_id,
            ..Default::default()
        },
    );
    assert_eq!(code(unknown), "InvalidGrantIdException");
}

#[test]
fn grant_tokens_are_accepted_and_grants_list_and_are_idempotent_by_name() {
    let env = Env::new();
    let key = env.key();
    let app = role(ACCOUNT, "app");
    let request = CreateGrantRequest {
        key_id: key.clone(),
        grantee_principal: app.principal.arn().into(),
        operations: vec![GrantOperation::Encrypt, GrantOperation::Decrypt],
        name: Some("app-access".into()),
        ..Default::default()
    };
    let first = env.kms.create_grant(&env.caller, request.clone()).unwrap();
    let second = env.kms.create_grant(&env.caller, request).unwrap();
    assert_eq!(first.grant_id, second.grant_id);
    // The token makes the grant usable at once.
    encrypt_with_tokens(&env, &app, &key, None, vec![first.grant_token.clone()]).unwrap();
    assert_eq!(
        code(encrypt_with_tokens(
            &env,
            &app,
            &key,
            None,
            vec![first.grant_token; 11]
        )),
        "ValidationException"
    );
    let listed = env
        .kms
        .list_grants(
            &env.caller,
            ListGrantsRequest {
                key_id: key.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(listed.grants.len(), 1);
    assert_eq!(listed.grants[0].grant_id, first.grant_id);
    assert_eq!(
        listed.grants[0].issuing_account,
        "arn:aws:iam::111122223333:root"
    );
    assert_eq!(listed.grants[0].key_id, arn(&key));
}

#[test]
fn a_grant_can_regrant_only_what_it_holds() {
    let env = Env::new();
    let key = env.key();
    let app = role(ACCOUNT, "app");
    grant_to(
        &env,
        &key,
        app.principal.arn(),
        vec![GrantOperation::Encrypt, GrantOperation::CreateGrant],
        None,
    );
    let regrant = |ops: Vec<GrantOperation>| {
        env.kms.create_grant(
            &app,
            CreateGrantRequest {
                key_id: key.clone(),
                grantee_principal: "arn:aws:iam::111122223333:role/helper".into(),
                operations: ops,
                ..Default::default()
            },
        )
    };
    regrant(vec![GrantOperation::Encrypt]).unwrap();
    assert_eq!(
        code(regrant(vec![GrantOperation::Decrypt])),
        "AccessDeniedException"
    );
    assert_eq!(
        code(regrant(vec![
            GrantOperation::Encrypt,
            GrantOperation::Decrypt
        ])),
        "AccessDeniedException"
    );
    encrypt(&env, &role(ACCOUNT, "helper"), &key, None).unwrap();
}

#[test]
fn via_service_and_source_ip_conditions() {
    let env = Env::new();
    let key = key_with_policy(
        &env,
        r#"
        @id("root") permit (principal == Account::"111122223333", action, resource);
        @id("s3-only") permit (principal == User::"arn:aws:iam::111122223333:user/alice", action == Action::"Encrypt", resource)
          when { context has via_service && context.via_service == "s3.us-east-1.amazonaws.com" };
        @id("office") permit (principal == User::"arn:aws:iam::111122223333:user/bob", action == Action::"Encrypt", resource)
          when { context has source_ip && context.source_ip.isInRange(ip("10.0.0.0/8")) };
        "#,
    );
    let alice = user(ACCOUNT, "alice");
    assert_eq!(
        code(encrypt(&env, &alice, &key, None)),
        "AccessDeniedException"
    );
    assert!(
        encrypt(
            &env,
            &alice.clone().via("s3.us-east-1.amazonaws.com"),
            &key,
            None
        )
        .is_ok()
    );
    assert_eq!(
        code(encrypt(
            &env,
            &alice.via("sqs.us-east-1.amazonaws.com"),
            &key,
            None
        )),
        "AccessDeniedException"
    );
    let mut bob = user(ACCOUNT, "bob");
    assert_eq!(
        code(encrypt(&env, &bob, &key, None)),
        "AccessDeniedException"
    );
    bob.source_ip = Some("10.1.2.3".parse().unwrap());
    encrypt(&env, &bob, &key, None).unwrap();
    bob.source_ip = Some("192.0.2.7".parse().unwrap());
    assert_eq!(
        code(encrypt(&env, &bob, &key, None)),
        "AccessDeniedException"
    );
}

#[test]
fn encryption_context_conditions_in_policies() {
    let env = Env::new();
    let key = env.key();
    env.kms
        .put_identity_policy(
            &env.caller,
            ACCOUNT,
            "finance",
            r#"permit (principal == User::"arn:aws:iam::111122223333:user/alice", action == Action::"Encrypt", resource)
               when { context.encryption_context.hasTag("Department")
                      && context.encryption_context.getTag("Department") == "Finance" };"#,
        )
        .unwrap();
    let alice = user(ACCOUNT, "alice");
    assert!(
        encrypt(
            &env,
            &alice,
            &key,
            Some(context(&[("Department", "Finance")]))
        )
        .is_ok()
    );
    assert_eq!(
        code(encrypt(
            &env,
            &alice,
            &key,
            Some(context(&[("Department", "Sales")]))
        )),
        "AccessDeniedException"
    );
    assert_eq!(
        code(encrypt(&env, &alice, &key, None)),
        "AccessDeniedException"
    );
}

#[test]
fn cross_region_use_is_refused_by_the_guardrail() {
    let env = Env::new();
    let key = env.key();
    let elsewhere = Caller::new(env.caller.principal.clone(), "eu-west-1");
    let error = encrypt(&env, &elsewhere, &arn(&key), None).unwrap_err();
    assert_eq!(error.code(), "AccessDeniedException");
    assert!(error.to_string().contains("guardrail/regional"), "{error}");
}

#[test]
fn cross_account_use_needs_the_key_policy_and_the_callers_identity_policy() {
    let env = Env::new();
    let key = key_with_policy(
        &env,
        &format!(
            r#"@id("root") permit (principal == Account::"{ACCOUNT}", action, resource);
               @id("partner") permit (principal == Account::"{OTHER_ACCOUNT}", action == Action::"Encrypt", resource);"#
        ),
    );
    let carol = user(OTHER_ACCOUNT, "carol");
    // The key policy trusts the account, but carol's own account has not
    // allowed her.
    assert_eq!(
        code(encrypt(&env, &carol, &arn(&key), None)),
        "AccessDeniedException"
    );
    env.kms
        .put_identity_policy(
            &crate::support::root(OTHER_ACCOUNT),
            OTHER_ACCOUNT,
            "kms",
            r#"permit (principal == User::"arn:aws:iam::444455556666:user/carol", action == Action::"Encrypt", resource);"#,
        )
        .unwrap();
    encrypt(&env, &carol, &arn(&key), None).unwrap();
    // Her account's permit does not stretch to what the key policy withholds.
    assert!(
        !env.kms
            .explain(&carol, Action::Decrypt, &arn(&key), None)
            .unwrap()
            .allowed
    );
    // The partner account's root needs no identity policy.
    let partner = Caller::new(Principal::account_root(OTHER_ACCOUNT).unwrap(), REGION);
    encrypt(&env, &partner, &arn(&key), None).unwrap();
}

#[test]
fn key_policies_are_validated_and_protected_from_lockout() {
    let env = Env::new();
    let key = env.key();
    let put = |policy: &str, bypass: bool| {
        env.kms.put_key_policy(
            &env.caller,
            PutKeyPolicyRequest {
                key_id: key.clone(),
                policy: policy.to_owned(),
                bypass_policy_lockout_safety_check: Some(bypass),
                ..Default::default()
            },
        )
    };
    let malformed = put("permit (principal, action resource);", false).unwrap_err();
    assert_eq!(malformed.code(), "MalformedPolicyDocumentException");
    assert!(malformed.to_string().contains("1:"), "{malformed}");
    let invalid = put(
        r#"permit (principal, action == Action::"Fly", resource);"#,
        false,
    )
    .unwrap_err();
    assert_eq!(invalid.code(), "MalformedPolicyDocumentException");
    assert!(invalid.to_string().contains("Fly"), "{invalid}");
    let lockout = put(
        r#"permit (principal == Account::"111122223333", action == Action::"Encrypt", resource);"#,
        false,
    )
    .unwrap_err();
    assert_eq!(lockout.code(), "MalformedPolicyDocumentException");
    assert!(
        lockout
            .to_string()
            .contains("will not allow you to update the key policy")
    );
    // None of the refused policies took effect.
    let current = env
        .kms
        .get_key_policy(
            &env.caller,
            GetKeyPolicyRequest {
                key_id: key.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    // A key created without a policy has AWS's default key policy, in JSON.
    let default: serde_json::Value = serde_json::from_str(&current.policy).unwrap();
    assert_eq!(
        default["Statement"][0]["Sid"],
        "Enable IAM User Permissions"
    );
    assert_eq!(
        default["Statement"][0]["Principal"]["AWS"],
        "arn:aws:iam::111122223333:root"
    );
    assert_eq!(current.policy_name, "default");

    let admin_policy = r#"@id("root") permit (principal == Account::"111122223333", action, resource);
@id("alice-encrypts") permit (principal == User::"arn:aws:iam::111122223333:user/alice", action == Action::"Encrypt", resource);"#;
    put(admin_policy, false).unwrap();
    encrypt(&env, &user(ACCOUNT, "alice"), &key, None).unwrap();
    let policies = env
        .kms
        .list_key_policies(
            &env.caller,
            ListKeyPoliciesRequest {
                key_id: key.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(policies.policy_names, ["default"]);
    // The bypass lets a caller lock itself out, as in AWS.
    put(
        r#"permit (principal == Account::"111122223333", action == Action::"Encrypt", resource);"#,
        true,
    )
    .unwrap();
    assert_eq!(code(put(admin_policy, false)), "AccessDeniedException");
    // CreateKey runs the same check.
    let refused = env.kms.create_key(
        &env.caller,
        CreateKeyRequest {
            policy: Some(r#"permit (principal == Account::"111122223333", action == Action::"Decrypt", resource);"#.into()),
            ..Default::default()
        },
    );
    assert_eq!(code(refused), "MalformedPolicyDocumentException");
}

#[test]
fn identity_policies_decide_operations_without_a_key() {
    let env = Env::new();
    let alice = user(ACCOUNT, "alice");
    assert_eq!(
        code(env.kms.create_key(&alice, CreateKeyRequest::default())),
        "AccessDeniedException"
    );
    allow_alice(&env, r#"Action::"CreateKey""#);
    let key = env
        .kms
        .create_key(&alice, CreateKeyRequest::default())
        .unwrap()
        .key_metadata;
    assert_eq!(key.aws_account_id, ACCOUNT);
    let invalid = env.kms.put_identity_policy(
        &env.caller,
        ACCOUNT,
        "bad",
        "permit (principal, action, resource",
    );
    assert_eq!(code(invalid), "MalformedPolicyDocumentException");
    assert_eq!(
        code(env.kms.put_identity_policy(
            &env.caller,
            "123",
            "x",
            "permit (principal, action, resource);"
        )),
        "ValidationException"
    );
}

#[test]
fn action_groups_work_in_scopes_and_in_conditions() {
    let env = Env::new();
    let key = key_with_policy(
        &env,
        r#"
        @id("root") permit (principal == Account::"111122223333", action, resource);
        @id("reader") permit (principal == User::"arn:aws:iam::111122223333:user/alice", action, resource)
          when { action in Action::"ReadOnly" };
        @id("user") permit (principal == User::"arn:aws:iam::111122223333:user/bob", action in Action::"CryptographicOperations", resource);
        "#,
    );
    let alice = user(ACCOUNT, "alice");
    assert!(
        env.kms
            .explain(&alice, Action::DescribeKey, &key, None)
            .unwrap()
            .allowed
    );
    assert!(
        !env.kms
            .explain(&alice, Action::Encrypt, &key, None)
            .unwrap()
            .allowed
    );
    let bob = user(ACCOUNT, "bob");
    encrypt(&env, &bob, &key, None).unwrap();
    assert!(
        !env.kms
            .explain(&bob, Action::DescribeKey, &key, None)
            .unwrap()
            .allowed
    );
}

#[test]
fn retiring_a_grant_is_still_subject_to_the_guardrails() {
    let env = Env::new();
    let key = env.key();
    let grant = grant_to(
        &env,
        &key,
        "arn:aws:iam::111122223333:role/app",
        vec![GrantOperation::Encrypt],
        None,
    );
    let elsewhere = Caller::new(
        Principal::parse("arn:aws:iam::111122223333:role/retirer").unwrap(),
        "eu-west-1",
    );
    let error = env
        .kms
        .retire_grant(
            &elsewhere,
            RetireGrantRequest {
                grant_token: Some(grant.grant_token.clone()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(error.code(), "AccessDeniedException");
    assert!(error.to_string().contains("guardrail/regional"), "{error}");
    // In the key's region the retiring principal may retire it.
    let retirer = role(ACCOUNT, "retirer");
    env.kms
        .retire_grant(
            &retirer,
            RetireGrantRequest {
                grant_token: Some(grant.grant_token),
                ..Default::default()
            },
        )
        .unwrap();
}

/// The key policy of `key`, as GetKeyPolicy returns it.
fn key_policy_of(env: &Env, key: &str) -> String {
    env.kms
        .get_key_policy(
            &env.caller,
            GetKeyPolicyRequest {
                key_id: key.to_owned(),
                ..Default::default()
            },
        )
        .unwrap()
        .policy
}

/// An IAM JSON key policy as AWS users write it.
fn json_policy(statements: &str) -> String {
    format!(r#"{{"Version": "2012-10-17", "Id": "test", "Statement": [{statements}]}}"#)
}

const ROOT_STATEMENT: &str = r#"{"Sid": "Enable IAM User Permissions", "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}"#;

#[test]
fn json_key_policies_allow_and_deny_as_aws_does() {
    let env = Env::new();
    let policy = json_policy(&format!(
        r#"{ROOT_STATEMENT},
        {{"Sid": "AliceUsesFinance", "Effect": "Allow",
          "Principal": {{"AWS": ["{ALICE}", "arn:aws:iam::111122223333:role/app"]}},
          "Action": ["kms:Encrypt", "kms:decrypt", "kms:Describe*"], "Resource": "*",
          "Condition": {{"StringLike": {{"kms:EncryptionContext:Department": "Fin*"}}}}}},
        {{"Sid": "NoContractors", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
          "Condition": {{"StringEquals": {{"aws:PrincipalTag/contractor": "true"}}}}}}"#
    ));
    let key = key_with_policy(&env, &policy);
    let alice = user(ACCOUNT, "alice");
    let finance = Some(context(&[("Department", "Finance")]));
    encrypt(&env, &alice, &key, finance.clone()).unwrap();
    let decision = env
        .kms
        .explain(&alice, Action::Encrypt, &key, finance.as_ref())
        .unwrap();
    assert_eq!(decision.reasons, ["key-policy/AliceUsesFinance"]);
    // The context key in a condition key is matched without regard to case,
    // as IAM matches condition key names.
    let lower = Some(context(&[("department", "Finance")]));
    encrypt(&env, &alice, &key, lower).unwrap();
    // The condition holds the other way too.
    let hr = Some(context(&[("Department", "HR")]));
    assert_eq!(
        code(encrypt(&env, &alice, &key, hr)),
        "AccessDeniedException"
    );
    assert_eq!(
        code(encrypt(&env, &alice, &key, None)),
        "AccessDeniedException"
    );
    // Only the listed actions, matched without regard to case.
    let app = role(ACCOUNT, "app");
    encrypt(&env, &app, &key, finance.clone()).unwrap();
    let bob = user(ACCOUNT, "bob");
    assert_eq!(
        code(encrypt(&env, &bob, &key, finance.clone())),
        "AccessDeniedException"
    );
    // An explicit deny overrides the allow, and says which statement.
    let contractor = Caller::new(
        Principal::parse(ALICE)
            .unwrap()
            .with_tags([("contractor".to_owned(), "true".to_owned())].into()),
        REGION,
    );
    let denied = encrypt(&env, &contractor, &key, finance.clone()).unwrap_err();
    assert_eq!(denied.code(), "AccessDeniedException");
    assert!(
        denied
            .to_string()
            .contains("with an explicit deny in key-policy/NoContractors"),
        "{denied}"
    );
    // GetKeyPolicy returns the document as it was put.
    assert_eq!(key_policy_of(&env, &key), policy);
}

#[test]
fn json_key_policies_delegate_to_identity_policies_through_the_root() {
    let env = Env::new();
    // AWS's default key policy, put explicitly: users need identity policies.
    let key = key_with_policy(&env, &json_policy(ROOT_STATEMENT));
    let alice = user(ACCOUNT, "alice");
    assert_eq!(
        code(encrypt(&env, &alice, &key, None)),
        "AccessDeniedException"
    );
    allow_alice(&env, r#"Action::"Encrypt""#);
    encrypt(&env, &alice, &key, None).unwrap();
    // Another account's root is not this account's.
    let partner = Caller::new(Principal::account_root(OTHER_ACCOUNT).unwrap(), REGION);
    assert_eq!(
        code(encrypt(&env, &partner, &arn(&key), None)),
        "AccessDeniedException"
    );
}

#[test]
fn a_json_deny_with_not_action_or_not_principal_spares_only_what_it_names() {
    let env = Env::new();
    let policy = json_policy(&format!(
        r#"{ROOT_STATEMENT},
        {{"Sid": "AppEverything", "Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::111122223333:role/app"}},
          "Action": "kms:*", "Resource": "*"}},
        {{"Sid": "AppOnlyEncrypts", "Effect": "Deny", "Principal": {{"AWS": "arn:aws:iam::111122223333:role/app"}},
          "NotAction": ["kms:Encrypt", "kms:DescribeKey"], "Resource": "*"}},
        {{"Sid": "OnlyRootDeletes", "Effect": "Deny", "NotPrincipal": {{"AWS": "arn:aws:iam::111122223333:root"}},
          "Action": "kms:ScheduleKeyDeletion", "Resource": "*"}}"#
    ));
    let key = key_with_policy(&env, &policy);
    let app = role(ACCOUNT, "app");
    encrypt(&env, &app, &key, None).unwrap();
    let decrypt = env.kms.explain(&app, Action::Decrypt, &key, None).unwrap();
    assert!(!decrypt.allowed);
    assert_eq!(decrypt.reasons, ["key-policy/AppOnlyEncrypts"]);
    let schedule = env
        .kms
        .explain(&app, Action::ScheduleKeyDeletion, &key, None)
        .unwrap();
    assert!(!schedule.allowed);
    let root = env
        .kms
        .explain(&env.caller, Action::ScheduleKeyDeletion, &key, None)
        .unwrap();
    assert!(root.allowed, "{root:?}");
}

#[test]
fn bad_json_key_policies_are_refused_and_change_nothing() {
    let env = Env::new();
    let key = env.key();
    let put = |policy: &str| {
        env.kms.put_key_policy(
            &env.caller,
            PutKeyPolicyRequest {
                key_id: key.clone(),
                policy: policy.to_owned(),
                ..Default::default()
            },
        )
    };
    let before = key_policy_of(&env, &key);
    let big_sid = "x".repeat(33 * 1024);
    let cases: Vec<(String, &str)> = vec![
        ("{\"Statement\": [".into(), "not valid JSON"),
        (
            r#"{"Statement": [{"Principal": "*", "Action": "kms:*", "Resource": "*"}]}"#.into(),
            "statement 1: missing `Effect`",
        ),
        (
            r#"{"Statement": {"Sid": "s", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*",
                "Condition": {"StringEqualsX": {"kms:CallerAccount": "1"}}}}"#
                .into(),
            "statement `s`: unknown condition operator `StringEqualsX`",
        ),
        (
            r#"{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::bad"}, "Action": "kms:*", "Resource": "*"}]}"#.into(),
            "is not a valid principal",
        ),
        (
            format!(
                r#"{{"Statement": [{{"Sid": "{big_sid}", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}}]}}"#
            ),
            "32768 bytes",
        ),
    ];
    for (policy, expected) in cases {
        let error = put(&policy).unwrap_err();
        assert_eq!(
            error.code(),
            "MalformedPolicyDocumentException",
            "{policy:.80}"
        );
        assert!(
            error.to_string().contains(expected),
            "{expected} not in {error}"
        );
    }
    // A JSON policy that locks the caller out is refused too.
    let lockout = put(&json_policy(
        r#"{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:Encrypt", "Resource": "*"}"#,
    ))
    .unwrap_err();
    assert_eq!(lockout.code(), "MalformedPolicyDocumentException");
    let after = key_policy_of(&env, &key);
    assert_eq!(before, after);
}

#[test]
fn json_condition_keys_read_the_members_of_the_request() {
    let env = Env::new();
    let policy = json_policy(&format!(
        r#"{ROOT_STATEMENT},
        {{"Sid": "GrantsOnlyToUse", "Effect": "Deny", "Principal": "*", "Action": "kms:CreateGrant", "Resource": "*",
          "Condition": {{"ForAnyValue:StringNotEquals": {{"kms:GrantOperations": ["Encrypt", "Decrypt"]}}}}}},
        {{"Sid": "NoOwnerTags", "Effect": "Deny", "Principal": "*", "Action": "kms:TagResource", "Resource": "*",
          "Condition": {{"ForAnyValue:StringEquals": {{"aws:TagKeys": "owner"}}}}}},
        {{"Sid": "NoProdTagValue", "Effect": "Deny", "Principal": "*", "Action": "kms:TagResource", "Resource": "*",
          "Condition": {{"StringLike": {{"aws:RequestTag/env": "prod*"}}}}}},
        {{"Sid": "LongWaits", "Effect": "Deny", "Principal": "*", "Action": "kms:ScheduleKeyDeletion", "Resource": "*",
          "Condition": {{"NumericLessThan": {{"kms:ScheduleKeyDeletionPendingWindowInDays": 14}}}}}},
        {{"Sid": "NoSameKeyReEncrypt", "Effect": "Deny", "Principal": "*", "Action": "kms:ReEncrypt*", "Resource": "*",
          "Condition": {{"Bool": {{"kms:ReEncryptOnSameKey": "true"}}}}}},
        {{"Sid": "SymmetricOnly", "Effect": "Deny", "Principal": "*", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*",
          "Condition": {{"StringNotEquals": {{"kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}}}}}}"#
    ));
    let key = key_with_policy(&env, &policy);
    let grant = |operations: Vec<GrantOperation>| {
        env.kms.create_grant(
            &env.caller,
            CreateGrantRequest {
                key_id: key.clone(),
                grantee_principal: "arn:aws:iam::111122223333:role/app".into(),
                operations,
                ..Default::default()
            },
        )
    };
    grant(vec![GrantOperation::Decrypt]).unwrap();
    let denied = grant(vec![GrantOperation::Decrypt, GrantOperation::RetireGrant]).unwrap_err();
    assert!(
        denied.to_string().contains("key-policy/GrantsOnlyToUse"),
        "{denied}"
    );

    let tag = |key_name: &str, value: &str| {
        env.kms.tag_resource(
            &env.caller,
            TagResourceRequest {
                key_id: key.clone(),
                tags: vec![Tag {
                    tag_key: key_name.into(),
                    tag_value: value.into(),
                }],
            },
        )
    };
    tag("team", "payments").unwrap();
    assert!(code(tag("owner", "alice")) == "AccessDeniedException");
    tag("env", "test").unwrap();
    let prod = tag("env", "production").unwrap_err();
    assert!(
        prod.to_string().contains("key-policy/NoProdTagValue"),
        "{prod}"
    );

    // An encryption under the key, then ReEncrypt to itself is refused, and
    // to another key is not.
    let blob = encrypt(&env, &env.caller, &key, None).unwrap();
    let re_encrypt = |destination: &str| {
        env.kms.re_encrypt(
            &env.caller,
            ReEncryptRequest {
                ciphertext_blob: blob.clone(),
                destination_key_id: destination.to_owned(),
                ..Default::default()
            },
        )
    };
    let same = re_encrypt(&key).unwrap_err();
    assert!(
        same.to_string().contains("key-policy/NoSameKeyReEncrypt"),
        "{same}"
    );
    let other = env.key();
    re_encrypt(&other).unwrap();

    let schedule = |days: i64| {
        env.kms.schedule_key_deletion(
            &env.caller,
            ScheduleKeyDeletionRequest {
                key_id: key.clone(),
                pending_window_in_days: Some(days),
            },
        )
    };
    assert_eq!(code(schedule(7)), "AccessDeniedException");
    schedule(20).unwrap();
}

#[test]
fn json_identity_policies_attach_to_users_and_roles_and_are_audited() {
    let env = Env::new();
    // AWS's default key policy: users need identity policies.
    let key = env.key();
    let alice = user(ACCOUNT, "alice");
    let bob = user(ACCOUNT, "bob");
    assert_eq!(
        code(encrypt(&env, &alice, &key, None)),
        "AccessDeniedException"
    );
    let document = r#"{"Version": "2012-10-17", "Statement": [{"Sid": "UseKeys", "Effect": "Allow",
        "Action": ["kms:Encrypt", "kms:Describe*"], "Resource": "arn:aws:kms:us-east-1:111122223333:key/*",
        "Condition": {"StringEquals": {"aws:username": "${aws:username}", "kms:CallerAccount": "111122223333"}}}]}"#;
    env.kms
        .put_identity_policy(&env.caller, ACCOUNT, "user/alice/UseKeys", document)
        .unwrap();
    encrypt(&env, &alice, &key, None).unwrap();
    let decision = env
        .kms
        .explain(&alice, Action::Encrypt, &key, None)
        .unwrap();
    assert_eq!(
        decision.reasons,
        [
            "key-policy/Enable IAM User Permissions",
            "identity/111122223333/user/alice/UseKeys/UseKeys"
        ]
    );
    // It is alice's alone, and only for what it names.
    assert_eq!(
        code(encrypt(&env, &bob, &key, None)),
        "AccessDeniedException"
    );
    assert!(
        !env.kms
            .explain(&alice, Action::Decrypt, &key, None)
            .unwrap()
            .allowed
    );
    // A role's policy with a Deny.
    let app = role(ACCOUNT, "app");
    env.kms
        .put_identity_policy(
            &env.caller,
            ACCOUNT,
            "role/app/NoEncrypt",
            r#"{"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "kms:Encrypt", "Resource": "*"}]}"#,
        )
        .unwrap();
    assert!(
        env.kms
            .explain(&app, Action::Decrypt, &key, None)
            .unwrap()
            .allowed
    );
    assert_eq!(
        code(encrypt(&env, &app, &key, None)),
        "AccessDeniedException"
    );

    // JSON must name its user or role, and must not name a principal.
    let loose = env
        .kms
        .put_identity_policy(&env.caller, ACCOUNT, "loose", document)
        .unwrap_err();
    assert_eq!(loose.code(), "MalformedPolicyDocumentException");
    assert!(
        loose.to_string().contains("user/<UserName>/<PolicyName>"),
        "{loose}"
    );
    let with_principal = env
        .kms
        .put_identity_policy(
            &env.caller,
            ACCOUNT,
            "user/alice/Other",
            r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}}"#,
        )
        .unwrap_err();
    assert_eq!(with_principal.code(), "MalformedPolicyDocumentException");
    // Only the account's root changes identity policies.
    let by_alice = env
        .kms
        .put_identity_policy(&alice, ACCOUNT, "user/alice/More", document)
        .unwrap_err();
    assert_eq!(by_alice.code(), "AccessDeniedException");
    assert!(
        by_alice.to_string().contains("iam:PutUserPolicy"),
        "{by_alice}"
    );

    // Recorded as IAM records it.
    let events_named = |name: &str| {
        env.kms
            .query_audit(
                &env.caller,
                None,
                keyward::audit::query::Filter {
                    event_name: Some(name.into()),
                    ..Default::default()
                },
            )
            .unwrap()
    };
    let events = events_named("PutUserPolicy");
    assert_eq!(events.len(), 3, "{events:#?}");
    let first = &events[0];
    assert_eq!(first["eventSource"], "iam.amazonaws.com");
    assert_eq!(first["requestParameters"]["userName"], "alice");
    assert_eq!(first["requestParameters"]["policyName"], "UseKeys");
    assert_eq!(first["requestParameters"]["policyDocument"], document);
    assert!(first["errorCode"].is_null());
    assert_eq!(events[2]["errorCode"], "AccessDeniedException");

    // What was put is what is listed; deleting it takes the access away.
    let listed = env.kms.identity_policies(ACCOUNT).unwrap();
    assert!(listed.contains(&("user/alice/UseKeys".to_owned(), document.to_owned())));
    env.kms
        .delete_identity_policy(&env.caller, ACCOUNT, "user/alice/UseKeys")
        .unwrap();
    assert_eq!(
        code(encrypt(&env, &alice, &key, None)),
        "AccessDeniedException"
    );
    assert_eq!(events_named("DeleteUserPolicy").len(), 1);
}
