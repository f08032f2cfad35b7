//! Asymmetric and HMAC keys through the library: every signing spec and
//! algorithm checked by an independent RustCrypto verifier, RSA-OAEP made
//! offline decrypting in keyward, HMACs over imported keys, ECDH against a
//! local computation, data key pairs, and AWS's errors for bad input.

use keyward::KmsResult;
use keyward::model::{
    AlgorithmSpec, CreateGrantRequest, CreateKeyRequest, DataKeyPairSpec, DecryptRequest,
    DeriveSharedSecretRequest, EnableKeyRotationRequest, EncryptRequest, EncryptionAlgorithmSpec,
    GenerateDataKeyPairRequest, GenerateMacRequest, GetPublicKeyRequest, GrantOperation,
    KeyAgreementAlgorithmSpec, KeySpec, KeyUsage, MacAlgorithmSpec, MessageType, OriginType,
    ReEncryptRequest, SignRequest, SigningAlgorithmSpec, VerifyMacRequest, VerifyRequest,
    WrappingKeySpec,
};
use sha2::Digest as _;

use crate::imports::{import, parameters, wrap};
use crate::support::{Env, REGION, code, contains, context, key_id, user};

fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

fn create(env: &Env, spec: KeySpec, usage: KeyUsage) -> String {
    create_with(env, spec, usage, None)
}

fn create_with(env: &Env, spec: KeySpec, usage: KeyUsage, origin: Option<OriginType>) -> String {
    env.kms
        .create_key(
            &env.caller,
            CreateKeyRequest {
                key_spec: Some(spec),
                key_usage: Some(usage),
                origin,
                ..Default::default()
            },
        )
        .unwrap()
        .key_metadata
        .key_id
}

fn public_key(env: &Env, key: &str) -> Vec<u8> {
    env.kms
        .get_public_key(
            &env.caller,
            GetPublicKeyRequest {
                key_id: key.to_owned(),
                ..Default::default()
            },
        )
        .unwrap()
        .public_key
}

fn sign(
    env: &Env,
    key: &str,
    algorithm: SigningAlgorithmSpec,
    message_type: MessageType,
    message: &[u8],
) -> KmsResult<Vec<u8>> {
    env.kms
        .sign(
            &env.caller,
            SignRequest {
                key_id: key.to_owned(),
                message: message.to_vec().into(),
                message_type: Some(message_type),
                signing_algorithm: Some(algorithm),
                ..Default::default()
            },
        )
        .map(|r| r.signature)
}

fn verify(
    env: &Env,
    key: &str,
    algorithm: SigningAlgorithmSpec,
    message_type: MessageType,
    message: &[u8],
    signature: &[u8],
) -> KmsResult<bool> {
    env.kms
        .verify(
            &env.caller,
            VerifyRequest {
                key_id: key.to_owned(),
                message: message.to_vec().into(),
                message_type: Some(message_type),
                signature: signature.to_vec(),
                signing_algorithm: Some(algorithm),
                ..Default::default()
            },
        )
        .map(|r| r.signature_valid)
}

/// Verifies a signature with RustCrypto alone, from the DER public key.
fn independently_verified(
    spec: KeySpec,
    public: &[u8],
    algorithm: SigningAlgorithmSpec,
    message: &[u8],
    signature: &[u8],
) -> bool {
    use SigningAlgorithmSpec as S;
    use rsa::pkcs8::DecodePublicKey;
    use signature::Verifier;
    match spec {
        KeySpec::EccNistP256 => {
            let key = p256::ecdsa::VerifyingKey::from_public_key_der(public).unwrap();
            let sig = p256::ecdsa::DerSignature::try_from(signature).unwrap();
            key.verify(message, &sig).is_ok()
        }
        KeySpec::EccNistP384 => {
            let key = p384::ecdsa::VerifyingKey::from_public_key_der(public).unwrap();
            let sig = p384::ecdsa::DerSignature::try_from(signature).unwrap();
            key.verify(message, &sig).is_ok()
        }
        KeySpec::EccNistP521 => {
            let key = p521::ecdsa::VerifyingKey::from_public_key_der(public).unwrap();
            let sig = p521::ecdsa::DerSignature::try_from(signature).unwrap();
            key.verify(message, &sig).is_ok()
        }
        KeySpec::EccSecgP256k1 => {
            let key = k256::ecdsa::VerifyingKey::from_public_key_der(public).unwrap();
            let sig = k256::ecdsa::Signature::from_der(signature).unwrap();
            key.verify(message, &sig).is_ok()
        }
        KeySpec::EccNistEdwards25519 => {
            let key = ed25519_dalek::VerifyingKey::from_public_key_der(public).unwrap();
            let sig = ed25519_dalek::Signature::from_slice(signature).unwrap();
            match algorithm {
                S::Ed25519Sha512 => key.verify_strict(message, &sig).is_ok(),
                _ => {
                    let mut prehash = sha2::Sha512::new();
                    prehash.update(message);
                    key.verify_prehashed(prehash, None, &sig).is_ok()
                }
            }
        }
        _ => {
            let key = rsa::RsaPublicKey::from_public_key_der(public).unwrap();
            macro_rules! check {
                ($scheme:ident, $digest:ty) => {{
                    let key = rsa::$scheme::VerifyingKey::<$digest>::new(key);
                    let sig = rsa::$scheme::Signature::try_from(signature).unwrap();
                    key.verify(message, &sig).is_ok()
                }};
            }
            match algorithm {
                S::RsassaPssSha256 => check!(pss, sha2::Sha256),
                S::RsassaPssSha384 => check!(pss, sha2::Sha384),
                S::RsassaPssSha512 => check!(pss, sha2::Sha512),
                S::RsassaPkcs1V15Sha256 => check!(pkcs1v15, sha2::Sha256),
                S::RsassaPkcs1V15Sha384 => check!(pkcs1v15, sha2::Sha384),
                _ => check!(pkcs1v15, sha2::Sha512),
            }
        }
    }
}

fn digest_of(algorithm: SigningAlgorithmSpec, message: &[u8]) -> Vec<u8> {
    match algorithm.digest_len() {
        Some(32) => sha2::Sha256::digest(message).to_vec(),
        Some(48) => sha2::Sha384::digest(message).to_vec(),
        _ => sha2::Sha512::digest(message).to_vec(),
    }
}

/// Every signing spec (RSA at 2048 bits: the sizes differ only in
/// generation time) with every algorithm AWS lists for it, raw and as a
/// digest, verified by keyward and by RustCrypto.
#[test]
fn signatures_verify_in_keyward_and_with_rustcrypto() {
    let env = Env::new();
    let specs = [
        KeySpec::Rsa2048,
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
        KeySpec::EccSecgP256k1,
        KeySpec::EccNistEdwards25519,
    ];
    let message = b"a document to sign".as_slice();
    for spec in specs {
        let key = create(&env, spec, KeyUsage::SignVerify);
        let metadata = env.describe(&key);
        let algorithms = metadata.signing_algorithms.clone().unwrap();
        assert_eq!(algorithms, spec.signing_algorithms(), "{spec}");
        assert!(metadata.encryption_algorithms.is_none());
        let public = public_key(&env, &key);
        for algorithm in algorithms {
            let ed_pure = algorithm == SigningAlgorithmSpec::Ed25519Sha512;
            let ed_ph = algorithm == SigningAlgorithmSpec::Ed25519PhSha512;
            let digest = digest_of(algorithm, message);
            let mut inputs = Vec::new();
            if !ed_ph {
                inputs.push((MessageType::Raw, message.to_vec()));
            }
            if !ed_pure {
                inputs.push((MessageType::Digest, digest.clone()));
            }
            for (message_type, input) in inputs {
                let signature = sign(&env, &key, algorithm, message_type, &input).unwrap();
                assert!(
                    independently_verified(spec, &public, algorithm, message, &signature),
                    "{spec} {algorithm} {message_type}"
                );
                assert!(verify(&env, &key, algorithm, message_type, &input, &signature).unwrap());
                let mut altered = signature.clone();
                let last = altered.len() - 1;
                altered[last] ^= 1;
                assert_eq!(
                    code(verify(
                        &env,
                        &key,
                        algorithm,
                        message_type,
                        &input,
                        &altered
                    )),
                    "KMSInvalidSignatureException",
                    "{spec} {algorithm}"
                );
            }
        }
    }
}

/// The reverse: a key made outside, imported (PKCS #8 under
/// RSA_AES_KEY_WRAP_SHA_256), signs what its public half verifies, and a
/// signature made outside verifies in keyward.
#[test]
fn imported_ecc_and_rsa_keys_sign_and_verify() {
    use p256::pkcs8::EncodePrivateKey;
    use signature::Signer;
    let env = Env::new();
    let outside = p256::ecdsa::SigningKey::from_slice(&[0x11; 32]).unwrap();
    let key = create_with(
        &env,
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
        Some(OriginType::External),
    );
    let der = outside.to_pkcs8_der().unwrap();
    import_pkcs8(&env, &key, der.as_bytes()).unwrap();
    let message = b"signed outside and inside".as_slice();
    let made_outside: p256::ecdsa::DerSignature = outside.sign(message);
    assert!(
        verify(
            &env,
            &key,
            SigningAlgorithmSpec::EcdsaSha256,
            MessageType::Raw,
            message,
            made_outside.as_bytes()
        )
        .unwrap()
    );
    let made_inside = sign(
        &env,
        &key,
        SigningAlgorithmSpec::EcdsaSha256,
        MessageType::Raw,
        message,
    )
    .unwrap();
    let outside_public = {
        use p256::pkcs8::EncodePublicKey;
        outside.verifying_key().to_public_key_der().unwrap()
    };
    assert_eq!(public_key(&env, &key), outside_public.as_bytes());
    assert!(independently_verified(
        KeySpec::EccNistP256,
        outside_public.as_bytes(),
        SigningAlgorithmSpec::EcdsaSha256,
        message,
        &made_inside
    ));

    // The material of another curve is not this key's.
    let other = p384::SecretKey::from_slice(&[0x22; 48]).unwrap();
    let other_der = other.to_pkcs8_der().unwrap();
    let refused = import_pkcs8(&env, &key, other_der.as_bytes());
    assert_eq!(code(refused), "IncorrectKeyMaterialException");

    // RSA: a 2048-bit key from the rsa crate.
    let rsa_key = rsa::RsaPrivateKey::new(&mut rng(), 2048).unwrap();
    let rsa_id = create_with(
        &env,
        KeySpec::Rsa2048,
        KeyUsage::SignVerify,
        Some(OriginType::External),
    );
    import_pkcs8(&env, &rsa_id, rsa_key.to_pkcs8_der().unwrap().as_bytes()).unwrap();
    let outside = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(rsa_key);
    let signature = outside.sign(message);
    let signature = signature::SignatureEncoding::to_vec(&signature);
    assert!(
        verify(
            &env,
            &rsa_id,
            SigningAlgorithmSpec::RsassaPkcs1V15Sha256,
            MessageType::Raw,
            message,
            &signature
        )
        .unwrap()
    );
}

/// Imports PKCS #8 (or HMAC) material into `key` the way AWS documents it
/// for asymmetric keys: RSA_AES_KEY_WRAP_SHA_256 under a 4096-bit wrapping
/// key.
fn import_pkcs8(
    env: &Env,
    key: &str,
    material: &[u8],
) -> KmsResult<keyward::model::ImportKeyMaterialResponse> {
    let algorithm = AlgorithmSpec::RsaAesKeyWrapSha256;
    let parameters = parameters(env, key, algorithm, WrappingKeySpec::Rsa2048)?;
    let wrapped = wrap(&parameters.public_key, algorithm, material);
    import(env, key, parameters.import_token.expose(), &wrapped, None)
}

#[test]
fn asymmetric_keys_take_only_key_wrap_for_import() {
    let env = Env::new();
    let key = create_with(
        &env,
        KeySpec::EccNistP256,
        KeyUsage::SignVerify,
        Some(OriginType::External),
    );
    let refused = parameters(
        &env,
        &key,
        AlgorithmSpec::RsaesOaepSha256,
        WrappingKeySpec::Rsa2048,
    );
    assert_eq!(code(refused), "ValidationException");
}

/// RSA-OAEP: keyward's ciphertexts are plain RSA-OAEP (the rsa crate
/// decrypts them with the key imported), ciphertexts made offline with the
/// public key decrypt in keyward, AWS's limits and refusals hold.
#[test]
fn rsa_oaep_interoperates_and_keeps_aws_s_limits() {
    use rsa::pkcs8::{DecodePublicKey, EncodePrivateKey};
    let env = Env::new();
    let private = rsa::RsaPrivateKey::new(&mut rng(), 2048).unwrap();
    let key = create_with(
        &env,
        KeySpec::Rsa2048,
        KeyUsage::EncryptDecrypt,
        Some(OriginType::External),
    );
    import_pkcs8(&env, &key, private.to_pkcs8_der().unwrap().as_bytes()).unwrap();
    let metadata = env.describe(&key);
    assert_eq!(
        metadata.encryption_algorithms.unwrap(),
        vec![
            EncryptionAlgorithmSpec::RsaesOaepSha1,
            EncryptionAlgorithmSpec::RsaesOaepSha256
        ]
    );
    let public = rsa::RsaPublicKey::from_public_key_der(&public_key(&env, &key)).unwrap();
    let plaintext = b"secret for RSA".as_slice();
    for (algorithm, limit) in [
        (EncryptionAlgorithmSpec::RsaesOaepSha1, 214),
        (EncryptionAlgorithmSpec::RsaesOaepSha256, 190),
    ] {
        let encrypt = |text: &[u8]| {
            env.kms.encrypt(
                &env.caller,
                EncryptRequest {
                    key_id: key.clone(),
                    plaintext: text.to_vec().into(),
                    encryption_algorithm: Some(algorithm),
                    ..Default::default()
                },
            )
        };
        let decrypt = |blob: &[u8]| {
            env.kms.decrypt(
                &env.caller,
                DecryptRequest {
                    ciphertext_blob: blob.to_vec(),
                    key_id: Some(key.clone()),
                    encryption_algorithm: Some(algorithm),
                    ..Default::default()
                },
            )
        };
        let ours = encrypt(plaintext).unwrap();
        assert_eq!(ours.encryption_algorithm, algorithm);
        let theirs = if algorithm == EncryptionAlgorithmSpec::RsaesOaepSha1 {
            let opened = private
                .decrypt(rsa::Oaep::<sha1::Sha1>::new(), &ours.ciphertext_blob)
                .unwrap();
            assert_eq!(opened, plaintext);
            public
                .encrypt(&mut rng(), rsa::Oaep::<sha1::Sha1>::new(), plaintext)
                .unwrap()
        } else {
            let opened = private
                .decrypt(rsa::Oaep::<sha2::Sha256>::new(), &ours.ciphertext_blob)
                .unwrap();
            assert_eq!(opened, plaintext);
            public
                .encrypt(&mut rng(), rsa::Oaep::<sha2::Sha256>::new(), plaintext)
                .unwrap()
        };
        assert_eq!(decrypt(&theirs).unwrap().plaintext.expose(), plaintext);
        encrypt(&vec![1; limit]).unwrap();
        let too_long = encrypt(&vec![1; limit + 1]).unwrap_err();
        assert_eq!(too_long.code(), "ValidationException");
        assert_eq!(
            too_long.to_string(),
            format!(
                "Algorithm {algorithm} and key spec RSA_2048 cannot encrypt data larger than {limit} bytes."
            )
        );
        let mut damaged = theirs.clone();
        damaged[10] ^= 1;
        assert_eq!(code(decrypt(&damaged)), "InvalidCiphertextException");
    }
    // No encryption context, and SYMMETRIC_DEFAULT is not an RSA algorithm.
    let with_context = env.kms.encrypt(
        &env.caller,
        EncryptRequest {
            key_id: key.clone(),
            plaintext: plaintext.to_vec().into(),
            encryption_algorithm: Some(EncryptionAlgorithmSpec::RsaesOaepSha256),
            encryption_context: Some(context(&[("a", "b")])),
            ..Default::default()
        },
    );
    assert_eq!(code(with_context), "ValidationException");
    let symmetric_algorithm = env.kms.encrypt(
        &env.caller,
        EncryptRequest {
            key_id: key.clone(),
            plaintext: plaintext.to_vec().into(),
            ..Default::default()
        },
    );
    assert_eq!(code(symmetric_algorithm), "InvalidKeyUsageException");

    // ReEncrypt from a symmetric key to the RSA key and back.
    let symmetric = env.key();
    let blob = env.encrypt(&symmetric, plaintext, None);
    let to_rsa = env
        .kms
        .re_encrypt(
            &env.caller,
            ReEncryptRequest {
                ciphertext_blob: blob,
                destination_key_id: key.clone(),
                destination_encryption_algorithm: Some(EncryptionAlgorithmSpec::RsaesOaepSha256),
                ..Default::default()
            },
        )
        .unwrap();
    let opened = private
        .decrypt(rsa::Oaep::<sha2::Sha256>::new(), &to_rsa.ciphertext_blob)
        .unwrap();
    assert_eq!(opened, plaintext);
    let back = env
        .kms
        .re_encrypt(
            &env.caller,
            ReEncryptRequest {
                ciphertext_blob: to_rsa.ciphertext_blob,
                source_key_id: Some(key.clone()),
                source_encryption_algorithm: Some(EncryptionAlgorithmSpec::RsaesOaepSha256),
                destination_key_id: symmetric.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    let again = env
        .kms
        .decrypt(
            &env.caller,
            DecryptRequest {
                ciphertext_blob: back.ciphertext_blob,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(again.plaintext.expose(), plaintext);
}

fn mac(env: &Env, key: &str, algorithm: MacAlgorithmSpec, message: &[u8]) -> KmsResult<Vec<u8>> {
    env.kms
        .generate_mac(
            &env.caller,
            GenerateMacRequest {
                key_id: key.to_owned(),
                message: message.to_vec().into(),
                mac_algorithm: Some(algorithm),
                ..Default::default()
            },
        )
        .map(|r| r.mac)
}

fn verify_mac(
    env: &Env,
    key: &str,
    algorithm: MacAlgorithmSpec,
    message: &[u8],
    tag: &[u8],
) -> KmsResult<bool> {
    env.kms
        .verify_mac(
            &env.caller,
            VerifyMacRequest {
                key_id: key.to_owned(),
                message: message.to_vec().into(),
                mac_algorithm: Some(algorithm),
                mac: tag.to_vec(),
                ..Default::default()
            },
        )
        .map(|r| r.mac_valid)
}

/// HMAC keys of every size: a MAC from keyward equals the one the `hmac`
/// crate computes over the same imported key; a wrong MAC or algorithm gets
/// AWS's error.
#[test]
fn hmacs_match_the_hmac_crate_over_imported_keys() {
    use hmac::{KeyInit, Mac};
    let env = Env::new();
    let message = b"message to authenticate".as_slice();
    let specs = [
        (KeySpec::Hmac224, MacAlgorithmSpec::HmacSha224, 28),
        (KeySpec::Hmac256, MacAlgorithmSpec::HmacSha256, 32),
        (KeySpec::Hmac384, MacAlgorithmSpec::HmacSha384, 48),
        (KeySpec::Hmac512, MacAlgorithmSpec::HmacSha512, 64),
    ];
    for (spec, algorithm, length) in specs {
        let generated = create(&env, spec, KeyUsage::GenerateVerifyMac);
        assert_eq!(
            env.describe(&generated).mac_algorithms.unwrap(),
            vec![algorithm]
        );
        let tag = mac(&env, &generated, algorithm, message).unwrap();
        assert!(verify_mac(&env, &generated, algorithm, message, &tag).unwrap());
        assert_eq!(
            code(verify_mac(
                &env,
                &generated,
                algorithm,
                b"another message",
                &tag
            )),
            "KMSInvalidMacException"
        );
        let material = vec![0x5a; length];
        let imported = create_with(
            &env,
            spec,
            KeyUsage::GenerateVerifyMac,
            Some(OriginType::External),
        );
        import_pkcs8(&env, &imported, &material).unwrap();
        let ours = mac(&env, &imported, algorithm, message).unwrap();
        let theirs = match spec {
            KeySpec::Hmac224 => {
                let mut m = hmac::Hmac::<sha2::Sha224>::new_from_slice(&material).unwrap();
                m.update(message);
                m.finalize().into_bytes().to_vec()
            }
            KeySpec::Hmac256 => {
                let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(&material).unwrap();
                m.update(message);
                m.finalize().into_bytes().to_vec()
            }
            KeySpec::Hmac384 => {
                let mut m = hmac::Hmac::<sha2::Sha384>::new_from_slice(&material).unwrap();
                m.update(message);
                m.finalize().into_bytes().to_vec()
            }
            _ => {
                let mut m = hmac::Hmac::<sha2::Sha512>::new_from_slice(&material).unwrap();
                m.update(message);
                m.finalize().into_bytes().to_vec()
            }
        };
        assert_eq!(ours, theirs, "{spec}");
    }
    let key = create(&env, KeySpec::Hmac224, KeyUsage::GenerateVerifyMac);
    let wrong = mac(&env, &key, MacAlgorithmSpec::HmacSha256, message).unwrap_err();
    assert_eq!(wrong.code(), "InvalidKeyUsageException");
    assert_eq!(
        wrong.to_string(),
        "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224."
    );
    // Too short an HMAC key is not the spec's.
    let short = create_with(
        &env,
        KeySpec::Hmac256,
        KeyUsage::GenerateVerifyMac,
        Some(OriginType::External),
    );
    assert_eq!(
        code(import_pkcs8(&env, &short, &[1; 16])),
        "IncorrectKeyMaterialException"
    );
}

/// ECDH: keyward's shared secret equals the one computed locally from the
/// peer's private key and keyward's public key.
#[test]
fn shared_secrets_match_a_local_ecdh() {
    use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
    let env = Env::new();
    let key = create(&env, KeySpec::EccNistP256, KeyUsage::KeyAgreement);
    assert_eq!(
        env.describe(&key).key_agreement_algorithms.unwrap(),
        vec![KeyAgreementAlgorithmSpec::Ecdh]
    );
    let peer = p256::SecretKey::from_slice(&[0x33; 32]).unwrap();
    let peer_public = peer.public_key().to_public_key_der().unwrap();
    let derive = |public: &[u8]| {
        env.kms.derive_shared_secret(
            &env.caller,
            DeriveSharedSecretRequest {
                key_id: key.clone(),
                key_agreement_algorithm: Some(KeyAgreementAlgorithmSpec::Ecdh),
                public_key: public.to_vec(),
                ..Default::default()
            },
        )
    };
    let derived = derive(peer_public.as_bytes()).unwrap();
    let ours = p256::PublicKey::from_public_key_der(&public_key(&env, &key)).unwrap();
    let local = p256::ecdh::diffie_hellman(peer.to_nonzero_scalar(), ours.as_affine());
    assert_eq!(
        derived.shared_secret.expose(),
        local.raw_secret_bytes().as_slice()
    );
    assert_eq!(derived.key_origin, OriginType::AwsKms);

    // Another curve, or bytes that are no key: ValidationException, empty.
    let p384 = p384::SecretKey::from_slice(&[0x44; 48]).unwrap();
    let wrong_curve =
        derive(p384.public_key().to_public_key_der().unwrap().as_bytes()).unwrap_err();
    assert_eq!(
        (wrong_curve.code(), wrong_curve.to_string().as_str()),
        ("ValidationException", "")
    );
    assert_eq!(code(derive(b"not a key")), "ValidationException");
    // A signing key does not agree.
    let signing = create(&env, KeySpec::EccNistP256, KeyUsage::SignVerify);
    let refused = env.kms.derive_shared_secret(
        &env.caller,
        DeriveSharedSecretRequest {
            key_id: signing.clone(),
            key_agreement_algorithm: Some(KeyAgreementAlgorithmSpec::Ecdh),
            public_key: peer_public.as_bytes().to_vec(),
            ..Default::default()
        },
    );
    let error = refused.unwrap_err();
    assert_eq!(error.code(), "InvalidKeyUsageException");
    let arn = env.describe(&signing).arn;
    assert_eq!(
        error.to_string(),
        format!("{arn} key usage is SIGN_VERIFY which is not valid for DeriveSharedSecret.")
    );
}

/// Data key pairs: the private key is PKCS #8 of the public key, and
/// `Decrypt` opens the encrypted copy with the encryption context only.
#[test]
fn data_key_pairs_decrypt_to_their_private_key() {
    use p256::pkcs8::{DecodePrivateKey, EncodePublicKey};
    let env = Env::new();
    let key = env.key();
    let ctx = context(&[("purpose", "pairs")]);
    let pair = env
        .kms
        .generate_data_key_pair(
            &env.caller,
            GenerateDataKeyPairRequest {
                key_id: key.clone(),
                key_pair_spec: Some(DataKeyPairSpec::EccNistP256),
                encryption_context: Some(ctx.clone()),
                ..Default::default()
            },
        )
        .unwrap();
    let private = p256::SecretKey::from_pkcs8_der(pair.private_key_plaintext.expose()).unwrap();
    assert_eq!(
        private.public_key().to_public_key_der().unwrap().as_bytes(),
        pair.public_key.as_slice()
    );
    let opened = env
        .kms
        .decrypt(
            &env.caller,
            DecryptRequest {
                ciphertext_blob: pair.private_key_ciphertext_blob.clone(),
                encryption_context: Some(ctx),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(opened.plaintext, pair.private_key_plaintext);
    let without_context = env.kms.decrypt(
        &env.caller,
        DecryptRequest {
            ciphertext_blob: pair.private_key_ciphertext_blob,
            ..Default::default()
        },
    );
    assert_eq!(code(without_context), "InvalidCiphertextException");

    let without = env
        .kms
        .generate_data_key_pair_without_plaintext(
            &env.caller,
            GenerateDataKeyPairRequest {
                key_id: key.clone(),
                key_pair_spec: Some(DataKeyPairSpec::Rsa2048),
                ..Default::default()
            },
        )
        .unwrap();
    let opened = env
        .kms
        .decrypt(
            &env.caller,
            DecryptRequest {
                ciphertext_blob: without.private_key_ciphertext_blob,
                ..Default::default()
            },
        )
        .unwrap();
    let private = rsa::RsaPrivateKey::from_pkcs8_der(opened.plaintext.expose()).unwrap();
    let public = {
        use rsa::pkcs8::EncodePublicKey;
        rsa::RsaPublicKey::from(&private)
            .to_public_key_der()
            .unwrap()
    };
    assert_eq!(public.as_bytes(), without.public_key.as_slice());

    // DryRun, an asymmetric encrypting key, and the unsupported specs.
    let dry = env.kms.generate_data_key_pair(
        &env.caller,
        GenerateDataKeyPairRequest {
            key_id: key.clone(),
            key_pair_spec: Some(DataKeyPairSpec::EccNistP256),
            dry_run: Some(true),
            ..Default::default()
        },
    );
    assert_eq!(code(dry), "DryRunOperationException");
    let sm2 = env.kms.generate_data_key_pair(
        &env.caller,
        GenerateDataKeyPairRequest {
            key_id: key,
            key_pair_spec: Some(DataKeyPairSpec::Sm2),
            ..Default::default()
        },
    );
    assert_eq!(code(sm2), "UnsupportedOperationException");
}

/// The bad inputs of issue 20, each with AWS's error; the service goes on
/// serving after each.
#[test]
fn bad_input_gets_aws_errors() {
    let env = Env::new();
    let key = create(&env, KeySpec::EccNistP256, KeyUsage::SignVerify);
    let arn = env.describe(&key).arn;
    // A digest of the wrong length.
    let short = sign(
        &env,
        &key,
        SigningAlgorithmSpec::EcdsaSha256,
        MessageType::Digest,
        &[0; 31],
    )
    .unwrap_err();
    assert_eq!(
        (short.code(), short.to_string()),
        (
            "ValidationException",
            "Digest is invalid length for algorithm ECDSA_SHA_256.".to_owned()
        )
    );
    // A message over 4096 bytes.
    let long = sign(
        &env,
        &key,
        SigningAlgorithmSpec::EcdsaSha256,
        MessageType::Raw,
        &[0; 4097],
    );
    assert_eq!(code(long), "ValidationException");
    // The wrong algorithm for the spec.
    let wrong = sign(
        &env,
        &key,
        SigningAlgorithmSpec::EcdsaSha384,
        MessageType::Raw,
        b"m",
    )
    .unwrap_err();
    assert_eq!(
        (wrong.code(), wrong.to_string()),
        (
            "InvalidKeyUsageException",
            "Algorithm ECDSA_SHA_384 is incompatible with key spec ECC_NIST_P256.".to_owned()
        )
    );
    // A missing algorithm.
    let missing = env.kms.sign(
        &env.caller,
        SignRequest {
            key_id: key.clone(),
            message: b"m".to_vec().into(),
            ..Default::default()
        },
    );
    assert_eq!(code(missing), "ValidationException");
    // Encrypt on a SIGN_VERIFY key.
    let encrypt = env.kms.encrypt(
        &env.caller,
        EncryptRequest {
            key_id: key.clone(),
            plaintext: b"x".to_vec().into(),
            ..Default::default()
        },
    );
    let encrypt = encrypt.unwrap_err();
    assert_eq!(
        (encrypt.code(), encrypt.to_string()),
        (
            "InvalidKeyUsageException",
            format!("{arn} key usage is SIGN_VERIFY which is not valid for Encrypt.")
        )
    );
    // GetPublicKey on an HMAC key, and on a symmetric one.
    let hmac = create(&env, KeySpec::Hmac256, KeyUsage::GenerateVerifyMac);
    for no_public in [hmac.clone(), env.key()] {
        let got = env.kms.get_public_key(
            &env.caller,
            GetPublicKeyRequest {
                key_id: no_public,
                ..Default::default()
            },
        );
        assert_eq!(code(got), "UnsupportedOperationException");
    }
    // Sign with an HMAC key; GenerateMac with a signing key.
    let hmac_arn = env.describe(&hmac).arn;
    let sign_hmac = sign(
        &env,
        &hmac,
        SigningAlgorithmSpec::EcdsaSha256,
        MessageType::Raw,
        b"m",
    )
    .unwrap_err();
    assert_eq!(
        sign_hmac.to_string(),
        format!("{hmac_arn} key usage is GENERATE_VERIFY_MAC which is not valid for Sign.")
    );
    assert_eq!(
        code(mac(&env, &key, MacAlgorithmSpec::HmacSha256, b"m")),
        "InvalidKeyUsageException"
    );
    // Sign on a disabled key.
    env.kms.disable_key(&env.caller, key_id(&key)).unwrap();
    let disabled = sign(
        &env,
        &key,
        SigningAlgorithmSpec::EcdsaSha256,
        MessageType::Raw,
        b"m",
    );
    assert_eq!(code(disabled), "DisabledException");
    env.kms.enable_key(&env.caller, key_id(&key)).unwrap();
    assert!(
        sign(
            &env,
            &key,
            SigningAlgorithmSpec::EcdsaSha256,
            MessageType::Raw,
            b"m"
        )
        .is_ok()
    );
    // Specs and usages AWS does not allow together, and a missing usage.
    let create_error = |spec, usage| {
        env.kms
            .create_key(
                &env.caller,
                CreateKeyRequest {
                    key_spec: Some(spec),
                    key_usage: usage,
                    ..Default::default()
                },
            )
            .unwrap_err()
    };
    let agreement = create_error(KeySpec::Rsa2048, Some(KeyUsage::KeyAgreement));
    assert_eq!(
        (agreement.code(), agreement.to_string()),
        (
            "ValidationException",
            "KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048".to_owned()
        )
    );
    let no_usage = create_error(KeySpec::Hmac256, None);
    assert_eq!(
        no_usage.to_string(),
        "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."
    );
    for unsupported in [KeySpec::Sm2, KeySpec::MlDsa65, KeySpec::MlKem768] {
        let usage = unsupported.usages()[0];
        assert_eq!(
            create_error(unsupported, Some(usage)).code(),
            "UnsupportedOperationException"
        );
    }
    // Asymmetric and HMAC keys do not rotate.
    for no_rotation in [key.clone(), hmac] {
        let rotation = env.kms.enable_key_rotation(
            &env.caller,
            EnableKeyRotationRequest {
                key_id: no_rotation,
                ..Default::default()
            },
        );
        assert_eq!(code(rotation), "UnsupportedOperationException");
    }
    // The service still serves.
    let blob = env.encrypt(&env.key(), b"still serving", None);
    assert!(!blob.is_empty());
}

/// Grants allow the new operations to their grantee, and nothing else.
#[test]
fn grants_allow_signing_to_their_grantee() {
    let env = Env::new();
    let key = create(&env, KeySpec::EccNistP256, KeyUsage::SignVerify);
    let grantee = user(crate::support::ACCOUNT, "signer");
    let sign_as = |caller: &keyward::Caller| {
        env.kms.sign(
            caller,
            SignRequest {
                key_id: key.clone(),
                message: b"m".to_vec().into(),
                signing_algorithm: Some(SigningAlgorithmSpec::EcdsaSha256),
                ..Default::default()
            },
        )
    };
    assert_eq!(code(sign_as(&grantee)), "AccessDeniedException");
    env.kms
        .create_grant(
            &env.caller,
            CreateGrantRequest {
                key_id: key.clone(),
                grantee_principal: grantee.principal.arn().to_owned(),
                operations: vec![GrantOperation::Sign, GrantOperation::GetPublicKey],
                ..Default::default()
            },
        )
        .unwrap();
    let signed = sign_as(&grantee).unwrap();
    assert!(!signed.signature.is_empty());
    let verify_as = env.kms.verify(
        &grantee,
        VerifyRequest {
            key_id: key.clone(),
            message: b"m".to_vec().into(),
            signature: signed.signature,
            signing_algorithm: Some(SigningAlgorithmSpec::EcdsaSha256),
            ..Default::default()
        },
    );
    assert_eq!(code(verify_as), "AccessDeniedException");
}

/// Custody: private keys, HMAC keys and the private halves of data key
/// pairs never reach the data directory in the clear; the scan finds the
/// revealed material if planted.
#[test]
fn private_and_hmac_keys_never_reach_the_data_directory() {
    let env = Env::new();
    let mut secrets = Vec::new();
    for (spec, usage) in [
        (KeySpec::Rsa2048, KeyUsage::SignVerify),
        (KeySpec::EccNistP256, KeyUsage::KeyAgreement),
        (KeySpec::EccNistP521, KeyUsage::SignVerify),
        (KeySpec::EccSecgP256k1, KeyUsage::SignVerify),
        (KeySpec::EccNistEdwards25519, KeyUsage::SignVerify),
        (KeySpec::Hmac512, KeyUsage::GenerateVerifyMac),
    ] {
        let key = create(&env, spec, usage);
        let material = env
            .kms
            .testing()
            .reveal_backing_key(REGION, &key, 1)
            .unwrap();
        secrets.push(secret_part(spec, &material));
        if spec == KeySpec::EccNistEdwards25519 {
            let _ = sign(
                &env,
                &key,
                SigningAlgorithmSpec::Ed25519Sha512,
                MessageType::Raw,
                b"m",
            )
            .unwrap();
        }
    }
    let symmetric = env.key();
    for spec in [DataKeyPairSpec::EccNistP384, DataKeyPairSpec::Rsa2048] {
        let pair = env
            .kms
            .generate_data_key_pair(
                &env.caller,
                GenerateDataKeyPairRequest {
                    key_id: symmetric.clone(),
                    key_pair_spec: Some(spec),
                    ..Default::default()
                },
            )
            .unwrap();
        secrets.push(secret_part(
            spec.key_spec(),
            pair.private_key_plaintext.expose(),
        ));
        // The whole PKCS #8 document too, in the clear and in base64.
        secrets.push(pair.private_key_plaintext.expose().to_vec());
    }
    let files = env.data_dir_bytes();
    for secret in &secrets {
        assert!(secret.len() >= 28);
        assert!(
            !contains(&files, secret),
            "a private key is in the data directory"
        );
        let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, secret);
        assert!(
            !contains(&files, encoded.as_bytes()),
            "a private key's base64 is in the data directory"
        );
    }
    // And once the service is closed (its WAL checkpointed).
    let Env { dir, kms, .. } = env;
    drop(kms);
    let data_dir = crate::support::data_dir(dir.path());
    let closed = crate::support::dir_bytes(&data_dir);
    for secret in &secrets {
        assert!(
            !contains(&closed, secret),
            "closed: a private key is in the data directory"
        );
    }
    // The scan would find a secret if it were there.
    std::fs::write(data_dir.join("planted"), &secrets[0]).unwrap();
    assert!(contains(&crate::support::dir_bytes(&data_dir), &secrets[0]));
}

/// The secret itself inside revealed material (PKCS #8 also holds the
/// public key, which is stored in the clear on purpose): the private
/// scalar, seed or exponent, or the HMAC key.
fn secret_part(spec: KeySpec, material: &[u8]) -> Vec<u8> {
    use p256::pkcs8::DecodePrivateKey;
    match spec {
        KeySpec::EccNistP256 => p256::SecretKey::from_pkcs8_der(material)
            .unwrap()
            .to_bytes()
            .to_vec(),
        KeySpec::EccNistP384 => p384::SecretKey::from_pkcs8_der(material)
            .unwrap()
            .to_bytes()
            .to_vec(),
        KeySpec::EccNistP521 => p521::SecretKey::from_pkcs8_der(material)
            .unwrap()
            .to_bytes()
            .to_vec(),
        KeySpec::EccSecgP256k1 => k256::SecretKey::from_pkcs8_der(material)
            .unwrap()
            .to_bytes()
            .to_vec(),
        KeySpec::EccNistEdwards25519 => ed25519_dalek::SigningKey::from_pkcs8_der(material)
            .unwrap()
            .to_bytes()
            .to_vec(),
        spec if spec.is_rsa() => {
            use rsa::traits::PrivateKeyParts;
            rsa::RsaPrivateKey::from_pkcs8_der(material)
                .unwrap()
                .d()
                .to_be_bytes()
                .to_vec()
        }
        _ => material.to_vec(),
    }
}

/// The audit trail records the new operations in CloudTrail's shape, with
/// their algorithms, and no signature, MAC, shared secret or private key.
#[test]
fn the_trail_records_the_new_operations_without_their_secrets() {
    use base64::Engine as _;
    use keyward::audit::query::Filter;
    let env = Env::new();
    let signing = create(&env, KeySpec::EccNistP256, KeyUsage::SignVerify);
    let signature = sign(
        &env,
        &signing,
        SigningAlgorithmSpec::EcdsaSha256,
        MessageType::Raw,
        b"audited message",
    )
    .unwrap();
    let hmac = create(&env, KeySpec::Hmac256, KeyUsage::GenerateVerifyMac);
    let tag = mac(
        &env,
        &hmac,
        MacAlgorithmSpec::HmacSha256,
        b"audited message",
    )
    .unwrap();
    let agreement = create(&env, KeySpec::EccNistP256, KeyUsage::KeyAgreement);
    let peer = {
        use p256::pkcs8::EncodePublicKey;
        p256::SecretKey::from_slice(&[0x55; 32])
            .unwrap()
            .public_key()
            .to_public_key_der()
            .unwrap()
    };
    let secret = env
        .kms
        .derive_shared_secret(
            &env.caller,
            DeriveSharedSecretRequest {
                key_id: agreement,
                key_agreement_algorithm: Some(KeyAgreementAlgorithmSpec::Ecdh),
                public_key: peer.as_bytes().to_vec(),
                ..Default::default()
            },
        )
        .unwrap();
    let pair = env
        .kms
        .generate_data_key_pair(
            &env.caller,
            GenerateDataKeyPairRequest {
                key_id: env.key(),
                key_pair_spec: Some(DataKeyPairSpec::EccNistP256),
                ..Default::default()
            },
        )
        .unwrap();
    let events = env
        .kms
        .query_audit(&env.caller, None, Filter::default())
        .unwrap();
    let named = |name: &str| {
        events
            .iter()
            .find(|e| e["eventName"] == name)
            .unwrap_or_else(|| panic!("no {name} event"))
            .clone()
    };
    let signed = named("Sign");
    assert_eq!(
        signed["requestParameters"]["signingAlgorithm"],
        "ECDSA_SHA_256"
    );
    assert_eq!(signed["requestParameters"]["messageType"], "RAW");
    assert!(signed["requestParameters"].get("message").is_none());
    assert_eq!(signed["resources"][0]["ARN"], env.describe(&signing).arn);
    assert_eq!(
        named("GenerateMac")["requestParameters"]["macAlgorithm"],
        "HMAC_SHA_256"
    );
    assert_eq!(
        named("GenerateDataKeyPair")["requestParameters"]["keyPairSpec"],
        "ECC_NIST_P256"
    );
    assert_eq!(
        named("DeriveSharedSecret")["requestParameters"]["keyAgreementAlgorithm"],
        "ECDH"
    );
    let trail = serde_json::to_vec(&events).unwrap();
    let secrets = [
        signature,
        tag,
        secret.shared_secret.expose().to_vec(),
        pair.private_key_plaintext.expose().to_vec(),
    ];
    for secret in &secrets {
        assert!(!contains(&trail, secret));
        let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
        assert!(!contains(&trail, encoded.as_bytes()));
    }
    assert!(
        contains(&trail, b"ECDSA_SHA_256"),
        "the scan reads the trail"
    );
}

/// With keys prepared ahead (as `keyward serve` does by default), RSA keys
/// and RSA data key pairs come from the prepared ones, and work as any.
#[test]
fn prepared_rsa_keys_become_keys_and_key_pairs() {
    let env = Env::with_config(|config| config.core.prepared_rsa_keys = 1);
    let testing = env.kms.testing();
    let wait_for_2048 = || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        while testing.prepared_rsa_keys_ready(KeySpec::Rsa2048) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "no RSA_2048 key was prepared"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    wait_for_2048();
    assert_eq!(testing.prepared_rsa_keys_taken(), 0);
    let key = create(&env, KeySpec::Rsa2048, KeyUsage::SignVerify);
    assert_eq!(testing.prepared_rsa_keys_taken(), 1);
    let public = public_key(&env, &key);
    let message = b"signed with a prepared key";
    let signature = sign(
        &env,
        &key,
        SigningAlgorithmSpec::RsassaPssSha256,
        MessageType::Raw,
        message,
    )
    .unwrap();
    assert!(independently_verified(
        KeySpec::Rsa2048,
        &public,
        SigningAlgorithmSpec::RsassaPssSha256,
        message,
        &signature
    ));
    wait_for_2048();
    let pair = env
        .kms
        .generate_data_key_pair(
            &env.caller,
            GenerateDataKeyPairRequest {
                key_id: env.key(),
                key_pair_spec: Some(DataKeyPairSpec::Rsa2048),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(testing.prepared_rsa_keys_taken(), 2);
    assert_ne!(pair.public_key, public, "each prepared key is used once");
}

/// A grant allows only what its key supports, and constrains the encryption
/// context only of symmetric encryption keys (AWS's ValidationException).
#[test]
fn grants_allow_only_what_the_key_supports() {
    let env = Env::new();
    let grantee = format!("arn:aws:iam::{}:role/app", crate::support::ACCOUNT);
    let grant = |key: &str, operations: Vec<GrantOperation>, constrained: bool| {
        env.kms.create_grant(
            &env.caller,
            CreateGrantRequest {
                key_id: key.to_owned(),
                grantee_principal: grantee.clone(),
                operations,
                constraints: constrained.then(|| keyward::model::GrantConstraints {
                    encryption_context_subset: Some(context(&[("a", "b")])),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
    };
    let symmetric = env.key();
    let signing = create(&env, KeySpec::EccNistP256, KeyUsage::SignVerify);
    let hmac = create(&env, KeySpec::Hmac256, KeyUsage::GenerateVerifyMac);
    assert_eq!(
        code(grant(&symmetric, vec![GrantOperation::Sign], false)),
        "ValidationException"
    );
    assert_eq!(
        code(grant(&signing, vec![GrantOperation::Encrypt], false)),
        "ValidationException"
    );
    assert_eq!(
        code(grant(&hmac, vec![GrantOperation::GetPublicKey], false)),
        "ValidationException"
    );
    assert_eq!(
        code(grant(&signing, vec![GrantOperation::Sign], true)),
        "ValidationException"
    );
    grant(&symmetric, vec![GrantOperation::GenerateDataKeyPair], true).unwrap();
    assert!(
        grant(
            &signing,
            vec![GrantOperation::Sign, GrantOperation::GetPublicKey],
            false
        )
        .is_ok()
    );
    assert!(
        grant(
            &hmac,
            vec![GrantOperation::GenerateMac, GrantOperation::DescribeKey],
            false
        )
        .is_ok()
    );
}

/// A signature made outside keyward, with a known key imported into it,
/// verifies in keyward: every signing spec, every algorithm AWS lists for it.
#[test]
fn signatures_made_outside_verify_in_keyward_for_every_spec_and_algorithm() {
    use SigningAlgorithmSpec as S;
    use p256::pkcs8::EncodePrivateKey;
    use signature::{RandomizedSigner, SignatureEncoding, Signer};
    type SignOutside = Box<dyn Fn(SigningAlgorithmSpec, &[u8]) -> Vec<u8>>;
    let env = Env::new();
    let p256 = p256::ecdsa::SigningKey::from_slice(&[0x11; 32]).unwrap();
    let p384 = p384::ecdsa::SigningKey::from_slice(&[0x12; 48]).unwrap();
    let p521 = p521::ecdsa::SigningKey::from_slice(&[0x01; 66]).unwrap();
    let k256 = k256::ecdsa::SigningKey::from_slice(&[0x13; 32]).unwrap();
    let ed25519 = ed25519_dalek::SigningKey::from_bytes(&[0x14; 32]);
    let rsa_key = rsa::RsaPrivateKey::new(&mut rng(), 2048).unwrap();
    let keys: Vec<(KeySpec, Vec<u8>, SignOutside)> = vec![
        (
            KeySpec::EccNistP256,
            p256.to_pkcs8_der().unwrap().as_bytes().to_vec(),
            {
                let key = p256.clone();
                Box::new(move |_, m: &[u8]| {
                    let s: p256::ecdsa::DerSignature = key.sign(m);
                    s.to_vec()
                })
            },
        ),
        (
            KeySpec::EccNistP384,
            p384.to_pkcs8_der().unwrap().as_bytes().to_vec(),
            {
                let key = p384.clone();
                Box::new(move |_, m: &[u8]| {
                    let s: p384::ecdsa::DerSignature = key.sign(m);
                    s.to_vec()
                })
            },
        ),
        (
            KeySpec::EccNistP521,
            p521.to_pkcs8_der().unwrap().as_bytes().to_vec(),
            {
                let key = p521.clone();
                Box::new(move |_, m: &[u8]| {
                    let s: p521::ecdsa::DerSignature = key.sign(m);
                    s.to_vec()
                })
            },
        ),
        (
            KeySpec::EccSecgP256k1,
            k256.to_pkcs8_der().unwrap().as_bytes().to_vec(),
            {
                let key = k256.clone();
                Box::new(move |_, m: &[u8]| {
                    let s: k256::ecdsa::Signature = key.sign(m);
                    s.to_der().as_bytes().to_vec()
                })
            },
        ),
        (
            KeySpec::EccNistEdwards25519,
            ed25519.to_pkcs8_der().unwrap().as_bytes().to_vec(),
            {
                let key = ed25519.clone();
                Box::new(move |algorithm, m: &[u8]| match algorithm {
                    S::Ed25519Sha512 => key.sign(m).to_bytes().to_vec(),
                    _ => {
                        let mut prehash = sha2::Sha512::new();
                        prehash.update(m);
                        key.sign_prehashed(prehash, None)
                            .unwrap()
                            .to_bytes()
                            .to_vec()
                    }
                })
            },
        ),
        (
            KeySpec::Rsa2048,
            rsa_key.to_pkcs8_der().unwrap().as_bytes().to_vec(),
            {
                let key = rsa_key.clone();
                Box::new(move |algorithm, m: &[u8]| {
                    let key = key.clone();
                    macro_rules! pss {
                        ($d:ty) => {
                            rsa::pss::SigningKey::<$d>::new(key)
                                .sign_with_rng(&mut rng(), m)
                                .to_vec()
                        };
                    }
                    macro_rules! pkcs1 {
                        ($d:ty) => {
                            rsa::pkcs1v15::SigningKey::<$d>::new(key).sign(m).to_vec()
                        };
                    }
                    match algorithm {
                        S::RsassaPssSha256 => pss!(sha2::Sha256),
                        S::RsassaPssSha384 => pss!(sha2::Sha384),
                        S::RsassaPssSha512 => pss!(sha2::Sha512),
                        S::RsassaPkcs1V15Sha256 => pkcs1!(sha2::Sha256),
                        S::RsassaPkcs1V15Sha384 => pkcs1!(sha2::Sha384),
                        _ => pkcs1!(sha2::Sha512),
                    }
                })
            },
        ),
    ];
    let message = b"signed outside, verified inside".as_slice();
    let mut checked = 0;
    for (spec, der, sign_outside) in keys {
        let key = create_with(&env, spec, KeyUsage::SignVerify, Some(OriginType::External));
        import_pkcs8(&env, &key, &der).unwrap();
        for &algorithm in spec.signing_algorithms() {
            let signature = sign_outside(algorithm, message);
            let (message_type, input) = if algorithm == S::Ed25519PhSha512 {
                (MessageType::Digest, digest_of(algorithm, message))
            } else {
                (MessageType::Raw, message.to_vec())
            };
            let verified = verify(&env, &key, algorithm, message_type, &input, &signature);
            assert_eq!(
                verified.map_err(|e| e.code()),
                Ok(true),
                "{spec} {algorithm}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 6 + 1 + 1 + 1 + 1 + 2);
}
