//! The ciphertext format (version 1), documented in docs/ciphertext.md.
//!
//! ```text
//! offset    size  field
//! 0         2     magic "KW"
//! 2         1     format version (1)
//! 3         2     length n of the key ARN, big-endian
//! 5         n     key ARN, UTF-8
//! 5+n       4     backing-key (material) version, big-endian
//! 9+n       4     header check: the first 4 bytes of SHA-256 over bytes 0..9+n
//! 13+n      32    HKDF salt                          ┐
//! 45+n      32    key commitment                     │ the body, made and
//! 77+n      m     AES-256-GCM ciphertext             │ opened only by the guest
//! 77+n+m    16    GCM tag                            ┘
//! ```
//!
//! The whole header (bytes 0..13+n) followed by the canonical encoding of the
//! encryption context is the GCM associated data, so changing any header byte
//! or the context fails authentication. The header check is not a security
//! measure (anyone can recompute it): it lets a damaged header be reported as
//! an invalid ciphertext instead of being read as the name of another key.

use sha2::{Digest, Sha256};

use crate::model::EncryptionContext;

const MAGIC: &[u8; 2] = b"KW";
const VERSION: u8 = 1;
const CHECK_LEN: usize = 4;
/// Bytes the guest adds around a plaintext: salt, commitment and tag.
pub const BODY_OVERHEAD: usize = 32 + 32 + 16;

/// The parsed header of a ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The ARN of the key that encrypted.
    pub key_arn: String,
    /// The material version that encrypted.
    pub version: u32,
}

/// A ciphertext that does not parse. Reported as the one opaque
/// `InvalidCiphertextException`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

impl Header {
    /// The header's bytes, which start the ciphertext and the AAD.
    pub fn encode(&self) -> Vec<u8> {
        let arn = self.key_arn.as_bytes();
        // INVARIANT: ARNs are at most 2048 bytes (validated on resolution),
        // well within u16.
        let arn_len = u16::try_from(arn.len()).unwrap_or(u16::MAX);
        let mut out = Vec::with_capacity(13 + arn.len());
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&arn_len.to_be_bytes());
        out.extend_from_slice(arn);
        out.extend_from_slice(&self.version.to_be_bytes());
        let check = Sha256::digest(&out);
        out.extend_from_slice(check.get(..CHECK_LEN).unwrap_or_default());
        out
    }

    /// Splits a ciphertext into its header (parsed), the header's bytes and
    /// the body.
    pub fn parse(blob: &[u8]) -> Result<(Header, &[u8], &[u8]), Malformed> {
        let rest = blob.strip_prefix(MAGIC.as_slice()).ok_or(Malformed)?;
        let (&version, rest) = rest.split_first().ok_or(Malformed)?;
        if version != VERSION {
            return Err(Malformed);
        }
        let (arn_len, rest) = split_array::<2>(rest)?;
        let arn_len = usize::from(u16::from_be_bytes(arn_len));
        if rest.len() < arn_len {
            return Err(Malformed);
        }
        let (arn, rest) = rest.split_at(arn_len);
        let (key_version, rest) = split_array::<4>(rest)?;
        let (check, body) = split_array::<CHECK_LEN>(rest)?;
        let header_len = blob.len() - body.len();
        let (header_bytes, _) = blob.split_at_checked(header_len).ok_or(Malformed)?;
        let (checked, _) = header_bytes
            .split_at_checked(header_len.saturating_sub(CHECK_LEN))
            .ok_or(Malformed)?;
        if Sha256::digest(checked).get(..CHECK_LEN) != Some(check.as_slice()) {
            return Err(Malformed);
        }
        if body.len() <= BODY_OVERHEAD {
            return Err(Malformed);
        }
        let key_arn = std::str::from_utf8(arn).map_err(|_| Malformed)?.to_owned();
        let header = Header {
            key_arn,
            version: u32::from_be_bytes(key_version),
        };
        Ok((header, header_bytes, body))
    }
}

fn split_array<const N: usize>(bytes: &[u8]) -> Result<([u8; N], &[u8]), Malformed> {
    if bytes.len() < N {
        return Err(Malformed);
    }
    let (head, rest) = bytes.split_at(N);
    Ok((head.try_into().map_err(|_| Malformed)?, rest))
}

/// The canonical, unambiguous encoding of an encryption context: the pair
/// count, then each pair in byte order of its key, each string prefixed by
/// its length (all big-endian u32). An absent and an empty context encode the
/// same.
pub fn canonical_context(context: Option<&EncryptionContext>) -> Vec<u8> {
    let mut out = Vec::new();
    let pairs = context.map(|c| c.len()).unwrap_or(0);
    push_len(&mut out, pairs);
    // BTreeMap<String, _> iterates in byte order of the keys.
    for (key, value) in context.into_iter().flatten() {
        push_len(&mut out, key.len());
        out.extend_from_slice(key.as_bytes());
        push_len(&mut out, value.len());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    // INVARIANT: contexts are validated to at most 8192 bytes first.
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

/// The associated data of a ciphertext: its header bytes, then the context.
pub fn aad(header: &[u8], context: Option<&EncryptionContext>) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(&canonical_context(context));
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            key_arn: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                .into(),
            version: 3,
        }
    }

    #[test]
    fn header_round_trips() {
        let mut blob = header().encode();
        let header_len = blob.len();
        blob.extend_from_slice(&[0u8; BODY_OVERHEAD + 1]);
        let (parsed, bytes, body) = Header::parse(&blob).unwrap();
        assert_eq!(parsed, header());
        assert_eq!(bytes.len(), header_len);
        assert_eq!(body.len(), BODY_OVERHEAD + 1);
    }

    #[test]
    fn damaged_headers_are_malformed() {
        let mut blob = header().encode();
        let header_len = blob.len();
        blob.extend_from_slice(&[0u8; BODY_OVERHEAD + 1]);
        for bit in 0..header_len * 8 {
            let mut bad = blob.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(Header::parse(&bad), Err(Malformed), "bit {bit}");
        }
        for len in 0..header_len + BODY_OVERHEAD + 1 {
            assert_eq!(Header::parse(&blob[..len]), Err(Malformed), "length {len}");
        }
    }

    #[test]
    fn canonical_context_is_unambiguous() {
        let one: EncryptionContext = [("ab".to_string(), "c".to_string())].into();
        let other: EncryptionContext = [("a".to_string(), "bc".to_string())].into();
        assert_ne!(
            canonical_context(Some(&one)),
            canonical_context(Some(&other))
        );
        assert_eq!(
            canonical_context(None),
            canonical_context(Some(&EncryptionContext::new()))
        );
    }

    /// Golden vector of the header and the AAD: fixed inputs, the exact
    /// bytes, so that a format change is a deliberate diff.
    #[test]
    fn golden_header_and_aad() {
        let header = Header {
            key_arn: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
            version: 2,
        }
        .encode();
        assert_eq!(hex::encode(&header), GOLDEN_HEADER);
        let context: EncryptionContext = [("b", "2"), ("a", "1")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let aad = aad(&header, Some(&context));
        assert_eq!(hex::encode(&aad[header.len()..]), GOLDEN_CONTEXT);
        assert_eq!(
            canonical_context(None),
            canonical_context(Some(&EncryptionContext::new()))
        );
    }

    const GOLDEN_HEADER: &str = "4b5701002861726e3a6177733a6b6d733a75732d656173742d313a3131313132323232333333333a6b65792f6b00000002fef8134b";
    const GOLDEN_CONTEXT: &str = "000000020000000161000000013100000001620000000132";
}
