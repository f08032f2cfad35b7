//! Bad input for every operation: each gets AWS's error code, and nothing
//! panics or changes.

use keyward::model::{
    CreateKeyRequest, DataKeySpec, DecryptRequest, DescribeKeyRequest, EncryptRequest,
    EncryptionAlgorithmSpec, GenerateDataKeyRequest, GenerateRandomRequest, KeySpec, KeyUsage,
    ListKeysRequest, OriginType, ReEncryptRequest, SecretBytes,
};

use crate::support::{Env, code, context};

fn encrypt(
    env: &Env,
    key_id: &str,
    plaintext: Vec<u8>,
) -> keyward::KmsResult<keyward::model::EncryptResponse> {
    env.kms.encrypt(
        &env.caller,
        EncryptRequest {
            key_id: key_id.to_owned(),
            plaintext: SecretBytes::new(plaintext),
            ..Default::default()
        },
    )
}

#[test]
fn plaintext_must_be_1_to_4096_bytes() {
    let env = Env::new();
    let key = env.key();
    assert_eq!(code(encrypt(&env, &key, vec![])), "ValidationException");
    assert_eq!(
        code(encrypt(&env, &key, vec![0; 4097])),
        "ValidationException"
    );
    encrypt(&env, &key, vec![0; 4096]).unwrap();
}

#[test]
fn unknown_and_malformed_key_ids() {
    let env = Env::new();
    env.key();
    assert_eq!(
        code(encrypt(
            &env,
            "00000000-0000-0000-0000-000000000000",
            vec![1]
        )),
        "NotFoundException"
    );
    assert_eq!(
        code(encrypt(&env, "not-a-key-id", vec![1])),
        "NotFoundException"
    );
    assert_eq!(
        code(encrypt(
            &env,
            "arn:aws:kms:us-east-1:111122223333:key/nope",
            vec![1]
        )),
        "NotFoundException"
    );
    assert_eq!(
        code(encrypt(&env, "alias/missing", vec![1])),
        "NotFoundException"
    );
    assert_eq!(code(encrypt(&env, "", vec![1])), "ValidationException");
    assert_eq!(
        code(encrypt(&env, &"k".repeat(2049), vec![1])),
        "ValidationException"
    );
    let describe = env.kms.describe_key(
        &env.caller,
        DescribeKeyRequest {
            key_id: "00000000-0000-0000-0000-000000000000".into(),
            ..Default::default()
        },
    );
    assert_eq!(code(describe), "NotFoundException");
}

fn data_key(env: &Env, key: &str, bytes: Option<i64>, spec: Option<DataKeySpec>) -> &'static str {
    let request = GenerateDataKeyRequest {
        key_id: key.to_owned(),
        number_of_bytes: bytes,
        key_spec: spec,
        ..Default::default()
    };
    let with = code(env.kms.generate_data_key(&env.caller, request.clone()));
    let without = code(
        env.kms
            .generate_data_key_without_plaintext(&env.caller, request),
    );
    assert_eq!(with, without);
    with
}

#[test]
fn data_key_length_must_be_given_once_and_in_range() {
    let env = Env::new();
    let key = env.key();
    assert_eq!(data_key(&env, &key, Some(0), None), "ValidationException");
    assert_eq!(
        data_key(&env, &key, Some(1025), None),
        "ValidationException"
    );
    assert_eq!(data_key(&env, &key, Some(-1), None), "ValidationException");
    assert_eq!(
        data_key(&env, &key, Some(32), Some(DataKeySpec::Aes256)),
        "ValidationException"
    );
    assert_eq!(data_key(&env, &key, None, None), "ValidationException");
    assert_eq!(
        data_key(&env, "alias/none", None, Some(DataKeySpec::Aes256)),
        "NotFoundException"
    );
}

#[test]
fn generate_random_length_must_be_in_range() {
    let env = Env::new();
    for n in [None, Some(0), Some(1025), Some(i64::MAX)] {
        let result = env.kms.generate_random(
            &env.caller,
            GenerateRandomRequest {
                number_of_bytes: n,
                custom_key_store_id: None,
            },
        );
        assert_eq!(code(result), "ValidationException", "{n:?}");
    }
    let store = env.kms.generate_random(
        &env.caller,
        GenerateRandomRequest {
            number_of_bytes: Some(8),
            custom_key_store_id: Some("cks-1234567890abcdef0".into()),
        },
    );
    assert_eq!(code(store), "CustomKeyStoreNotFoundException");
}

#[test]
fn list_keys_limit_and_marker_are_checked() {
    let env = Env::new();
    for limit in [0, 1001, -5] {
        let result = env.kms.list_keys(
            &env.caller,
            ListKeysRequest {
                limit: Some(limit),
                marker: None,
            },
        );
        assert_eq!(code(result), "ValidationException");
    }
    let result = env.kms.list_keys(
        &env.caller,
        ListKeysRequest {
            limit: None,
            marker: Some("garbage".into()),
        },
    );
    assert_eq!(code(result), "InvalidMarkerException");
}

#[test]
fn grant_tokens_are_limited_to_ten() {
    let env = Env::new();
    let key = env.key();
    let request = |n: usize| EncryptRequest {
        key_id: key.clone(),
        plaintext: SecretBytes::new(b"x".to_vec()),
        grant_tokens: vec!["token".into(); n],
        ..Default::default()
    };
    env.kms.encrypt(&env.caller, request(10)).unwrap();
    assert_eq!(
        code(env.kms.encrypt(&env.caller, request(11))),
        "ValidationException"
    );
}

#[test]
fn oversized_encryption_context_is_refused() {
    let env = Env::new();
    let key = env.key();
    let result = env.kms.encrypt(
        &env.caller,
        EncryptRequest {
            key_id: key,
            plaintext: SecretBytes::new(b"x".to_vec()),
            encryption_context: Some(context(&[("k", &"v".repeat(8192))])),
            ..Default::default()
        },
    );
    assert_eq!(code(result), "ValidationException");
}

#[test]
fn asymmetric_algorithms_do_not_apply_to_symmetric_keys() {
    let env = Env::new();
    let key = env.key();
    let result = env.kms.encrypt(
        &env.caller,
        EncryptRequest {
            key_id: key.clone(),
            plaintext: SecretBytes::new(b"x".to_vec()),
            encryption_algorithm: Some(EncryptionAlgorithmSpec::RsaesOaepSha256),
            ..Default::default()
        },
    );
    assert_eq!(code(result), "InvalidKeyUsageException");
    let blob = env.encrypt(&key, b"x", None);
    let result = env.kms.decrypt(
        &env.caller,
        DecryptRequest {
            ciphertext_blob: blob,
            encryption_algorithm: Some(EncryptionAlgorithmSpec::RsaesOaepSha1),
            ..Default::default()
        },
    );
    assert_eq!(code(result), "InvalidKeyUsageException");
}

#[test]
fn ciphertext_size_is_checked() {
    let env = Env::new();
    for blob in [vec![], vec![0u8; 6145]] {
        let result = env.kms.decrypt(
            &env.caller,
            DecryptRequest {
                ciphertext_blob: blob,
                ..Default::default()
            },
        );
        assert_eq!(code(result), "ValidationException");
    }
    let garbage = env.kms.decrypt(
        &env.caller,
        DecryptRequest {
            ciphertext_blob: b"definitely not a ciphertext".to_vec(),
            ..Default::default()
        },
    );
    assert_eq!(code(garbage), "InvalidCiphertextException");
    let re_encrypt = env.kms.re_encrypt(
        &env.caller,
        ReEncryptRequest {
            ciphertext_blob: b"garbage".to_vec(),
            destination_key_id: env.key(),
            ..Default::default()
        },
    );
    assert_eq!(code(re_encrypt), "InvalidCiphertextException");
}

#[test]
fn create_key_rejects_what_it_cannot_honour() {
    let env = Env::new();
    let create = |request: CreateKeyRequest| code(env.kms.create_key(&env.caller, request));
    // A spec keyward does not support yet, and a spec other than
    // SYMMETRIC_DEFAULT without a usage (AWS requires one).
    assert_eq!(
        create(CreateKeyRequest {
            key_spec: Some(KeySpec::Sm2),
            key_usage: Some(KeyUsage::SignVerify),
            ..Default::default()
        }),
        "UnsupportedOperationException"
    );
    assert_eq!(
        create(CreateKeyRequest {
            key_spec: Some(KeySpec::Rsa2048),
            ..Default::default()
        }),
        "ValidationException"
    );
    assert_eq!(
        create(CreateKeyRequest {
            key_usage: Some(KeyUsage::SignVerify),
            ..Default::default()
        }),
        "ValidationException"
    );
    assert_eq!(
        create(CreateKeyRequest {
            key_spec: Some(KeySpec::SymmetricDefault),
            customer_master_key_spec: Some(KeySpec::SymmetricDefault),
            ..Default::default()
        }),
        "ValidationException"
    );
    assert_eq!(
        create(CreateKeyRequest {
            description: Some("d".repeat(8193)),
            ..Default::default()
        }),
        "ValidationException"
    );
    assert_eq!(
        create(CreateKeyRequest {
            custom_key_store_id: Some("cks-1".into()),
            ..Default::default()
        }),
        "CustomKeyStoreNotFoundException"
    );
    assert_eq!(
        create(CreateKeyRequest {
            origin: Some(OriginType::AwsCloudhsm),
            ..Default::default()
        }),
        "ValidationException"
    );
    // None of the refused requests created a key.
    assert!(
        env.kms
            .list_keys(&env.caller, ListKeysRequest::default())
            .unwrap()
            .keys
            .is_empty()
    );
}

#[test]
fn the_json_shapes_refuse_wrong_types_and_unknown_enum_values() {
    let wrong_type = serde_json::from_str::<EncryptRequest>(r#"{"KeyId": 5, "Plaintext": "eA=="}"#);
    assert!(wrong_type.is_err());
    let bad_base64 =
        serde_json::from_str::<EncryptRequest>(r#"{"KeyId": "k", "Plaintext": "not base64!"}"#);
    assert!(bad_base64.is_err());
    let bad_enum = serde_json::from_str::<CreateKeyRequest>(r#"{"KeySpec": "AES_512"}"#);
    assert!(bad_enum.is_err());
    let ok =
        serde_json::from_str::<EncryptRequest>(r#"{"KeyId": "k", "Plaintext": "eA=="}"#).unwrap();
    assert_eq!(ok.plaintext.expose(), b"x");
}
