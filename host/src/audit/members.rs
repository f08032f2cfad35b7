//! Requests and responses as an event's `requestParameters` and
//! `responseElements`, written in one pass straight from the model's serde
//! implementations:
//!
//! - AWS's member names as CloudTrail writes them (`KeyId` becomes `keyId`);
//! - every binary field left out: plaintexts, data keys, ciphertexts, key
//!   material and import tokens are all serialised by
//!   [`crate::model::base64_bytes`], which writes `null` while redacting, and
//!   members that are `null` are left out;
//! - grant tokens (bearer credentials, although strings) left out;
//! - map keys as they are: the only maps are encryption contexts, whose keys
//!   are the caller's own.
//!
//! The adapter [`Members`] wraps any serde serializer and changes only what
//! the rules above change, so the JSON is never built as a tree first.

use serde::ser::{self, Impossible, Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

use crate::model::redacting;

/// Parameter and response members that are secrets although not binary:
/// grant tokens are bearer credentials.
const SECRET_MEMBERS: &[&str] = &["GrantToken", "GrantTokens"];

/// `value` as CloudTrail records it (see the module docs).
pub fn members<T: Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    let written = redacting(|| serde_json::value::to_raw_value(&Members(value)));
    written.unwrap_or_else(|e| {
        // Only a map with keys that are not strings fails, and the model
        // has none: the event still records the request, without these.
        tracing::error!(error = %e, "an audit event's members could not be written");
        null()
    })
}

/// `null`, as an event's `responseElements` for a failed request.
pub fn null() -> Box<RawValue> {
    RawValue::NULL.to_owned()
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

/// Whether a struct member is recorded: neither a secret nor `null`.
fn recorded<T: Serialize + ?Sized>(name: &str, value: &T) -> bool {
    !SECRET_MEMBERS.contains(&name) && !is_null(value)
}

/// Whether a value serialises as `null` (a redacted binary field, or an
/// absent optional member without `skip_serializing_if`). A float that is
/// not a number also becomes `null` in JSON, but the model's only floats are
/// times.
fn is_null<T: Serialize + ?Sized>(value: &T) -> bool {
    matches!(value.serialize(IsNull), Ok(true))
}

/// A serializer that answers [`is_null`], giving up at the first sign of a
/// value.
struct IsNull;

/// What [`IsNull`] stops with: not null.
#[derive(Debug)]
struct NotNull;

impl std::fmt::Display for NotNull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not null")
    }
}

impl std::error::Error for NotNull {}

impl ser::Error for NotNull {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Self
    }
}

macro_rules! not_null {
    ($($method:ident($($arg:ty),*);)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<bool, NotNull> {
            Ok(false)
        })*
    };
}

impl Serializer for IsNull {
    type Ok = bool;
    type Error = NotNull;
    type SerializeSeq = Impossible<bool, NotNull>;
    type SerializeTuple = Impossible<bool, NotNull>;
    type SerializeTupleStruct = Impossible<bool, NotNull>;
    type SerializeTupleVariant = Impossible<bool, NotNull>;
    type SerializeMap = Impossible<bool, NotNull>;
    type SerializeStruct = Impossible<bool, NotNull>;
    type SerializeStructVariant = Impossible<bool, NotNull>;

    fn serialize_none(self) -> Result<bool, NotNull> {
        Ok(true)
    }
    fn serialize_unit(self) -> Result<bool, NotNull> {
        Ok(true)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<bool, NotNull> {
        Ok(true)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<bool, NotNull> {
        value.serialize(self)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<bool, NotNull> {
        value.serialize(self)
    }
    not_null! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_unit_variant(&'static str, u32, &'static str);
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<bool, NotNull> {
        Ok(false)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotNull> {
        Err(NotNull)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotNull> {
        Err(NotNull)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NotNull> {
        Err(NotNull)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotNull> {
        Err(NotNull)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotNull> {
        Err(NotNull)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, NotNull> {
        Err(NotNull)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotNull> {
        Err(NotNull)
    }
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
    type SerializeTuple = Members<S::SerializeTuple>;
    type SerializeTupleStruct = Members<S::SerializeTupleStruct>;
    type SerializeTupleVariant = Members<S::SerializeTupleVariant>;
    type SerializeMap = Members<S::SerializeMap>;
    type SerializeStruct = Members<S::SerializeMap>;
    type SerializeStructVariant = Members<S::SerializeStructVariant>;

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
        serialize_bytes(v: &[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(name: &'static str);
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str);
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

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0
            .serialize_newtype_variant(name, index, variant, &Members(value))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        self.0.serialize_seq(len).map(Members)
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        self.0.serialize_tuple(len).map(Members)
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        self.0.serialize_tuple_struct(name, len).map(Members)
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        self.0
            .serialize_tuple_variant(name, index, variant, len)
            .map(Members)
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

    /// The model has no struct variants; one would keep its member names.
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        self.0
            .serialize_struct_variant(name, index, variant, len)
            .map(Members)
    }
}

macro_rules! elements {
    ($($trait:ident::$method:ident;)*) => {
        $(impl<S: ser::$trait> ser::$trait for Members<S> {
            type Ok = S::Ok;
            type Error = S::Error;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), S::Error> {
                self.0.$method(&Members(value))
            }

            fn end(self) -> Result<S::Ok, S::Error> {
                self.0.end()
            }
        })*
    };
}

elements! {
    SerializeSeq::serialize_element;
    SerializeTuple::serialize_element;
    SerializeTupleStruct::serialize_field;
    SerializeTupleVariant::serialize_field;
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
        if !recorded(name, value) {
            return Ok(());
        }
        with_cloudtrail_name(name, |name| self.0.serialize_entry(name, &Members(value)))
    }

    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

impl<S: ser::SerializeStructVariant> ser::SerializeStructVariant for Members<S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), S::Error> {
        if !recorded(name, value) {
            return Ok(());
        }
        self.0.serialize_field(name, &Members(value))
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
        absent: Option<String>,
        #[serde(with = "crate::model::base64_bytes")]
        ciphertext_blob: Vec<u8>,
    }

    fn json(value: &impl Serialize) -> serde_json::Value {
        serde_json::from_str(members(value).get()).unwrap()
    }

    #[test]
    fn members_are_renamed_except_map_keys_and_secrets_and_nulls_dropped() {
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
    fn a_unit_response_is_null_and_unit_members_are_dropped() {
        #[derive(Serialize)]
        struct Nothing;
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Response {
            key_id: &'static str,
            nothing: Nothing,
            unit: (),
        }
        assert_eq!(members(&()).get(), "null");
        let response = Response {
            key_id: "k",
            nothing: Nothing,
            unit: (),
        };
        assert_eq!(members(&response).get(), r#"{"keyId":"k"}"#);
    }
}
