//! Key states, descriptions, aliases and tags.

use keyward::model::{
    AliasRequest, CreateKeyRequest, DecryptRequest, DeleteAliasRequest, DescribeKeyRequest,
    EncryptRequest, KeyState, ListAliasesRequest, ListResourceTagsRequest, SecretBytes, Tag,
    TagResourceRequest, UntagResourceRequest, UpdateKeyDescriptionRequest,
};
use keyward::{Caller, Principal};

use crate::support::{ACCOUNT, Env, REGION, code, key_id};

fn encrypt(env: &Env, caller: &Caller, key_id: &str) -> keyward::KmsResult<Vec<u8>> {
    env.kms
        .encrypt(
            caller,
            EncryptRequest {
                key_id: key_id.to_owned(),
                plaintext: SecretBytes::new(b"lifecycle".to_vec()),
                ..Default::default()
            },
        )
        .map(|r| r.ciphertext_blob)
}

fn alias(env: &Env, name: &str, key: &str) -> keyward::KmsResult<keyward::model::EmptyResponse> {
    env.kms.create_alias(
        &env.caller,
        AliasRequest {
            alias_name: name.to_owned(),
            target_key_id: key.to_owned(),
        },
    )
}

#[test]
fn disabled_keys_refuse_cryptography_until_enabled() {
    let env = Env::new();
    let key = env.key();
    let blob = encrypt(&env, &env.caller, &key).unwrap();
    env.kms.disable_key(&env.caller, key_id(&key)).unwrap();
    let metadata = env.describe(&key);
    assert_eq!(metadata.key_state, KeyState::Disabled);
    assert!(!metadata.enabled);
    assert_eq!(code(encrypt(&env, &env.caller, &key)), "DisabledException");
    let decrypt = env.kms.decrypt(
        &env.caller,
        DecryptRequest {
            ciphertext_blob: blob.clone(),
            ..Default::default()
        },
    );
    assert_eq!(code(decrypt), "DisabledException");
    // Disabling twice is fine; management still works while disabled.
    env.kms.disable_key(&env.caller, key_id(&key)).unwrap();
    env.kms
        .update_key_description(
            &env.caller,
            UpdateKeyDescriptionRequest {
                key_id: key.clone(),
                description: "retired for now".into(),
            },
        )
        .unwrap();
    assert_eq!(env.describe(&key).description, "retired for now");
    env.kms.enable_key(&env.caller, key_id(&key)).unwrap();
    assert_eq!(env.describe(&key).key_state, KeyState::Enabled);
    let plaintext = env
        .kms
        .decrypt(
            &env.caller,
            DecryptRequest {
                ciphertext_blob: blob,
                ..Default::default()
            },
        )
        .unwrap()
        .plaintext;
    assert_eq!(plaintext.expose(), b"lifecycle");
    let too_long = env.kms.update_key_description(
        &env.caller,
        UpdateKeyDescriptionRequest {
            key_id: key,
            description: "d".repeat(8193),
        },
    );
    assert_eq!(code(too_long), "ValidationException");
    assert_eq!(
        code(env.kms.enable_key(&env.caller, key_id("alias/none"))),
        "NotFoundException"
    );
}

#[test]
fn aliases_name_keys_where_aws_takes_them() {
    let env = Env::new();
    let key = env.key();
    alias(&env, "alias/payroll", &key).unwrap();
    // The operations that manage a key take its id or ARN only, as in AWS.
    let alias_arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:alias/payroll");
    for named in ["alias/payroll", alias_arn.as_str()] {
        let refused = env.kms.disable_key(&env.caller, key_id(named)).unwrap_err();
        assert_eq!(refused.code(), "NotFoundException");
        assert_eq!(refused.to_string(), format!("Invalid keyId '{named}'"));
    }
    assert_eq!(env.describe(&key).key_state, KeyState::Enabled);
    // By alias name and alias ARN.
    let blob = encrypt(&env, &env.caller, "alias/payroll").unwrap();
    let alias_arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:alias/payroll");
    encrypt(&env, &env.caller, &alias_arn).unwrap();
    let decrypted = env
        .kms
        .decrypt(
            &env.caller,
            DecryptRequest {
                ciphertext_blob: blob,
                key_id: Some("alias/payroll".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(decrypted.key_id.ends_with(&key));
    assert_eq!(env.describe("alias/payroll").key_id, key);

    // Names and targets are checked.
    assert_eq!(
        code(alias(&env, "alias/payroll", &key)),
        "AlreadyExistsException"
    );
    assert_eq!(
        code(alias(&env, "alias/aws/x", &key)),
        "InvalidAliasNameException"
    );
    // The member's shape and the prefix are AWS's ValidationException.
    assert_eq!(code(alias(&env, "payroll", &key)), "ValidationException");
    assert_eq!(
        code(alias(&env, "alias/bad name", &key)),
        "ValidationException"
    );
    assert_eq!(
        code(alias(&env, &format!("alias/{}", "a".repeat(251)), &key)),
        "ValidationException"
    );
    assert_eq!(
        code(alias(
            &env,
            "alias/ghost",
            "00000000-0000-0000-0000-000000000000"
        )),
        "NotFoundException"
    );
    assert_eq!(
        code(alias(&env, "alias/chained", "alias/payroll")),
        "ValidationException"
    );

    // UpdateAlias moves it; ListAliases shows it; DeleteAlias removes it.
    let other = env.key();
    env.kms
        .update_alias(
            &env.caller,
            AliasRequest {
                alias_name: "alias/payroll".into(),
                target_key_id: other.clone(),
            },
        )
        .unwrap();
    assert_eq!(env.describe("alias/payroll").key_id, other);
    let listed = env
        .kms
        .list_aliases(&env.caller, ListAliasesRequest::default())
        .unwrap();
    assert_eq!(listed.aliases.len(), 1);
    assert_eq!(listed.aliases[0].alias_arn, alias_arn);
    assert_eq!(listed.aliases[0].target_key_id, other);
    let of_first = env
        .kms
        .list_aliases(
            &env.caller,
            ListAliasesRequest {
                key_id: Some(key.clone()),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(of_first.aliases.is_empty());
    env.kms
        .delete_alias(
            &env.caller,
            DeleteAliasRequest {
                alias_name: "alias/payroll".into(),
            },
        )
        .unwrap();
    assert_eq!(
        code(encrypt(&env, &env.caller, "alias/payroll")),
        "NotFoundException"
    );
    let missing = env.kms.delete_alias(
        &env.caller,
        DeleteAliasRequest {
            alias_name: "alias/payroll".into(),
        },
    );
    assert_eq!(code(missing), "NotFoundException");
}

#[test]
fn an_alias_in_one_region_is_independent_of_the_same_name_in_another() {
    let env = Env::new();
    let east = env.key();
    let west_caller = Caller::new(env.caller.principal.clone(), "eu-west-1");
    let west = env
        .kms
        .create_key(&west_caller, CreateKeyRequest::default())
        .unwrap()
        .key_metadata
        .key_id;
    alias(&env, "alias/app", &east).unwrap();
    env.kms
        .create_alias(
            &west_caller,
            AliasRequest {
                alias_name: "alias/app".into(),
                target_key_id: west.clone(),
            },
        )
        .unwrap();
    let in_west = env
        .kms
        .describe_key(
            &west_caller,
            DescribeKeyRequest {
                key_id: "alias/app".into(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(in_west.key_metadata.key_id, west);
    assert_eq!(env.describe("alias/app").key_id, east);
}

#[test]
fn tags_have_aws_limits_and_reach_cedar() {
    let env = Env::new();
    let key = env
        .kms
        .create_key(
            &env.caller,
            CreateKeyRequest {
                tags: Some(vec![Tag {
                    tag_key: "team".into(),
                    tag_value: "payments".into(),
                }]),
                ..Default::default()
            },
        )
        .unwrap()
        .key_metadata
        .key_id;
    let tag = |k: &str, v: &str| Tag {
        tag_key: k.into(),
        tag_value: v.into(),
    };
    env.kms
        .tag_resource(
            &env.caller,
            TagResourceRequest {
                key_id: key.clone(),
                tags: vec![tag("env", "prod")],
            },
        )
        .unwrap();
    let listed = env
        .kms
        .list_resource_tags(
            &env.caller,
            ListResourceTagsRequest {
                key_id: key.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        listed.tags,
        vec![tag("env", "prod"), tag("team", "payments")]
    );

    let refuse = |tags: Vec<Tag>| {
        code(env.kms.tag_resource(
            &env.caller,
            TagResourceRequest {
                key_id: key.clone(),
                tags,
            },
        ))
    };
    // AWS's codes and words (../shared/reference: create_key_with_invalid_tag_key,
    // key_with_long_tag_value_raises_error, tag_key_with_duplicate_tag_keys_raises_error,
    // create_key_with_too_many_tags_raises_error).
    let message = |tags: Vec<Tag>| {
        env.kms
            .tag_resource(
                &env.caller,
                TagResourceRequest {
                    key_id: key.clone(),
                    tags,
                },
            )
            .unwrap_err()
            .to_string()
    };
    assert_eq!(refuse(vec![tag("aws:owner", "x")]), "TagException");
    assert_eq!(
        message(vec![tag("AWS:owner", "x")]),
        "Tags beginning with aws: are reserved"
    );
    let long_key = "k".repeat(129);
    assert_eq!(refuse(vec![tag(&long_key, "x")]), "ValidationException");
    assert_eq!(
        message(vec![tag("ok", "x"), tag(&long_key, "x")]),
        format!(
            "1 validation error detected: Value '{long_key}' at 'tags.2.member.tagKey' \
             failed to satisfy constraint: Member must have length less than or equal to 128"
        )
    );
    assert_eq!(refuse(vec![tag("", "x")]), "ValidationException");
    let long_value = "v".repeat(257);
    assert_eq!(
        message(vec![tag("", "x"), tag("long", &long_value)]),
        format!(
            "2 validation errors detected: Value '' at 'tags.1.member.tagKey' failed to satisfy \
             constraint: Member must have length greater than or equal to 1; Value '{long_value}' \
             at 'tags.2.member.tagValue' failed to satisfy constraint: Member must have length \
             less than or equal to 256"
        )
    );
    assert_eq!(refuse(vec![tag("d", "1"), tag("d", "2")]), "TagException");
    assert_eq!(
        message(vec![tag("d", "1"), tag("d", "2")]),
        "Duplicate tag keys"
    );
    let many: Vec<Tag> = (0..49).map(|i| tag(&format!("t{i}"), "x")).collect();
    assert_eq!(refuse(many.clone()), "TagException");
    assert_eq!(message(many), "Too many tags");
    // An empty list is allowed, as AWS's model allows it, and changes nothing.
    env.kms
        .tag_resource(
            &env.caller,
            TagResourceRequest {
                key_id: key.clone(),
                tags: Vec::new(),
            },
        )
        .unwrap();
    // Nothing was half-applied.
    let listed = env
        .kms
        .list_resource_tags(
            &env.caller,
            ListResourceTagsRequest {
                key_id: key.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(listed.tags.len(), 2);

    // A policy on key tags: users may encrypt with keys of their team.
    env.kms
        .put_identity_policy(
            &env.caller,
            ACCOUNT,
            "team-keys",
            r#"permit (principal is User, action == Action::"Encrypt", resource)
               when { principal.hasTag("team") && resource.hasTag("team")
                      && principal.getTag("team") == resource.getTag("team") };"#,
        )
        .unwrap();
    let member = |team: &str| {
        let principal = Principal::parse("arn:aws:iam::111122223333:user/pat")
            .unwrap()
            .with_tags([("team".to_string(), team.to_string())].into());
        Caller::new(principal, REGION)
    };
    encrypt(&env, &member("payments"), &key).unwrap();
    assert_eq!(
        code(encrypt(&env, &member("growth"), &key)),
        "AccessDeniedException"
    );
    env.kms
        .untag_resource(
            &env.caller,
            UntagResourceRequest {
                key_id: key.clone(),
                tag_keys: vec!["team".into()],
            },
        )
        .unwrap();
    assert_eq!(
        code(encrypt(&env, &member("payments"), &key)),
        "AccessDeniedException"
    );
}

#[test]
fn request_alias_and_key_aliases_reach_cedar() {
    let env = Env::new();
    let key = env.key();
    alias(&env, "alias/reports", &key).unwrap();
    env.kms
        .put_identity_policy(
            &env.caller,
            ACCOUNT,
            "by-alias",
            r#"permit (principal == User::"arn:aws:iam::111122223333:user/rae", action == Action::"Encrypt", resource)
               when { context has request_alias && context.request_alias == "alias/reports" };
               permit (principal == User::"arn:aws:iam::111122223333:user/sam", action == Action::"Encrypt", resource)
               when { resource.aliases.contains("alias/reports") };"#,
        )
        .unwrap();
    let rae = Caller::new(
        Principal::parse("arn:aws:iam::111122223333:user/rae").unwrap(),
        REGION,
    );
    encrypt(&env, &rae, "alias/reports").unwrap();
    assert_eq!(code(encrypt(&env, &rae, &key)), "AccessDeniedException");
    let sam = Caller::new(
        Principal::parse("arn:aws:iam::111122223333:user/sam").unwrap(),
        REGION,
    );
    encrypt(&env, &sam, &key).unwrap();
}

#[test]
fn scheduled_deletion_waits_its_window_then_deletes_everything() {
    use std::sync::Arc;

    use keyward::clock::ManualClock;
    use keyward::model::ScheduleKeyDeletionRequest;

    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    let clock = Arc::new(ManualClock::new(1_767_225_600_000));
    let env = Env::with_config(|c| c.clock = clock.clone());
    let key = env.key();
    let keep = env.key();
    alias(&env, "alias/doomed", &key).unwrap();
    let blob = encrypt(&env, &env.caller, &key).unwrap();
    let [wrapped] = <[Vec<u8>; 1]>::try_from(env.stored_material(&key)).unwrap();
    let schedule = |days: Option<i64>| {
        env.kms.schedule_key_deletion(
            &env.caller,
            ScheduleKeyDeletionRequest {
                key_id: key.clone(),
                pending_window_in_days: days,
            },
        )
    };
    assert_eq!(code(schedule(Some(6))), "ValidationException");
    assert_eq!(code(schedule(Some(31))), "ValidationException");

    // The default window is 30 days.
    let scheduled = schedule(None).unwrap();
    assert_eq!(scheduled.pending_window_in_days, 30);
    assert_eq!(scheduled.key_state, KeyState::PendingDeletion);
    assert_eq!(
        scheduled.deletion_date,
        (1_767_225_600_000 + 30 * DAY_MS) as f64 / 1000.0
    );
    let metadata = env.describe(&key);
    assert_eq!(metadata.key_state, KeyState::PendingDeletion);
    assert_eq!(metadata.pending_deletion_window_in_days, Some(30));
    assert_eq!(
        code(encrypt(&env, &env.caller, &key)),
        "KMSInvalidStateException"
    );
    assert_eq!(code(schedule(Some(7))), "KMSInvalidStateException");

    // Cancelling leaves the key disabled.
    env.kms
        .cancel_key_deletion(&env.caller, key_id(&key))
        .unwrap();
    assert_eq!(env.describe(&key).key_state, KeyState::Disabled);
    assert_eq!(env.describe(&key).deletion_date, None);
    assert_eq!(
        code(env.kms.cancel_key_deletion(&env.caller, key_id(&key))),
        "KMSInvalidStateException"
    );

    // Seven days, then the sweep: nothing before the date, everything after.
    schedule(Some(7)).unwrap();
    clock.advance_ms(7 * DAY_MS - 1);
    assert!(env.kms.run_maintenance().unwrap().deleted_keys.is_empty());
    assert_eq!(env.describe(&key).key_state, KeyState::PendingDeletion);
    clock.advance_ms(1);
    let report = env.kms.run_maintenance().unwrap();
    assert_eq!(
        report.deleted_keys,
        [format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}")]
    );

    let describe_gone = env.kms.describe_key(
        &env.caller,
        DescribeKeyRequest {
            key_id: key.clone(),
            ..Default::default()
        },
    );
    assert_eq!(code(describe_gone), "NotFoundException");
    let decrypt_gone = env.kms.decrypt(
        &env.caller,
        DecryptRequest {
            ciphertext_blob: blob,
            ..Default::default()
        },
    );
    assert_eq!(code(decrypt_gone), "NotFoundException");
    assert_eq!(
        code(encrypt(&env, &env.caller, "alias/doomed")),
        "NotFoundException"
    );
    assert!(
        !crate::support::contains(&env.data_dir_bytes(), &wrapped),
        "the deleted key's material is still in the files"
    );
    // The other key is untouched.
    encrypt(&env, &env.caller, &keep).unwrap();
}

#[test]
fn rotation_over_the_test_clock_keeps_every_ciphertext_decryptable() {
    use std::sync::Arc;

    use keyward::clock::ManualClock;
    use keyward::model::{EnableKeyRotationRequest, ListKeyRotationsRequest};

    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    let clock = Arc::new(ManualClock::new(1_767_225_600_000));
    let env = Env::with_config(|c| c.clock = clock.clone());
    let key = env.key();
    let mut ciphertexts = vec![encrypt(&env, &env.caller, &key).unwrap()];
    let enable = |days: Option<i64>| {
        env.kms.enable_key_rotation(
            &env.caller,
            EnableKeyRotationRequest {
                key_id: key.clone(),
                rotation_period_in_days: days,
            },
        )
    };
    assert_eq!(code(enable(Some(89))), "ValidationException");
    assert_eq!(code(enable(Some(2561))), "ValidationException");
    enable(Some(90)).unwrap();
    let status = env
        .kms
        .get_key_rotation_status(&env.caller, key_id(&key))
        .unwrap();
    assert!(status.key_rotation_enabled);
    assert_eq!(status.rotation_period_in_days, Some(90));
    assert_eq!(
        status.next_rotation_date,
        Some((1_767_225_600_000 + 90 * DAY_MS) as f64 / 1000.0)
    );
    // Enabling again later (an idempotent deployment) keeps the schedule.
    clock.advance_ms(30 * DAY_MS);
    enable(Some(90)).unwrap();
    clock.advance_ms(-30 * DAY_MS);
    let again = env
        .kms
        .get_key_rotation_status(&env.caller, key_id(&key))
        .unwrap();
    assert_eq!(again.next_rotation_date, status.next_rotation_date);

    // Two automatic rotations and one on demand.
    for _ in 0..2 {
        clock.advance_ms(90 * DAY_MS);
        let report = env.kms.run_maintenance().unwrap();
        assert_eq!(report.rotated_keys.len(), 1);
        ciphertexts.push(encrypt(&env, &env.caller, &key).unwrap());
    }
    assert!(env.kms.run_maintenance().unwrap().rotated_keys.is_empty());
    env.kms
        .rotate_key_on_demand(&env.caller, key_id(&key))
        .unwrap();
    ciphertexts.push(encrypt(&env, &env.caller, &key).unwrap());

    let rotations = env
        .kms
        .list_key_rotations(
            &env.caller,
            ListKeyRotationsRequest {
                key_id: key.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    let kinds: Vec<&str> = rotations
        .rotations
        .iter()
        .map(|r| r.rotation_type.as_str())
        .collect();
    assert_eq!(kinds, ["AUTOMATIC", "AUTOMATIC", "ON_DEMAND"]);
    // Each ciphertext names the material version that was current (the
    // header's version field, after the key ARN), and all decrypt.
    let versions: Vec<u32> = ciphertexts
        .iter()
        .map(|blob| {
            let arn_len = usize::from(u16::from_be_bytes([blob[3], blob[4]]));
            u32::from_be_bytes(blob[5 + arn_len..9 + arn_len].try_into().unwrap())
        })
        .collect();
    assert_eq!(versions, [1, 2, 3, 4]);
    for blob in &ciphertexts {
        let out = env
            .kms
            .decrypt(
                &env.caller,
                DecryptRequest {
                    ciphertext_blob: blob.clone(),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(out.plaintext.expose(), b"lifecycle");
    }
    // Every material version is distinct inside the guest.
    let materials: Vec<Vec<u8>> = (1..=4)
        .map(|v| {
            env.kms
                .testing()
                .reveal_backing_key(REGION, &key, v)
                .unwrap()
        })
        .collect();
    let mut unique = materials.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 4);

    // Disabling automatic rotation stops it.
    env.kms
        .disable_key_rotation(&env.caller, key_id(&key))
        .unwrap();
    clock.advance_ms(400 * DAY_MS);
    assert!(env.kms.run_maintenance().unwrap().rotated_keys.is_empty());

    // Then delete: past the window, the key and all four versions are gone,
    // wrapped and unwrapped.
    let wrapped = env.stored_material(&key);
    assert_eq!(wrapped.len(), 4);
    env.schedule_deletion(&key, 7);
    clock.advance_ms(8 * DAY_MS);
    assert_eq!(env.kms.run_maintenance().unwrap().deleted_keys.len(), 1);
    for blob in ciphertexts {
        let gone = env.kms.decrypt(
            &env.caller,
            DecryptRequest {
                ciphertext_blob: blob,
                ..Default::default()
            },
        );
        assert_eq!(code(gone), "NotFoundException");
    }
    let files = env.data_dir_bytes();
    for material in materials.iter().chain(&wrapped) {
        assert!(!crate::support::contains(&files, material));
    }
}

#[test]
fn on_demand_rotation_is_limited_and_needs_an_enabled_key() {
    let env = Env::new();
    let key = env.key();
    for _ in 0..25 {
        env.kms
            .rotate_key_on_demand(&env.caller, key_id(&key))
            .unwrap();
    }
    let limited = env.kms.rotate_key_on_demand(&env.caller, key_id(&key));
    assert_eq!(code(limited), "LimitExceededException");
    let other = env.key();
    env.kms.disable_key(&env.caller, key_id(&other)).unwrap();
    let disabled = env.kms.rotate_key_on_demand(&env.caller, key_id(&other));
    assert_eq!(code(disabled), "DisabledException");
    encrypt(&env, &env.caller, &key).unwrap();
}

#[test]
fn aws_managed_keys_are_created_on_first_use_through_their_service() {
    use keyward::model::{
        GetKeyPolicyRequest, KeyManager, PutKeyPolicyRequest, ScheduleKeyDeletionRequest,
    };

    let env = Env::new();
    let direct = env.caller.clone();
    let via_s3 = direct.clone().via("s3.us-east-1.amazonaws.com");
    let via_sqs = direct.clone().via("sqs.us-east-1.amazonaws.com");
    // Not there, and not created by a direct call or another service.
    assert_eq!(
        code(encrypt(&env, &direct, "alias/aws/s3")),
        "NotFoundException"
    );
    assert_eq!(
        code(encrypt(&env, &via_sqs, "alias/aws/s3")),
        "NotFoundException"
    );

    let first = encrypt(&env, &via_s3, "alias/aws/s3").unwrap();
    let second = encrypt(&env, &via_s3, "alias/aws/s3").unwrap();
    let metadata = env.describe("alias/aws/s3");
    assert_eq!(metadata.key_manager, KeyManager::Aws);
    assert!(metadata.description.contains("s3"));
    for blob in [first, second] {
        let out = env
            .kms
            .decrypt(
                &via_s3,
                DecryptRequest {
                    ciphertext_blob: blob.clone(),
                    ..Default::default()
                },
            )
            .unwrap();
        assert!(out.key_id.ends_with(&metadata.key_id));
        // Only through its service.
        let direct_decrypt = env.kms.decrypt(
            &direct,
            DecryptRequest {
                ciphertext_blob: blob,
                ..Default::default()
            },
        );
        assert_eq!(code(direct_decrypt), "AccessDeniedException");
    }
    assert_eq!(
        code(encrypt(&env, &via_sqs, "alias/aws/s3")),
        "AccessDeniedException"
    );
    // Other users of the account may use it through the service too.
    let bob = Caller::new(
        Principal::parse("arn:aws:iam::111122223333:user/bob").unwrap(),
        REGION,
    )
    .via("s3.us-east-1.amazonaws.com");
    encrypt(&env, &bob, "alias/aws/s3").unwrap();

    // Customers cannot change it.
    let policy = env
        .kms
        .get_key_policy(
            &direct,
            GetKeyPolicyRequest {
                key_id: metadata.key_id.clone(),
                policy_name: None,
            },
        )
        .unwrap()
        .policy;
    let put = env.kms.put_key_policy(
        &direct,
        PutKeyPolicyRequest {
            key_id: metadata.key_id.clone(),
            policy,
            bypass_policy_lockout_safety_check: Some(true),
            policy_name: None,
        },
    );
    assert_eq!(code(put), "AccessDeniedException");
    let delete = env.kms.schedule_key_deletion(
        &direct,
        ScheduleKeyDeletionRequest {
            key_id: metadata.key_id.clone(),
            pending_window_in_days: Some(7),
        },
    );
    assert_eq!(code(delete), "AccessDeniedException");
    let rotation = env
        .kms
        .disable_key_rotation(&direct, key_id(&metadata.key_id));
    assert_eq!(code(rotation), "AccessDeniedException");
    let disable = env.kms.disable_key(&direct, key_id(&metadata.key_id));
    assert_eq!(code(disable), "AccessDeniedException");
    // It rotates every year.
    let status = env
        .kms
        .get_key_rotation_status(&direct, key_id(&metadata.key_id))
        .unwrap();
    assert!(status.key_rotation_enabled);
    assert_eq!(status.rotation_period_in_days, Some(365));
    // Customers cannot take the reserved alias names.
    assert_eq!(
        code(alias(&env, "alias/aws/mine", &env.key())),
        "InvalidAliasNameException"
    );
    let aliases = env
        .kms
        .list_aliases(&direct, ListAliasesRequest::default())
        .unwrap();
    assert_eq!(aliases.aliases.len(), 1);
    assert_eq!(aliases.aliases[0].alias_name, "alias/aws/s3");
}
