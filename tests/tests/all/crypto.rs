//! Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext) and
//! GenerateRandom: round trips, context binding and tampering.

use keyward::model::{
    DataKeySpec, DecryptRequest, EncryptRequest, GenerateDataKeyRequest, GenerateRandomRequest,
    ReEncryptRequest, SecretBytes,
};
use sha2::{Digest, Sha256};

use crate::support::{Env, code, context};

fn decrypt(
    env: &Env,
    blob: &[u8],
    ctx: Option<keyward::model::EncryptionContext>,
) -> keyward::KmsResult<Vec<u8>> {
    env.kms
        .decrypt(
            &env.caller,
            DecryptRequest {
                ciphertext_blob: blob.to_vec(),
                encryption_context: ctx,
                ..Default::default()
            },
        )
        .map(|r| r.plaintext.expose().to_vec())
}

#[test]
fn round_trips_at_1_32_and_4096_bytes() {
    let env = Env::new();
    let key = env.key();
    for size in [1usize, 32, 4096] {
        let plaintext: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        let blob = env.encrypt(&key, &plaintext, None);
        let response = env
            .kms
            .decrypt(
                &env.caller,
                DecryptRequest {
                    ciphertext_blob: blob,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(
            response.plaintext.expose(),
            plaintext.as_slice(),
            "size {size}"
        );
        assert!(response.key_id.ends_with(&key));
        assert!(
            response
                .key_id
                .starts_with("arn:aws:kms:us-east-1:111122223333:key/")
        );
    }
}

#[test]
fn encryption_context_with_unicode_and_many_pairs_round_trips() {
    let env = Env::new();
    let key = env.key();
    let mut ctx = context(&[
        ("部署", "財務 💶"),
        ("naïve", "café"),
        ("", "empty key"),
        ("empty value", ""),
    ]);
    for i in 0..64 {
        ctx.insert(format!("key-{i:02}"), format!("value-{i}"));
    }
    let blob = env.encrypt(&key, b"secret", Some(ctx.clone()));
    assert_eq!(decrypt(&env, &blob, Some(ctx.clone())).unwrap(), b"secret");

    // Any change to the context is refused, opaquely.
    let mut changed = ctx.clone();
    changed.insert("部署".into(), "財務 💷".into());
    assert_eq!(
        code(decrypt(&env, &blob, Some(changed))),
        "InvalidCiphertextException"
    );
    let mut fewer = ctx.clone();
    fewer.remove("key-07");
    assert_eq!(
        code(decrypt(&env, &blob, Some(fewer))),
        "InvalidCiphertextException"
    );
    assert_eq!(
        code(decrypt(&env, &blob, None)),
        "InvalidCiphertextException"
    );
}

#[test]
fn no_context_and_an_empty_context_are_the_same() {
    let env = Env::new();
    let key = env.key();
    let blob = env.encrypt(&key, b"x", None);
    assert_eq!(decrypt(&env, &blob, Some(context(&[]))).unwrap(), b"x");
    assert_eq!(
        code(decrypt(&env, &blob, Some(context(&[("a", "b")])))),
        "InvalidCiphertextException"
    );
}

#[test]
fn decrypt_with_and_without_key_id() {
    let env = Env::new();
    let key = env.key();
    let other = env.key();
    let blob = env.encrypt(&key, b"abc", None);
    let with = |key_id: &str| {
        env.kms.decrypt(
            &env.caller,
            DecryptRequest {
                ciphertext_blob: blob.clone(),
                key_id: Some(key_id.to_owned()),
                ..Default::default()
            },
        )
    };
    assert_eq!(decrypt(&env, &blob, None).unwrap(), b"abc");
    assert_eq!(with(&key).unwrap().plaintext.expose(), b"abc");
    let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{key}");
    assert_eq!(with(&arn).unwrap().plaintext.expose(), b"abc");
    assert_eq!(code(with(&other)), "IncorrectKeyException");
    assert_eq!(
        code(with("00000000-0000-0000-0000-000000000000")),
        "NotFoundException"
    );
}

#[test]
fn the_same_plaintext_encrypts_differently_each_time() {
    let env = Env::new();
    let key = env.key();
    let a = env.encrypt(&key, b"same", None);
    let b = env.encrypt(&key, b"same", None);
    assert_ne!(a, b);
    assert_eq!(a.len(), b.len());
}

#[test]
fn every_single_bit_flip_is_refused_as_invalid_ciphertext() {
    let env = Env::new();
    let key = env.key();
    let ctx = context(&[("purpose", "bit flips")]);
    let blob = env.encrypt(&key, b"attack at dawn", Some(ctx.clone()));
    for bit in 0..blob.len() * 8 {
        let mut bad = blob.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            code(decrypt(&env, &bad, Some(ctx.clone()))),
            "InvalidCiphertextException",
            "flipping bit {bit} of {}",
            blob.len() * 8
        );
    }
    // Truncation and extension too.
    for len in [0usize, 1, 10, blob.len() - 1] {
        let result = decrypt(&env, &blob[..len], Some(ctx.clone()));
        let expected = if len == 0 {
            "ValidationException"
        } else {
            "InvalidCiphertextException"
        };
        assert_eq!(code(result), expected, "truncated to {len}");
    }
    let mut longer = blob.clone();
    longer.push(0);
    assert_eq!(
        code(decrypt(&env, &longer, Some(ctx.clone()))),
        "InvalidCiphertextException"
    );
    assert_eq!(decrypt(&env, &blob, Some(ctx)).unwrap(), b"attack at dawn");
}

/// Rewrites the key ARN in a ciphertext header, recomputing the header check
/// the way an attacker could (the format is public).
fn rename_key(blob: &[u8], from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let text = blob.to_vec();
    let at = text
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap();
    let mut out = text.clone();
    out[at..at + to.len()].copy_from_slice(to.as_bytes());
    let check_at = at + to.len() + 4;
    let digest = Sha256::digest(&out[..check_at]);
    out[check_at..check_at + 4].copy_from_slice(&digest[..4]);
    out
}

#[test]
fn a_ciphertext_presented_under_another_key_is_refused() {
    let env = Env::new();
    let key = env.key();
    let other = env.key();
    let blob = env.encrypt(&key, b"mine", None);
    let forged = rename_key(&blob, &key, &other);
    assert_ne!(forged, blob);
    assert_eq!(
        code(decrypt(&env, &forged, None)),
        "InvalidCiphertextException"
    );
    // The untouched ciphertext still decrypts.
    assert_eq!(decrypt(&env, &blob, None).unwrap(), b"mine");
}

#[test]
fn re_encrypt_moves_a_ciphertext_to_another_key_and_context() {
    let env = Env::new();
    let source = env.key();
    let destination = env.key();
    let blob = env.encrypt(&source, b"payload", Some(context(&[("a", "1")])));
    let request = |src_ctx, source_key_id: Option<&str>| ReEncryptRequest {
        ciphertext_blob: blob.clone(),
        source_encryption_context: src_ctx,
        source_key_id: source_key_id.map(str::to_owned),
        destination_key_id: destination.clone(),
        destination_encryption_context: Some(context(&[("b", "2")])),
        ..Default::default()
    };
    let response = env
        .kms
        .re_encrypt(
            &env.caller,
            request(Some(context(&[("a", "1")])), Some(&source)),
        )
        .unwrap();
    assert!(response.source_key_id.ends_with(&source));
    assert!(response.key_id.ends_with(&destination));
    let out = decrypt(
        &env,
        &response.ciphertext_blob,
        Some(context(&[("b", "2")])),
    )
    .unwrap();
    assert_eq!(out, b"payload");
    assert_eq!(
        code(decrypt(
            &env,
            &response.ciphertext_blob,
            Some(context(&[("a", "1")]))
        )),
        "InvalidCiphertextException"
    );

    let wrong_context = env
        .kms
        .re_encrypt(&env.caller, request(Some(context(&[("a", "2")])), None));
    assert_eq!(code(wrong_context), "InvalidCiphertextException");
    let wrong_source = env.kms.re_encrypt(
        &env.caller,
        request(Some(context(&[("a", "1")])), Some(&destination)),
    );
    assert_eq!(code(wrong_source), "IncorrectKeyException");
}

#[test]
fn generate_data_key_returns_a_key_that_decrypts_from_its_ciphertext() {
    let env = Env::new();
    let key = env.key();
    let ctx = context(&[("file", "report.pdf")]);
    for (spec, bytes, expected) in [
        (Some(DataKeySpec::Aes256), None, 32usize),
        (Some(DataKeySpec::Aes128), None, 16),
        (None, Some(1), 1),
        (None, Some(1024), 1024),
    ] {
        let response = env
            .kms
            .generate_data_key(
                &env.caller,
                GenerateDataKeyRequest {
                    key_id: key.clone(),
                    key_spec: spec,
                    number_of_bytes: bytes,
                    encryption_context: Some(ctx.clone()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(response.plaintext.len(), expected);
        assert!(response.key_id.ends_with(&key));
        let decrypted = decrypt(&env, &response.ciphertext_blob, Some(ctx.clone())).unwrap();
        assert_eq!(decrypted, response.plaintext.expose());
    }
}

#[test]
fn generate_data_key_without_plaintext_decrypts_to_a_fresh_key() {
    let env = Env::new();
    let key = env.key();
    let request = GenerateDataKeyRequest {
        key_id: key.clone(),
        key_spec: Some(DataKeySpec::Aes256),
        ..Default::default()
    };
    let a = env
        .kms
        .generate_data_key_without_plaintext(&env.caller, request.clone())
        .unwrap();
    let b = env
        .kms
        .generate_data_key_without_plaintext(&env.caller, request)
        .unwrap();
    let key_a = decrypt(&env, &a.ciphertext_blob, None).unwrap();
    let key_b = decrypt(&env, &b.ciphertext_blob, None).unwrap();
    assert_eq!(key_a.len(), 32);
    assert_ne!(key_a, key_b);
}

#[test]
fn generate_random_returns_the_requested_length() {
    let env = Env::new();
    for n in [1i64, 32, 1024] {
        let response = env
            .kms
            .generate_random(
                &env.caller,
                GenerateRandomRequest {
                    number_of_bytes: Some(n),
                    custom_key_store_id: None,
                },
            )
            .unwrap();
        assert_eq!(response.plaintext.len() as i64, n);
    }
    let a = env
        .kms
        .generate_random(
            &env.caller,
            GenerateRandomRequest {
                number_of_bytes: Some(32),
                custom_key_store_id: None,
            },
        )
        .unwrap();
    let b = env
        .kms
        .generate_random(
            &env.caller,
            GenerateRandomRequest {
                number_of_bytes: Some(32),
                custom_key_store_id: None,
            },
        )
        .unwrap();
    assert_ne!(a.plaintext, b.plaintext);
}

#[test]
fn dry_run_checks_but_does_not_encrypt() {
    let env = Env::new();
    let key = env.key();
    let result = env.kms.encrypt(
        &env.caller,
        EncryptRequest {
            key_id: key,
            plaintext: SecretBytes::new(b"x".to_vec()),
            dry_run: Some(true),
            ..Default::default()
        },
    );
    assert_eq!(code(result), "DryRunOperationException");
}
