//! CreateKey, DescribeKey, ListKeys, the interim authorization rules and
//! persistence across restarts.

use std::collections::BTreeSet;

use keyward::model::{
    CreateKeyRequest, DecryptRequest, DescribeKeyRequest, EncryptRequest, KeyManager, KeySpec,
    KeyState, KeyUsage, ListKeysRequest, OriginType, SecretBytes,
};
use keyward::{Caller, Kms, Principal};

use crate::support::{ACCOUNT, Env, OTHER_ACCOUNT, REGION, code, config, root};

#[test]
fn create_key_returns_aws_shaped_metadata() {
    let env = Env::new();
    let created = env
        .kms
        .create_key(
            &env.caller,
            CreateKeyRequest {
                description: Some("payroll".into()),
                ..Default::default()
            },
        )
        .unwrap()
        .key_metadata;
    assert_eq!(created.aws_account_id, ACCOUNT);
    assert_eq!(
        created.arn,
        format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{}", created.key_id)
    );
    assert_eq!(created.key_id.len(), 36);
    assert_eq!(created.key_state, KeyState::Enabled);
    assert!(created.enabled);
    assert_eq!(created.description, "payroll");
    assert_eq!(created.key_spec, KeySpec::SymmetricDefault);
    assert_eq!(created.key_usage, KeyUsage::EncryptDecrypt);
    assert_eq!(created.origin, OriginType::AwsKms);
    assert_eq!(created.key_manager, KeyManager::Customer);
    assert!(!created.multi_region);
    assert!(created.creation_date > 1.7e9);

    let described = env
        .kms
        .describe_key(
            &env.caller,
            DescribeKeyRequest {
                key_id: created.arn.clone(),
                ..Default::default()
            },
        )
        .unwrap()
        .key_metadata;
    assert_eq!(described, created);

    let json = serde_json::to_value(&described).unwrap();
    for field in [
        "AWSAccountId",
        "KeyId",
        "Arn",
        "CreationDate",
        "Enabled",
        "KeyState",
        "KeySpec",
        "KeyUsage",
    ] {
        assert!(
            json.get(field).is_some(),
            "KeyMetadata lacks {field}: {json}"
        );
    }
}

#[test]
fn list_keys_pages_through_the_account_keys_only() {
    let env = Env::new();
    let mut created: BTreeSet<String> = (0..5).map(|_| env.key()).collect();
    let mut seen = Vec::new();
    let mut marker = None;
    let mut pages = 0;
    loop {
        let page = env
            .kms
            .list_keys(
                &env.caller,
                ListKeysRequest {
                    limit: Some(2),
                    marker: marker.clone(),
                },
            )
            .unwrap();
        pages += 1;
        assert!(page.keys.len() <= 2);
        seen.extend(page.keys.iter().map(|k| k.key_id.clone()));
        for entry in &page.keys {
            assert!(entry.key_arn.ends_with(&entry.key_id));
        }
        assert_eq!(page.truncated, page.next_marker.is_some());
        if !page.truncated {
            break;
        }
        marker = page.next_marker;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 5);
    let seen: BTreeSet<String> = seen.into_iter().collect();
    assert_eq!(seen, std::mem::take(&mut created));

    let everything = env
        .kms
        .list_keys(&env.caller, ListKeysRequest::default())
        .unwrap();
    assert_eq!(everything.keys.len(), 5);
    assert!(!everything.truncated);

    let stranger = root(OTHER_ACCOUNT);
    assert!(
        env.kms
            .list_keys(&stranger, ListKeysRequest::default())
            .unwrap()
            .keys
            .is_empty()
    );
    let elsewhere = Caller::new(env.caller.principal.clone(), "eu-west-1");
    assert!(
        env.kms
            .list_keys(&elsewhere, ListKeysRequest::default())
            .unwrap()
            .keys
            .is_empty()
    );
}

fn encrypt_as(env: &Env, caller: &Caller, key_id: &str) -> keyward::KmsResult<Vec<u8>> {
    env.kms
        .encrypt(
            caller,
            EncryptRequest {
                key_id: key_id.to_owned(),
                plaintext: SecretBytes::new(b"x".to_vec()),
                ..Default::default()
            },
        )
        .map(|r| r.ciphertext_blob)
}

#[test]
fn another_account_is_denied_with_aws_wording() {
    let env = Env::new();
    let key = env.key();
    let arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}");
    let mallory = Caller::new(
        Principal::parse("arn:aws:iam::444455556666:user/mallory").unwrap(),
        REGION,
    );
    let denied = encrypt_as(&env, &mallory, &arn).unwrap_err();
    assert_eq!(denied.code(), "AccessDeniedException");
    assert_eq!(
        denied.to_string(),
        format!(
            "User: arn:aws:iam::444455556666:user/mallory is not authorized to perform: kms:Encrypt on resource: {arn} \
             because no resource-based policy allows the kms:Encrypt action"
        )
    );
    let blob = env.encrypt(&key, b"x", None);
    let decrypt = env.kms.decrypt(
        &mallory,
        DecryptRequest {
            ciphertext_blob: blob,
            ..Default::default()
        },
    );
    assert_eq!(code(decrypt), "AccessDeniedException");
    let describe = env.kms.describe_key(
        &mallory,
        DescribeKeyRequest {
            key_id: arn,
            ..Default::default()
        },
    );
    assert_eq!(code(describe), "AccessDeniedException");
    // A bare key id is looked up in the caller's own account and region only.
    assert_eq!(code(encrypt_as(&env, &mallory, &key)), "NotFoundException");

    // A user of the owning account needs an identity policy (the default
    // key policy delegates to the account).
    let alice = Caller::new(
        Principal::parse("arn:aws:iam::111122223333:user/alice").unwrap(),
        REGION,
    );
    assert_eq!(
        code(encrypt_as(&env, &alice, &key)),
        "AccessDeniedException"
    );
    env.kms
        .put_identity_policy(
            &env.caller,
            ACCOUNT,
            "alice-encrypts",
            r#"permit (principal == User::"arn:aws:iam::111122223333:user/alice", action == Action::"Encrypt", resource);"#,
        )
        .unwrap();
    encrypt_as(&env, &alice, &key).unwrap();
}

#[test]
fn a_key_is_usable_only_in_its_own_region() {
    let env = Env::new();
    let key = env.key();
    let arn = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}");
    let elsewhere = Caller::new(env.caller.principal.clone(), "eu-west-1");
    // By ARN, the key is found and the regional guardrail refuses it.
    assert_eq!(
        code(encrypt_as(&env, &elsewhere, &arn)),
        "AccessDeniedException"
    );
    // By bare id, it does not exist in the other region at all.
    assert_eq!(
        code(encrypt_as(&env, &elsewhere, &key)),
        "NotFoundException"
    );
    // A ciphertext from this region does not decrypt in another.
    let blob = env.encrypt(&key, b"x", None);
    let decrypt = env.kms.decrypt(
        &elsewhere,
        DecryptRequest {
            ciphertext_blob: blob,
            ..Default::default()
        },
    );
    assert_eq!(code(decrypt), "AccessDeniedException");
    // A region the server does not serve is refused outright.
    let unserved = Caller::new(env.caller.principal.clone(), "ap-south-1");
    assert_eq!(
        code(encrypt_as(&env, &unserved, &key)),
        "ValidationException"
    );
}

#[test]
fn keys_and_ciphertexts_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let caller = root(ACCOUNT);
    let (key, blob) = {
        let (kms, _) = Kms::open_or_init(config(dir.path())).unwrap();
        let key = kms
            .create_key(&caller, CreateKeyRequest::default())
            .unwrap()
            .key_metadata;
        let blob = kms
            .encrypt(
                &caller,
                EncryptRequest {
                    key_id: key.key_id.clone(),
                    plaintext: SecretBytes::new(b"durable".to_vec()),
                    ..Default::default()
                },
            )
            .unwrap()
            .ciphertext_blob;
        (key, blob)
    };
    let kms = Kms::open(config(dir.path())).unwrap();
    let described = kms
        .describe_key(
            &caller,
            DescribeKeyRequest {
                key_id: key.key_id.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(described.key_metadata, key);
    let plaintext = kms
        .decrypt(
            &caller,
            DecryptRequest {
                ciphertext_blob: blob,
                ..Default::default()
            },
        )
        .unwrap()
        .plaintext;
    assert_eq!(plaintext.expose(), b"durable");
}

#[test]
fn init_refuses_an_initialised_directory_and_open_refuses_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Kms::open(config(dir.path())),
        Err(keyward::OpenError::NotInitialized(_))
    ));
    Kms::init(&config(dir.path())).unwrap();
    assert!(matches!(
        Kms::init(&config(dir.path())),
        Err(keyward::OpenError::AlreadyInitialized(_))
    ));
    Kms::open(config(dir.path())).unwrap();
}

#[test]
fn a_wrong_master_key_does_not_open_the_store() {
    let dir = tempfile::tempdir().unwrap();
    Kms::init(&config(dir.path())).unwrap();
    let key_file = crate::support::data_dir(dir.path()).join("master.key");
    std::fs::write(&key_file, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
    assert!(matches!(
        Kms::open(config(dir.path())),
        Err(keyward::OpenError::WrongMasterKey)
    ));
}

#[test]
fn concurrent_callers_share_the_guest_pool() {
    let env = Env::new();
    let key = env.key();
    std::thread::scope(|scope| {
        for t in 0..8u8 {
            let env = &env;
            let key = &key;
            scope.spawn(move || {
                for i in 0..50u8 {
                    let plaintext = [t, i, 42];
                    let blob = env.encrypt(key, &plaintext, None);
                    let out = env
                        .kms
                        .decrypt(
                            &env.caller,
                            DecryptRequest {
                                ciphertext_blob: blob,
                                ..Default::default()
                            },
                        )
                        .unwrap();
                    assert_eq!(out.plaintext.expose(), plaintext);
                }
            });
        }
    });
}
