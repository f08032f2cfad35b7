//! Requests and responses as an event's `requestParameters` and
//! `responseElements`, written in one pass straight from the model's serde
//! implementations:
//!
//! - AWS's member names as CloudTrail writes them (`KeyId` becomes `keyId`);
//! - every binary field left out: plaintexts, data keys, ciphertexts, key
//!   material and import tokens are all serialised by
//!   [`crate::model::base64_bytes`], and skipped while redacting (or written
//!   as `null`, should a field lack the skip);
//! - grant tokens (bearer credentials, although strings) left out;
//! - map keys as they are: the only maps are encryption contexts, whose keys
//!   are the caller's own.
//!
//! The adapter `Members` wraps any serde serializer and changes only what
//! the rules above change, so the JSON is never built as a tree first. It
//! handles the shapes the model has (structs, maps, sequences, options,
//! unit-variant enums, scalars) and refuses the others.

use serde::ser::{self, Impossible, Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::value::RawValue;

use crate::model::redacting;

/// Parameter and response members that are secrets although not binary:
/// grant tokens are bearer credentials.
const SECRET_MEMBERS: &[&str] = &["GrantToken", "GrantTokens"];

/// `value` as CloudTrail records it (see the module docs).
pub fn members<T: Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    let written = redacting(|| serde_json::value::to_raw_value(&Members(value)));
    written.unwrap_or_else(|e| {
        // Only shapes the model does not have fail (tuples, variants with
        // data, maps with keys that are not strings): the event still
        // records the request, without these.
        tracing::error!(error = %e, "an audit event's members could not be written");
        RawValue::NULL.to_owned()
    })
}

/// Serialises what it wraps under the CloudTrail rules; as a serializer, it
/// wraps another serializer.
struct Members<T>(T);

impl<T: Serialize + ?Sized> Serialize for Members<&T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(Members(serializer))
    }
}

/// A struct member's name with its first letter in lower case, without
/// allocating for names of up to 64 bytes (all of AWS's).
fn with_cloudtrail_name<R>(name: &str, f: impl FnOnce(&str) -> R) -> R {
    let mut buffer = [0_u8; 64];
    match buffer.get_mut(..name.len()) {
        Some(lowered) if name.is_ascii() => {
            lowered.copy_from_slice(name.as_bytes());
            if let Some(first) = lowered.first_mut() {
                first.make_ascii_lowercase();
            }
            // INVARIANT: ASCII in, ASCII out.
            f(std::str::from_utf8(lowered).unwrap_or(name))
        }
        _ => {
            let mut chars = name.chars();
            let lowered: String = chars
                .next()
                .map(|first| first.to_lowercase().chain(chars).collect())
                .unwrap_or_default();
            f(&lowered)
        }
    }
}

fn not_in_model<E: ser::Error>() -> E {
    E::custom("a tuple or a variant with data, which the model does not have")
}

/// Whether a struct member is recorded: grant tokens are not.
fn recorded(name: &str) -> bool {
    !SECRET_MEMBERS.contains(&name)
}

macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(fn $method(self, $($arg: $ty),*) -> Result<S::Ok, S::Error> {
            self.0.$method($($arg),*)
        })*
    };
}

impl<S: Serializer> Serializer for Members<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Members<S::SerializeSeq>;
    type SerializeTuple = Impossible<S::Ok, S::Error>;
    type SerializeTupleStruct = Impossible<S::Ok, S::Error>;
    type SerializeTupleVariant = Impossible<S::Ok, S::Error>;
    type SerializeMap = Members<S::SerializeMap>;
    type SerializeStruct = Members<S::SerializeMap>;
    type SerializeStructVariant = Impossible<S::Ok, S::Error>;

    forward! {
        serialize_bool(v: bool);
        serialize_i8(v: i8);
        serialize_i16(v: i16);
        serialize_i32(v: i32);
        serialize_i64(v: i64);
        serialize_u8(v: u8);
        serialize_u16(v: u16);
        serialize_u32(v: u32);
        serialize_u64(v: u64);
        serialize_f32(v: f32);
        serialize_f64(v: f64);
        serialize_char(v: char);
        serialize_str(v: &str);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(name: &'static str);
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str);
    }

    /// Bytes that a type serialises as bytes are written as `null`, never as
    /// their values. (The model's binary fields go through `base64_bytes`
    /// and skip themselves; a plain `Vec<u8>` would be a sequence of
    /// numbers, which is why the model has none.)
    fn serialize_bytes(self, _: &[u8]) -> Result<S::Ok, S::Error> {
        self.0.serialize_none()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_some(&Members(value))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_newtype_struct(name, &Members(value))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        self.0.serialize_seq(len).map(Members)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        self.0.serialize_map(len).map(Members)
    }

    /// A struct becomes a map, so that its members can be renamed and
    /// dropped.
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        self.0.serialize_map(None).map(Members)
    }

    // The model's enums are all unit variants, and it has no tuples: these
    // are refused, and the event records `null` members (see `members`)
    // rather than members written by rules not checked here.
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<S::Ok, S::Error> {
        Err(not_in_model())
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, S::Error> {
        Err(not_in_model())
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        Err(not_in_model())
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        Err(not_in_model())
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        Err(not_in_model())
    }
}

impl<S: SerializeSeq> SerializeSeq for Members<S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), S::Error> {
        self.0.serialize_element(&Members(value))
    }

    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

impl<S: SerializeMap> SerializeMap for Members<S> {
    type Ok = S::Ok;
    type Error = S::Error;

    /// Map keys stay as they are (encryption contexts).
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), S::Error> {
        self.0.serialize_key(key)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), S::Error> {
        self.0.serialize_value(&Members(value))
    }

    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

impl<S: SerializeMap> ser::SerializeStruct for Members<S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), S::Error> {
        if !recorded(name) {
            return Ok(());
        }
        with_cloudtrail_name(name, |name| self.0.serialize_entry(name, &Members(value)))
    }

    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::*;
    use crate::model::{EncryptRequest, SecretBytes};

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Constraints {
        encryption_context_subset: BTreeMap<String, String>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Tag {
        tag_key: String,
        tag_value: String,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Request {
        key_id: String,
        encryption_context: BTreeMap<String, String>,
        grant_tokens: Vec<String>,
        grant_token: String,
        constraints: Constraints,
        tags: Vec<Tag>,
        #[serde(skip_serializing_if = "Option::is_none")]
        absent: Option<String>,
        #[serde(
            with = "crate::model::base64_bytes",
            skip_serializing_if = "crate::model::base64_bytes::redacting"
        )]
        ciphertext_blob: Vec<u8>,
    }

    fn json(value: &impl Serialize) -> serde_json::Value {
        serde_json::from_str(members(value).get()).unwrap()
    }

    #[test]
    fn members_are_renamed_except_map_keys_and_grant_tokens_and_binary_fields_dropped() {
        let request = Request {
            key_id: "k".into(),
            encryption_context: [("Department".into(), "Finance".into())].into(),
            grant_tokens: vec!["secret".into()],
            grant_token: "secret".into(),
            constraints: Constraints {
                encryption_context_subset: [("Team".into(), "A".into())].into(),
            },
            tags: vec![Tag {
                tag_key: "a".into(),
                tag_value: "b".into(),
            }],
            absent: None,
            ciphertext_blob: vec![1, 2, 3],
        };
        assert_eq!(
            json(&request),
            serde_json::json!({
                "keyId": "k",
                "encryptionContext": {"Department": "Finance"},
                "constraints": {"encryptionContextSubset": {"Team": "A"}},
                "tags": [{"tagKey": "a", "tagValue": "b"}],
            })
        );
    }

    #[test]
    fn binary_fields_are_left_out_and_wire_json_is_unchanged_afterwards() {
        let request = EncryptRequest {
            key_id: "alias/a".into(),
            plaintext: SecretBytes::new(b"attack at dawn".to_vec()),
            ..Default::default()
        };
        let audited = members(&request);
        assert!(!audited.get().contains("YXR0YWNr"), "{}", audited.get());
        assert_eq!(json(&request)["keyId"], "alias/a");
        // Redaction is over: the wire form has its plaintext again.
        let wire = serde_json::to_value(&request).unwrap();
        assert_eq!(wire["Plaintext"], "YXR0YWNrIGF0IGRhd24=");
    }

    #[test]
    fn raw_bytes_are_never_recorded() {
        struct Raw(Vec<u8>);
        impl Serialize for Raw {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_bytes(&self.0)
            }
        }
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Request {
            key_id: String,
            secret: Raw,
        }
        let request = Request {
            key_id: "k".into(),
            secret: Raw(b"attack".to_vec()),
        };
        assert_eq!(members(&request).get(), r#"{"keyId":"k","secret":null}"#);
    }

    #[test]
    fn shapes_the_model_does_not_have_are_recorded_as_null() {
        #[derive(Serialize)]
        enum Shape {
            Data(String),
        }
        #[derive(Serialize)]
        struct Request {
            shape: Shape,
            pair: (String, String),
        }
        let request = Request {
            shape: Shape::Data("x".into()),
            pair: ("a".into(), "b".into()),
        };
        assert_eq!(members(&request).get(), "null");
    }

    #[test]
    fn a_unit_response_is_null() {
        assert_eq!(members(&()).get(), "null");
    }
}
