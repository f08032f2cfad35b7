//! Imported key material (BYOK), through the library, with key material
//! wrapped by a standard RSA client (the `rsa` and `aes-kw` crates), as a
//! user would with OpenSSL.

use std::sync::Arc;

use keyward::clock::ManualClock;
use keyward::model::{
    AlgorithmSpec, CreateKeyRequest, DecryptRequest, ExpirationModelType,
    GetParametersForImportRequest, GetParametersForImportResponse, ImportKeyMaterialRequest,
    KeyState, OriginType, WrappingKeySpec,
};
use keyward::{Caller, KmsResult};
use rsa::pkcs8::DecodePublicKey;
use rsa::{Oaep, RsaPublicKey};

use crate::support::{Env, code, contains, key_id};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const START_MS: i64 = 1_767_225_600_000;

fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

fn external_key(env: &Env) -> String {
    env.kms
        .create_key(
            &env.caller,
            CreateKeyRequest {
                origin: Some(OriginType::External),
                ..Default::default()
            },
        )
        .unwrap()
        .key_metadata
        .key_id
}

pub(crate) fn parameters(
    env: &Env,
    key_id: &str,
    algorithm: AlgorithmSpec,
    spec: WrappingKeySpec,
) -> KmsResult<GetParametersForImportResponse> {
    env.kms.get_parameters_for_import(
        &env.caller,
        GetParametersForImportRequest {
            key_id: key_id.to_owned(),
            wrapping_algorithm: Some(algorithm),
            wrapping_key_spec: Some(spec),
        },
    )
}

/// Wraps `material` under the returned public key the way AWS documents it
/// for `algorithm`.
pub(crate) fn wrap(public_key_der: &[u8], algorithm: AlgorithmSpec, material: &[u8]) -> Vec<u8> {
    let public = RsaPublicKey::from_public_key_der(public_key_der).unwrap();
    match algorithm {
        AlgorithmSpec::RsaesOaepSha256 => public
            .encrypt(&mut rng(), Oaep::<sha2::Sha256>::new(), material)
            .unwrap(),
        AlgorithmSpec::RsaesOaepSha1 => public
            .encrypt(&mut rng(), Oaep::<sha1::Sha1>::new(), material)
            .unwrap(),
        AlgorithmSpec::RsaAesKeyWrapSha256 | AlgorithmSpec::RsaAesKeyWrapSha1 => {
            use aes_kw::KeyInit;
            let mut aes_key = [0u8; 32];
            getrandom::fill(&mut aes_key).unwrap();
            let head = if algorithm == AlgorithmSpec::RsaAesKeyWrapSha256 {
                public.encrypt(&mut rng(), Oaep::<sha2::Sha256>::new(), &aes_key)
            } else {
                public.encrypt(&mut rng(), Oaep::<sha1::Sha1>::new(), &aes_key)
            }
            .unwrap();
            let kwp = aes_kw::KwpAes256::new_from_slice(&aes_key).unwrap();
            let mut buf = vec![0u8; material.len() + 16];
            let tail = kwp.wrap_key(material, &mut buf).unwrap();
            [head, tail.to_vec()].concat()
        }
        other => panic!("no client wrapping for {other}"),
    }
}

pub(crate) fn import(
    env: &Env,
    key_id: &str,
    token: &[u8],
    wrapped: &[u8],
    valid_to_ms: Option<i64>,
) -> KmsResult<keyward::model::ImportKeyMaterialResponse> {
    env.kms.import_key_material(
        &env.caller,
        ImportKeyMaterialRequest {
            key_id: key_id.to_owned(),
            import_token: token.to_vec().into(),
            encrypted_key_material: wrapped.to_vec().into(),
            valid_to: valid_to_ms.map(|ms| ms as f64 / 1000.0),
            // Omitted, the model is KEY_MATERIAL_EXPIRES (AWS's default).
            expiration_model: valid_to_ms
                .is_none()
                .then_some(ExpirationModelType::KeyMaterialDoesNotExpire),
        },
    )
}

/// Gets parameters and imports `material` with them.
fn import_material(
    env: &Env,
    key_id: &str,
    algorithm: AlgorithmSpec,
    material: &[u8],
    valid_to_ms: Option<i64>,
) -> KmsResult<keyward::model::ImportKeyMaterialResponse> {
    let parameters = parameters(env, key_id, algorithm, WrappingKeySpec::Rsa2048)?;
    let wrapped = wrap(&parameters.public_key, algorithm, material);
    import(
        env,
        key_id,
        parameters.import_token.expose(),
        &wrapped,
        valid_to_ms,
    )
}

fn decrypt(env: &Env, caller: &Caller, blob: &[u8]) -> KmsResult<Vec<u8>> {
    env.kms
        .decrypt(
            caller,
            DecryptRequest {
                ciphertext_blob: blob.to_vec(),
                ..Default::default()
            },
        )
        .map(|r| r.plaintext.expose().to_vec())
}

fn random_material() -> [u8; 32] {
    let mut material = [0u8; 32];
    getrandom::fill(&mut material).unwrap();
    material
}

#[test]
fn material_wrapped_by_a_standard_rsa_client_imports_deletes_and_reimports() {
    let env = Env::new();
    let key = external_key(&env);
    let metadata = env.describe(&key);
    assert_eq!(metadata.key_state, KeyState::PendingImport);
    assert_eq!(metadata.origin, OriginType::External);
    assert!(!metadata.enabled);
    assert_eq!(metadata.expiration_model, None);

    // No material yet: no cryptography, and it cannot be enabled.
    let plaintext = b"imported material protects this";
    assert_eq!(
        code(env.kms.encrypt(
            &env.caller,
            keyward::model::EncryptRequest {
                key_id: key.clone(),
                plaintext: keyward::model::SecretBytes::new(plaintext),
                ..Default::default()
            }
        )),
        "KMSInvalidStateException"
    );
    assert_eq!(
        code(env.kms.enable_key(&env.caller, key_id(&key))),
        "KMSInvalidStateException"
    );

    // The public key is a standard DER SubjectPublicKeyInfo of the size asked for.
    let first = parameters(
        &env,
        &key,
        AlgorithmSpec::RsaesOaepSha256,
        WrappingKeySpec::Rsa2048,
    )
    .unwrap();
    let public = RsaPublicKey::from_public_key_der(&first.public_key).unwrap();
    assert_eq!(rsa::traits::PublicKeyParts::size(&public), 256);
    assert!(first.key_id.ends_with(&key));
    let material = random_material();
    let wrapped = wrap(&first.public_key, AlgorithmSpec::RsaesOaepSha256, &material);
    import(&env, &key, first.import_token.expose(), &wrapped, None).unwrap();

    let metadata = env.describe(&key);
    assert_eq!(metadata.key_state, KeyState::Enabled);
    assert_eq!(
        metadata.expiration_model,
        Some(ExpirationModelType::KeyMaterialDoesNotExpire)
    );
    assert_eq!(metadata.valid_to, None);
    let blob = env.encrypt(&key, plaintext, None);
    assert_eq!(decrypt(&env, &env.caller, &blob).unwrap(), plaintext);
    assert!(
        !contains(&env.data_dir_bytes(), &material),
        "the imported material is in the store's files in plaintext"
    );

    // Rotation is refused for imported material, as in AWS.
    assert_eq!(
        code(env.kms.rotate_key_on_demand(&env.caller, key_id(&key))),
        "UnsupportedOperationException"
    );

    // Deleting the material: PendingImport, nothing decrypts, nothing left.
    let [stored] = <[Vec<u8>; 1]>::try_from(env.stored_material(&key)).unwrap();
    env.kms
        .delete_imported_key_material(&env.caller, key_id(&key))
        .unwrap();
    assert_eq!(env.describe(&key).key_state, KeyState::PendingImport);
    assert_eq!(env.describe(&key).expiration_model, None);
    assert_eq!(
        code(decrypt(&env, &env.caller, &blob)),
        "KMSInvalidStateException"
    );
    assert!(
        !contains(&env.data_dir_bytes(), &stored),
        "the deleted material is still in the files"
    );

    // Other material is refused; the same material, wrapped by any
    // algorithm, restores the key and its old ciphertexts.
    assert_eq!(
        code(import_material(
            &env,
            &key,
            AlgorithmSpec::RsaesOaepSha256,
            &random_material(),
            None
        )),
        "IncorrectKeyMaterialException"
    );
    assert_eq!(env.describe(&key).key_state, KeyState::PendingImport);
    for algorithm in [
        AlgorithmSpec::RsaAesKeyWrapSha256,
        AlgorithmSpec::RsaAesKeyWrapSha1,
        AlgorithmSpec::RsaesOaepSha1,
    ] {
        import_material(&env, &key, algorithm, &material, None).unwrap();
        assert_eq!(env.describe(&key).key_state, KeyState::Enabled);
        assert_eq!(decrypt(&env, &env.caller, &blob).unwrap(), plaintext);
    }
    // Re-importing onto present material is allowed only for the same material.
    assert_eq!(
        code(import_material(
            &env,
            &key,
            AlgorithmSpec::RsaesOaepSha256,
            &random_material(),
            None
        )),
        "IncorrectKeyMaterialException"
    );
    assert_eq!(decrypt(&env, &env.caller, &blob).unwrap(), plaintext);

    // A disabled key stays disabled through a re-import.
    env.kms.disable_key(&env.caller, key_id(&key)).unwrap();
    import_material(&env, &key, AlgorithmSpec::RsaesOaepSha256, &material, None).unwrap();
    assert_eq!(env.describe(&key).key_state, KeyState::Disabled);

    // The larger wrapping keys work too.
    let big = parameters(
        &env,
        &key,
        AlgorithmSpec::RsaesOaepSha256,
        WrappingKeySpec::Rsa3072,
    )
    .unwrap();
    let public = RsaPublicKey::from_public_key_der(&big.public_key).unwrap();
    assert_eq!(rsa::traits::PublicKeyParts::size(&public), 384);
    let wrapped = wrap(&big.public_key, AlgorithmSpec::RsaesOaepSha256, &material);
    import(&env, &key, big.import_token.expose(), &wrapped, None).unwrap();

    // The trail records every step, but none of the material, the wrapped
    // material, the token or the public key, raw or in base64.
    use base64::Engine as _;
    let events = env
        .kms
        .query_audit(&env.caller, Some(&key), Default::default())
        .unwrap();
    let names: Vec<&str> = events
        .iter()
        .filter_map(|e| e["eventName"].as_str())
        .collect();
    for name in [
        "GetParametersForImport",
        "ImportKeyMaterial",
        "DeleteImportedKeyMaterial",
    ] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
    let trail = serde_json::to_vec(&events).unwrap();
    for secret in [
        &material[..],
        &wrapped[..],
        big.import_token.expose(),
        &big.public_key[..],
    ] {
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        assert!(!contains(&trail, secret));
        assert!(!contains(&trail, &b64.as_bytes()[..40]));
    }
}

#[test]
fn bad_tokens_bad_material_and_bad_parameters_get_aws_errors() {
    let clock = Arc::new(ManualClock::new(START_MS));
    let env = Env::with_config(|c| c.clock = clock.clone());
    let key = external_key(&env);
    let other = external_key(&env);
    let material = random_material();
    let algorithm = AlgorithmSpec::RsaesOaepSha256;
    let ours = parameters(&env, &key, algorithm, WrappingKeySpec::Rsa2048).unwrap();
    let token = ours.import_token.expose();
    let theirs = parameters(&env, &other, algorithm, WrappingKeySpec::Rsa2048).unwrap();
    let wrapped = wrap(&ours.public_key, algorithm, &material);

    // Another key's token, a token with a byte changed (the header's expiry,
    // then the sealed key), and bytes that are no token at all.
    assert_eq!(
        code(import(
            &env,
            &key,
            theirs.import_token.expose(),
            &wrapped,
            None
        )),
        "InvalidImportTokenException"
    );
    // Bytes 5, 6 and 14 are the algorithm, the key size and the expiry's
    // last byte (a millisecond later or earlier); the last is the seal's.
    for position in [5, 6, 14, ours.import_token.len() - 1] {
        let mut tampered = token.to_vec();
        tampered[position] ^= 1;
        assert_eq!(
            code(import(&env, &key, &tampered, &wrapped, None)),
            "InvalidImportTokenException",
            "byte {position} changed"
        );
    }
    assert_eq!(
        code(import(&env, &key, b"not a token", &wrapped, None)),
        "InvalidImportTokenException"
    );
    // Material wrapped under another key's public key, or corrupted.
    let foreign = wrap(&theirs.public_key, algorithm, &material);
    assert_eq!(
        code(import(&env, &key, token, &foreign, None)),
        "InvalidCiphertextException"
    );
    let mut corrupted = wrapped.clone();
    corrupted[0] ^= 0x80;
    assert_eq!(
        code(import(&env, &key, token, &corrupted, None)),
        "InvalidCiphertextException"
    );
    // Material that is not 256 bits.
    let short = wrap(&ours.public_key, algorithm, &material[..16]);
    assert_eq!(
        code(import(&env, &key, token, &short, None)),
        "IncorrectKeyMaterialException"
    );
    // Empty and oversized fields.
    assert_eq!(
        code(import(&env, &key, &[], &wrapped, None)),
        "ValidationException"
    );
    assert_eq!(
        code(import(&env, &key, token, &vec![1; 6145], None)),
        "ValidationException"
    );
    // ValidTo: not in the past, at most 365 days ahead, and only with
    // KEY_MATERIAL_EXPIRES.
    let with_model = |model, valid_to_ms: Option<i64>| {
        env.kms.import_key_material(
            &env.caller,
            ImportKeyMaterialRequest {
                key_id: key.clone(),
                import_token: ours.import_token.clone(),
                encrypted_key_material: wrapped.clone().into(),
                valid_to: valid_to_ms.map(|ms| ms as f64 / 1000.0),
                expiration_model: model,
            },
        )
    };
    for (model, valid_to) in [
        (None, None),
        (None, Some(START_MS - 1000)),
        (None, Some(START_MS + 366 * DAY_MS)),
        (Some(ExpirationModelType::KeyMaterialExpires), None),
        (
            Some(ExpirationModelType::KeyMaterialDoesNotExpire),
            Some(START_MS + DAY_MS),
        ),
    ] {
        assert_eq!(
            code(with_model(model, valid_to)),
            "ValidationException",
            "{model:?} {valid_to:?}"
        );
    }
    assert_eq!(env.describe(&key).key_state, KeyState::PendingImport);

    // Keys with generated material take no imports.
    let generated = env.key();
    assert_eq!(
        code(parameters(
            &env,
            &generated,
            algorithm,
            WrappingKeySpec::Rsa2048
        )),
        "UnsupportedOperationException"
    );
    assert_eq!(
        code(import(&env, &generated, token, &wrapped, None)),
        "UnsupportedOperationException"
    );
    assert_eq!(
        code(
            env.kms
                .delete_imported_key_material(&env.caller, key_id(&generated))
        ),
        "UnsupportedOperationException"
    );
    // Missing and unsupported parameters, unknown keys.
    let missing = env.kms.get_parameters_for_import(
        &env.caller,
        GetParametersForImportRequest {
            key_id: key.clone(),
            wrapping_algorithm: None,
            wrapping_key_spec: Some(WrappingKeySpec::Rsa2048),
        },
    );
    assert_eq!(code(missing), "ValidationException");
    assert_eq!(
        code(parameters(
            &env,
            &key,
            AlgorithmSpec::RsaesPkcs1V15,
            WrappingKeySpec::Rsa2048
        )),
        "UnsupportedOperationException"
    );
    assert_eq!(
        code(parameters(&env, &key, algorithm, WrappingKeySpec::Sm2)),
        "UnsupportedOperationException"
    );
    let unknown = "1234abcd-12ab-34cd-56ef-1234567890ab";
    assert_eq!(
        code(parameters(
            &env,
            unknown,
            algorithm,
            WrappingKeySpec::Rsa2048
        )),
        "NotFoundException"
    );

    // After 24 hours the token has expired.
    clock.advance_ms(DAY_MS);
    assert_eq!(
        code(import(&env, &key, token, &wrapped, None)),
        "ExpiredImportTokenException"
    );
    // Expiry is judged first: an expired token opens nothing.
    assert_eq!(
        code(import(&env, &key, token, &corrupted, None)),
        "ExpiredImportTokenException"
    );
    // Just before, it worked (checked on a fresh pair).
    let fresh = parameters(&env, &key, algorithm, WrappingKeySpec::Rsa2048).unwrap();
    clock.advance_ms(DAY_MS - 1);
    let wrapped = wrap(&fresh.public_key, algorithm, &material);
    import(&env, &key, fresh.import_token.expose(), &wrapped, None).unwrap();

    // A key pending deletion takes no parameters and no imports, but its
    // material can be deleted; cancelling leaves it awaiting material.
    env.schedule_deletion(&key, 7);
    assert_eq!(
        code(parameters(&env, &key, algorithm, WrappingKeySpec::Rsa2048)),
        "KMSInvalidStateException"
    );
    assert_eq!(
        code(import(
            &env,
            &key,
            fresh.import_token.expose(),
            &wrapped,
            None
        )),
        "KMSInvalidStateException"
    );
    env.kms
        .delete_imported_key_material(&env.caller, key_id(&key))
        .unwrap();
    assert_eq!(env.describe(&key).key_state, KeyState::PendingDeletion);
    env.kms
        .cancel_key_deletion(&env.caller, key_id(&key))
        .unwrap();
    assert_eq!(env.describe(&key).key_state, KeyState::PendingImport);
}

#[test]
fn expired_material_returns_the_key_to_pending_import_until_reimported() {
    let clock = Arc::new(ManualClock::new(START_MS));
    let env = Env::with_config(|c| c.clock = clock.clone());
    let key = external_key(&env);
    let material = random_material();
    let valid_to = START_MS + 10 * DAY_MS;
    import_material(
        &env,
        &key,
        AlgorithmSpec::RsaAesKeyWrapSha256,
        &material,
        Some(valid_to),
    )
    .unwrap();
    let metadata = env.describe(&key);
    assert_eq!(metadata.key_state, KeyState::Enabled);
    assert_eq!(
        metadata.expiration_model,
        Some(ExpirationModelType::KeyMaterialExpires)
    );
    assert_eq!(metadata.valid_to, Some(valid_to as f64 / 1000.0));
    let blob = env.encrypt(&key, b"until the tenth day", None);

    clock.advance_ms(10 * DAY_MS - 1);
    assert!(
        env.kms
            .run_maintenance()
            .unwrap()
            .expired_material
            .is_empty()
    );
    decrypt(&env, &env.caller, &blob).unwrap();

    // At ValidTo the key stops working at once, before any sweep...
    clock.advance_ms(1);
    let metadata = env.describe(&key);
    assert_eq!(metadata.key_state, KeyState::PendingImport);
    assert_eq!(metadata.expiration_model, None);
    assert_eq!(metadata.valid_to, None);
    assert_eq!(
        code(decrypt(&env, &env.caller, &blob)),
        "KMSInvalidStateException"
    );
    // ...and the sweep deletes the material, as an audited service event.
    let report = env.kms.run_maintenance().unwrap();
    assert_eq!(report.expired_material.len(), 1);
    assert!(report.expired_material[0].ends_with(&key));
    let events = env
        .kms
        .query_audit(
            &env.caller,
            Some(&key),
            keyward::audit::query::Filter {
                event_name: Some("DeleteExpiredKeyMaterial".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["eventType"], "AwsServiceEvent");
    assert!(
        env.kms
            .run_maintenance()
            .unwrap()
            .expired_material
            .is_empty()
    );
    assert!(env.stored_material(&key).is_empty());

    // The same material brings the key and its ciphertexts back.
    import_material(&env, &key, AlgorithmSpec::RsaesOaepSha256, &material, None).unwrap();
    assert_eq!(env.describe(&key).key_state, KeyState::Enabled);
    assert_eq!(
        decrypt(&env, &env.caller, &blob).unwrap(),
        b"until the tenth day"
    );
}
