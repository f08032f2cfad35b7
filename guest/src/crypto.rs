//! The pure cryptography of the crypto core: no WASI, no global state.
//!
//! Every function here takes its randomness as an argument, so the same code
//! runs inside the component and natively under `cargo test`, where it is
//! checked against known-answer vectors.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Length of every symmetric key the core uses (AES-256).
pub const KEY_LEN: usize = 32;
/// Length of the per-message HKDF salt.
pub const SALT_LEN: usize = 32;
/// Length of the key-commitment value stored in each ciphertext body.
pub const COMMITMENT_LEN: usize = 32;
/// Length of a GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Length of a GCM tag.
pub const TAG_LEN: usize = 16;
/// Bytes a ciphertext body adds to its plaintext.
pub const BODY_OVERHEAD: usize = SALT_LEN + COMMITMENT_LEN + TAG_LEN;
/// Largest plaintext `seal_message` accepts (AWS KMS's Encrypt limit).
pub const MAX_PLAINTEXT: usize = 4096;

/// Version byte of the blobs this module writes under a wrapping key.
const WRAP_VERSION: u8 = 1;
/// Length of a wrapped blob: version, nonce, key, tag.
const WRAPPED_LEN: usize = 1 + NONCE_LEN + KEY_LEN + TAG_LEN;

/// HKDF `info` strings. Distinct labels make the message key and the
/// commitment independent outputs of the same extraction.
const INFO_MESSAGE_KEY: &[u8] = b"keyward/v1/message-key";
const INFO_COMMITMENT: &[u8] = b"keyward/v1/commitment";
/// HKDF `info` of the audit digest key, derived from the domain key so that
/// only an instance holding the domain key can seal or check a digest.
const INFO_AUDIT_DIGEST: &[u8] = b"keyward/v1/audit-digest";
/// Associated-data prefixes for the two uses of the wrapping format.
const AAD_DOMAIN_KEY: &[u8] = b"keyward/v1/domain-key";
const AAD_BACKING_KEY: &[u8] = b"keyward/v1/backing-key:";

/// An AES-256 key. Zeroized on drop; its `Debug` prints no bytes.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; KEY_LEN]);

impl SecretKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Copies a key from a slice, refusing any length but [`KEY_LEN`].
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let array: [u8; KEY_LEN] = bytes.try_into().ok()?;
        Some(Self(array))
    }

    /// The raw key bytes.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey").finish_non_exhaustive()
    }
}

/// The one failure of this module: authentication or framing failed. It says
/// nothing about which check failed, on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opaque;

/// AES-256-GCM encryption. Returns `ciphertext || tag`.
///
/// Fails only for inputs beyond GCM's limits (2^36 bytes), which no caller
/// comes near.
pub fn gcm_seal(
    key: &SecretKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, Opaque> {
    let cipher = Aes256Gcm::new(key.expose().into());
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(*nonce), aad, out.as_mut_slice().into())
        .map_err(|_| Opaque)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// AES-256-GCM decryption of `ciphertext || tag`.
pub fn gcm_open(
    key: &SecretKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Opaque> {
    let split = sealed.len().checked_sub(TAG_LEN).ok_or(Opaque)?;
    let (ciphertext, tag) = sealed.split_at(split);
    let tag = Tag::try_from(tag).map_err(|_| Opaque)?;
    let cipher = Aes256Gcm::new(key.expose().into());
    let mut out = Zeroizing::new(ciphertext.to_vec());
    cipher
        .decrypt_inout_detached(&Nonce::from(*nonce), aad, out.as_mut_slice().into(), &tag)
        .map_err(|_| Opaque)?;
    Ok(out)
}

/// Seals `secret` under `wrapping_key`, binding `aad`.
///
/// Layout: `version(1) || nonce(12) || AES-256-GCM(secret) || tag(16)`. The
/// nonce is random: a wrapping key seals few secrets (one per key version or
/// import), far below the 2^32 random-nonce bound for GCM.
pub(crate) fn seal_secret(
    wrapping_key: &SecretKey,
    aad: &[u8],
    secret: &[u8],
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>, Opaque> {
    let mut out = Vec::with_capacity(1 + NONCE_LEN + secret.len() + TAG_LEN);
    out.push(WRAP_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&gcm_seal(wrapping_key, &nonce, aad, secret)?);
    Ok(out)
}

/// Opens a blob made by [`seal_secret`] under the same wrapping key and `aad`.
pub(crate) fn open_secret(
    wrapping_key: &SecretKey,
    aad: &[u8],
    blob: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Opaque> {
    let (&version, rest) = blob.split_first().ok_or(Opaque)?;
    if version != WRAP_VERSION || rest.len() < NONCE_LEN + TAG_LEN {
        return Err(Opaque);
    }
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Opaque)?;
    gcm_open(wrapping_key, &nonce, aad, sealed)
}

/// Wraps `key` under `wrapping_key`, binding `aad` (a [`seal_secret`] blob
/// of exactly one key).
fn wrap(
    wrapping_key: &SecretKey,
    aad: &[u8],
    key: &SecretKey,
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>, Opaque> {
    seal_secret(wrapping_key, aad, key.expose(), nonce)
}

/// Opens a blob made by [`wrap`] under the same wrapping key and `aad`.
fn unwrap(wrapping_key: &SecretKey, aad: &[u8], blob: &[u8]) -> Result<SecretKey, Opaque> {
    if blob.len() != WRAPPED_LEN {
        return Err(Opaque);
    }
    SecretKey::from_slice(&open_secret(wrapping_key, aad, blob)?).ok_or(Opaque)
}

/// Seals a domain key under the operator's master key.
pub fn seal_domain_key(
    master: &SecretKey,
    domain: &SecretKey,
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>, Opaque> {
    wrap(master, AAD_DOMAIN_KEY, domain, nonce)
}

/// Opens a domain key sealed by [`seal_domain_key`].
pub fn open_domain_key(master: &SecretKey, sealed: &[u8]) -> Result<SecretKey, Opaque> {
    unwrap(master, AAD_DOMAIN_KEY, sealed)
}

fn backing_key_aad(label: &[u8]) -> Vec<u8> {
    [AAD_BACKING_KEY, label].concat()
}

/// Wraps backing key material under the domain key, bound to `label`.
pub fn wrap_backing_key(
    domain: &SecretKey,
    label: &[u8],
    key: &SecretKey,
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>, Opaque> {
    wrap(domain, &backing_key_aad(label), key, nonce)
}

/// Opens backing key material wrapped by [`wrap_backing_key`] with the same
/// label.
pub fn unwrap_backing_key(
    domain: &SecretKey,
    label: &[u8],
    blob: &[u8],
) -> Result<SecretKey, Opaque> {
    unwrap(domain, &backing_key_aad(label), blob)
}

/// A key derived from the domain key for one purpose: HKDF-SHA256 with no
/// salt (the domain key is already uniformly random) and the purpose's
/// `info`.
pub fn domain_subkey(domain: &SecretKey, info: &[u8]) -> SecretKey {
    let hkdf = Hkdf::<Sha256>::new(None, domain.expose());
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    // INVARIANT: HKDF-SHA256 expands up to 255 * 32 bytes; 32 never fails.
    let _ = hkdf.expand(info, key.as_mut_slice());
    SecretKey::from_bytes(*key)
}

/// The key that MACs audit digests.
pub fn audit_digest_key(domain: &SecretKey) -> SecretKey {
    domain_subkey(domain, INFO_AUDIT_DIGEST)
}

/// HMAC-SHA256 of an audit digest under the audit digest key.
pub fn seal_digest(key: &SecretKey, message: &[u8]) -> Result<Vec<u8>, Opaque> {
    use hmac::{KeyInit, Mac};
    // HMAC accepts keys of any length, so this never fails in practice.
    let mut mac =
        <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key.expose()).map_err(|_| Opaque)?;
    mac.update(message);
    Ok(mac.finalize().into_bytes().to_vec())
}

/// Whether `tag` is the MAC of `message`, compared in constant time.
pub fn check_digest(key: &SecretKey, message: &[u8], tag: &[u8]) -> Result<bool, Opaque> {
    Ok(bool::from(seal_digest(key, message)?.as_slice().ct_eq(tag)))
}

/// The two values HKDF derives for one message.
struct MessageKeys {
    key: SecretKey,
    commitment: Zeroizing<[u8; COMMITMENT_LEN]>,
}

fn derive_message_keys(backing: &SecretKey, salt: &[u8; SALT_LEN]) -> MessageKeys {
    let hkdf = Hkdf::<Sha256>::new(Some(salt), backing.expose());
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    let mut commitment = Zeroizing::new([0u8; COMMITMENT_LEN]);
    // INVARIANT: HKDF-SHA256 expands up to 255 * 32 bytes; 32 never fails.
    let _ = hkdf.expand(INFO_MESSAGE_KEY, key.as_mut_slice());
    let _ = hkdf.expand(INFO_COMMITMENT, commitment.as_mut_slice());
    MessageKeys {
        key: SecretKey::from_bytes(*key),
        commitment,
    }
}

/// The nonce of every message. Each message key is derived from a fresh
/// random 256-bit salt and encrypts exactly one message, so a fixed nonce
/// never repeats under one key; random-nonce limits do not apply.
const MESSAGE_NONCE: [u8; NONCE_LEN] = [0; NONCE_LEN];

/// Encrypts one message under backing key material.
///
/// Body layout: `salt(32) || commitment(32) || ciphertext || tag(16)`.
pub fn seal_message(
    backing: &SecretKey,
    salt: [u8; SALT_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, Opaque> {
    let keys = derive_message_keys(backing, &salt);
    let mut body = Vec::with_capacity(plaintext.len() + BODY_OVERHEAD);
    body.extend_from_slice(&salt);
    body.extend_from_slice(keys.commitment.as_slice());
    body.extend_from_slice(&gcm_seal(&keys.key, &MESSAGE_NONCE, aad, plaintext)?);
    Ok(body)
}

/// Decrypts a body made by [`seal_message`]. The commitment is checked in
/// constant time before GCM runs, so a body cannot open under two keys.
pub fn open_message(
    backing: &SecretKey,
    aad: &[u8],
    body: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Opaque> {
    if body.len() < BODY_OVERHEAD {
        return Err(Opaque);
    }
    let (salt, rest) = body.split_at(SALT_LEN);
    let (commitment, sealed) = rest.split_at(COMMITMENT_LEN);
    let salt: &[u8; SALT_LEN] = salt.try_into().map_err(|_| Opaque)?;
    let keys = derive_message_keys(backing, salt);
    if !bool::from(keys.commitment.as_slice().ct_eq(commitment)) {
        return Err(Opaque);
    }
    gcm_open(&keys.key, &MESSAGE_NONCE, aad, sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    fn key(s: &str) -> SecretKey {
        SecretKey::from_slice(&h(s)).unwrap()
    }

    /// NIST CAVP GCM test vectors, file `gcmEncryptExtIV256.rsp` from
    /// gcmtestvectors.zip (Keylen = 256, IVlen = 96, Taglen = 128):
    /// (key, iv, pt, aad, ct, tag).
    const GCM_ENCRYPT_EXT_IV256: &[(&str, &str, &str, &str, &str, &str)] = &[
        // [PTlen = 128] [AADlen = 0] Count = 0
        (
            "31bdadd96698c204aa9ce1448ea94ae1fb4a9a0b3c9d773b51bb1822666b8f22",
            "0d18e06c7c725ac9e362e1ce",
            "2db5168e932556f8089a0622981d017d",
            "",
            "fa4362189661d163fcd6a56d8bf0405a",
            "d636ac1bbedd5cc3ee727dc2ab4a9489",
        ),
        // [PTlen = 104] [AADlen = 0] Count = 0
        (
            "e5a0eb92cc2b064e1bc80891faf1fab5e9a17a9c3a984e25416720e30e6c2b21",
            "4742357c335913153ff0eb0f",
            "8499893e16b0ba8b007d54665a",
            "",
            "eb8e6175f1fe38eb1acf95fd51",
            "88a8b74bb74fda553e91020a23deed45",
        ),
        // [PTlen = 256] [AADlen = 0] Count = 0
        (
            "37f39137416bafde6f75022a7a527cc593b6000a83ff51ec04871a0ff5360e4e",
            "a291484c3de8bec6b47f525f",
            "fafd94cede8b5a0730394bec68a8e77dba288d6ccaa8e1563a81d6e7ccc7fc97",
            "",
            "44dc868006b21d49284016565ffb3979cc4271d967628bf7cdaf86db888e92e5",
            "01a2b578aa2f41ec6379a44a31cc019c",
        ),
        // [PTlen = 408] [AADlen = 0] Count = 0
        (
            "595f259c55abe00ae07535ca5d9b09d6efb9f7e9abb64605c337acbd6b14fc7e",
            "92f258071d79af3e63672285",
            "a6fee33eb110a2d769bbc52b0f36969c287874f665681477a25fc4c48015c541fbe2394133ba490a34ee2dd67b898177849a91",
            "",
            "bbca4a9e09ae9690c0f6f8d405e53dccd666aa9c5fa13c8758bc30abe1ddd1bcce0d36a1eaaaaffef20cd3c5970b9673f8a65c",
            "26ccecb9976fd6ac9c2c0f372c52c821",
        ),
        // [PTlen = 128] [AADlen = 128] Count = 0
        (
            "92e11dcdaa866f5ce790fd24501f92509aacf4cb8b1339d50c9c1240935dd08b",
            "ac93a1a6145299bde902f21a",
            "2d71bcfa914e4ac045b2aa60955fad24",
            "1e0889016f67601c8ebea4943bc23ad6",
            "8995ae2e6df3dbf96fac7b7137bae67f",
            "eca5aa77d51d4a0a14d9c51e1da474ab",
        ),
    ];

    #[test]
    fn gcm_matches_nist_gcm_encrypt_ext_iv256() {
        for (k, iv, pt, aad, ct, tag) in GCM_ENCRYPT_EXT_IV256 {
            let k = key(k);
            let iv: [u8; NONCE_LEN] = h(iv).try_into().unwrap();
            let sealed = gcm_seal(&k, &iv, &h(aad), &h(pt)).unwrap();
            assert_eq!(hex::encode(&sealed), format!("{ct}{tag}"));
            let opened = gcm_open(&k, &iv, &h(aad), &sealed).unwrap();
            assert_eq!(opened.as_slice(), h(pt).as_slice());
        }
    }

    #[test]
    fn gcm_open_refuses_every_single_bit_flip() {
        let (k, iv, pt, aad, ct, tag) = GCM_ENCRYPT_EXT_IV256[4];
        let k = key(k);
        let iv: [u8; NONCE_LEN] = h(iv).try_into().unwrap();
        let sealed = h(&format!("{ct}{tag}"));
        assert_eq!(
            gcm_open(&k, &iv, &h(aad), &sealed).unwrap().as_slice(),
            h(pt).as_slice()
        );
        for bit in 0..sealed.len() * 8 {
            let mut bad = sealed.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(gcm_open(&k, &iv, &h(aad), &bad), Err(Opaque), "bit {bit}");
        }
    }

    /// RFC 5869, Appendix A.1 (Test Case 1): HKDF-SHA256, the derivation the
    /// per-message keys rely on.
    #[test]
    fn hkdf_sha256_matches_rfc5869_case_1() {
        let hkdf = Hkdf::<Sha256>::new(
            Some(&h("000102030405060708090a0b0c")),
            &h("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
        );
        let mut okm = [0u8; 42];
        hkdf.expand(&h("f0f1f2f3f4f5f6f7f8f9"), &mut okm).unwrap();
        assert_eq!(
            hex::encode(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
    }

    #[test]
    fn message_round_trip_and_binding() {
        let backing = SecretKey::from_bytes([7; KEY_LEN]);
        let body = seal_message(&backing, [1; SALT_LEN], b"aad", b"hello").unwrap();
        assert_eq!(body.len(), 5 + BODY_OVERHEAD);
        assert_eq!(
            open_message(&backing, b"aad", &body).unwrap().as_slice(),
            b"hello"
        );
        assert_eq!(open_message(&backing, b"aaD", &body), Err(Opaque));
        let other = SecretKey::from_bytes([8; KEY_LEN]);
        assert_eq!(open_message(&other, b"aad", &body), Err(Opaque));
        assert_eq!(
            open_message(&backing, b"aad", &body[..BODY_OVERHEAD - 1]),
            Err(Opaque)
        );
        for bit in 0..body.len() * 8 {
            let mut bad = body.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                open_message(&backing, b"aad", &bad),
                Err(Opaque),
                "bit {bit}"
            );
        }
    }

    #[test]
    fn different_salts_give_different_bodies() {
        let backing = SecretKey::from_bytes([7; KEY_LEN]);
        let a = seal_message(&backing, [1; SALT_LEN], b"", b"same").unwrap();
        let b = seal_message(&backing, [2; SALT_LEN], b"", b"same").unwrap();
        assert_ne!(a[SALT_LEN..], b[SALT_LEN..]);
    }

    #[test]
    fn wrapped_keys_are_bound_to_their_label() {
        let domain = SecretKey::from_bytes([3; KEY_LEN]);
        let material = SecretKey::from_bytes([9; KEY_LEN]);
        let blob = wrap_backing_key(&domain, b"key-a#1", &material, [5; NONCE_LEN]).unwrap();
        assert_eq!(blob.len(), WRAPPED_LEN);
        assert_eq!(
            unwrap_backing_key(&domain, b"key-a#1", &blob)
                .unwrap()
                .expose(),
            material.expose()
        );
        assert!(unwrap_backing_key(&domain, b"key-b#1", &blob).is_err());
        assert!(
            unwrap_backing_key(&SecretKey::from_bytes([4; KEY_LEN]), b"key-a#1", &blob).is_err()
        );
        // A domain-key seal is not a backing-key wrap, and vice versa.
        let sealed = seal_domain_key(&domain, &material, [6; NONCE_LEN]).unwrap();
        assert!(unwrap_backing_key(&domain, b"", &sealed).is_err());
        assert_eq!(
            open_domain_key(&domain, &sealed).unwrap().expose(),
            material.expose()
        );
    }

    #[test]
    fn secret_key_debug_prints_no_bytes() {
        let k = SecretKey::from_bytes([0xAB; KEY_LEN]);
        let shown = format!("{k:?}");
        assert!(
            !shown.contains("171") && !shown.to_lowercase().contains("ab,"),
            "{shown}"
        );
    }

    /// RFC 4231 test case 2 fixes HMAC-SHA256 itself (key "Jefe"); here the
    /// key is derived, so the checks are that a digest verifies under the
    /// same domain key only, and that any change to message or tag fails.
    #[test]
    fn audit_digests_verify_only_unchanged_and_under_their_domain_key() {
        let domain = SecretKey::from_bytes([7; KEY_LEN]);
        let key = audit_digest_key(&domain);
        let tag = seal_digest(&key, b"region|42|hash").unwrap();
        assert_eq!(tag.len(), 32);
        assert!(check_digest(&key, b"region|42|hash", &tag).unwrap());
        assert!(!check_digest(&key, b"region|43|hash", &tag).unwrap());
        let mut flipped = tag.clone();
        flipped[0] ^= 1;
        assert!(!check_digest(&key, b"region|42|hash", &flipped).unwrap());
        let other = audit_digest_key(&SecretKey::from_bytes([8; KEY_LEN]));
        assert!(!check_digest(&other, b"region|42|hash", &tag).unwrap());
        // The digest key is not the domain key itself.
        assert_ne!(key.expose(), domain.expose());
    }

    /// Golden vectors of keyward's own formats: fixed inputs, the exact
    /// bytes. A change to the message body, the wrapped-key blob or the
    /// sealed domain key shows here as a deliberate diff.
    #[test]
    fn golden_message_body() {
        let body =
            seal_message(&key(&"01".repeat(32)), [2; SALT_LEN], b"aad", b"plaintext").unwrap();
        assert_eq!(hex::encode(&body), GOLDEN_BODY);
        assert_eq!(
            &*open_message(&key(&"01".repeat(32)), b"aad", &h(GOLDEN_BODY)).unwrap(),
            b"plaintext"
        );
    }

    #[test]
    fn golden_wrapped_keys() {
        let domain = key(&"03".repeat(32));
        let wrapped = wrap_backing_key(
            &domain,
            b"arn:aws:kms:us-east-1:111122223333:key/k#1",
            &key(&"04".repeat(32)),
            [5; NONCE_LEN],
        )
        .unwrap();
        assert_eq!(hex::encode(&wrapped), GOLDEN_WRAPPED_KEY);
        let sealed = seal_domain_key(&key(&"06".repeat(32)), &domain, [7; NONCE_LEN]).unwrap();
        assert_eq!(hex::encode(&sealed), GOLDEN_SEALED_DOMAIN_KEY);
    }

    const GOLDEN_BODY: &str = "02020202020202020202020202020202020202020202020202020202020202025f705cdbd256edd6557676a37bcf8f02ba835b12b1ece732912ded3038a60902b09947cdf98ab8fd736347f3c2b7eddedd62f6b876534254be";
    const GOLDEN_WRAPPED_KEY: &str = "010505050505050505050505051226db60b6d81345ae0ace07d7e3435633437c357532f21f23195d090f2fd13c34857503e2e5924a15fddb6ddcbe6357";
    const GOLDEN_SEALED_DOMAIN_KEY: &str = "01070707070707070707070707a1fcf13785e4d00cb8ba256e071432a474535900f5c66c791ce6bbe548c26cfa22af26bc231c946ca7f319204e17aee3";
}
