//! A JSON writer for the audit events, which are written on every request:
//! objects and arrays straight into a `String`, member names (the event's own
//! constants) copied as they are, and string values scanned once and copied
//! unless they need escaping, which `serde_json` then does. The bytes are
//! the same as `serde_json` writes for the same members in the same order.

use serde_json::value::RawValue;

/// Whether `text` goes into a JSON string as it is: no quote, backslash or
/// control character, the only bytes JSON escapes (`serde_json` leaves the
/// rest as they are). Not short-circuiting, so that it runs many bytes at a
/// time.
fn plain(text: &str) -> bool {
    text.bytes().fold(true, |plain, b| {
        plain & (b >= 0x20) & (b != b'"') & (b != b'\\')
    })
}

/// Writes one JSON string made of `parts`, escaped where needed.
pub(super) fn string(out: &mut String, parts: &[&str]) {
    out.push('"');
    for part in parts {
        if plain(part) {
            out.push_str(part);
        } else {
            // Rare: serde_json escapes it, as a string of its own whose
            // quotes are left off. (Writing a string cannot fail.)
            let escaped = serde_json::to_string(part).unwrap_or_default();
            let inner = escaped.strip_prefix('"').and_then(|e| e.strip_suffix('"'));
            out.push_str(inner.unwrap_or_default());
        }
    }
    out.push('"');
}

/// A JSON object being written; `}` is written when it is dropped.
pub(super) struct Object<'o> {
    out: &'o mut String,
    empty: bool,
}

impl<'o> Object<'o> {
    /// Begins an object at the end of `out`.
    pub(super) fn new(out: &'o mut String) -> Self {
        out.push('{');
        Object { out, empty: true }
    }

    /// Writes a member's name (one of the event's constants, which need no
    /// escaping), and returns the buffer for its value.
    fn name(&mut self, name: &'static str) -> &mut String {
        debug_assert!(plain(name), "a member name that needs escaping: {name}");
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        self.out.push('"');
        self.out.push_str(name);
        self.out.push_str("\":");
        self.out
    }

    /// A string member.
    pub(super) fn str(&mut self, name: &'static str, value: &str) {
        string(self.name(name), &[value]);
    }

    /// A string member made of `parts`.
    pub(super) fn str_of(&mut self, name: &'static str, parts: &[&str]) {
        string(self.name(name), parts);
    }

    /// An IP address member, written without a copy (an address needs no
    /// escaping).
    pub(super) fn ip(&mut self, name: &'static str, value: std::net::IpAddr) {
        use std::fmt::Write as _;
        // INVARIANT: writing to a String cannot fail.
        let _ = write!(self.name(name), "\"{value}\"");
    }

    /// A string member, left out if `None`.
    pub(super) fn str_if(&mut self, name: &'static str, value: Option<&str>) {
        if let Some(value) = value {
            self.str(name, value);
        }
    }

    /// A `true` or `false` member.
    pub(super) fn bool(&mut self, name: &'static str, value: bool) {
        self.name(name)
            .push_str(if value { "true" } else { "false" });
    }

    /// A member that is already JSON.
    pub(super) fn raw(&mut self, name: &'static str, value: &RawValue) {
        self.name(name).push_str(value.get());
    }

    /// An object member, written until the returned object is dropped.
    pub(super) fn object(&mut self, name: &'static str) -> Object<'_> {
        Object::new(self.name(name))
    }

    /// An array member, written until the returned array is dropped.
    pub(super) fn array(&mut self, name: &'static str) -> Array<'_> {
        let out = self.name(name);
        out.push('[');
        Array { out, empty: true }
    }
}

impl Drop for Object<'_> {
    fn drop(&mut self) {
        self.out.push('}');
    }
}

/// A JSON array being written; `]` is written when it is dropped.
pub(super) struct Array<'o> {
    out: &'o mut String,
    empty: bool,
}

impl Array<'_> {
    fn element(&mut self) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        self.out
    }

    /// A string element.
    pub(super) fn str(&mut self, value: &str) {
        string(self.element(), &[value]);
    }

    /// An object element, written until the returned object is dropped.
    pub(super) fn object(&mut self) -> Object<'_> {
        Object::new(self.element())
    }
}

impl Drop for Array<'_> {
    fn drop(&mut self) {
        self.out.push(']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let tricky = [
            "plain",
            "",
            "quote \" backslash \\ slash /",
            "controls \n\t\r\u{0}\u{1f} and DEL \u{7f}",
            "non-ASCII ü € 𝄞",
            "\u{2028} line separator",
        ];
        for text in tricky {
            let mut out = String::new();
            string(&mut out, &[text]);
            assert_eq!(out, serde_json::to_string(text).unwrap(), "{text:?}");
        }
        // Parts make one string.
        let mut out = String::new();
        string(&mut out, &["111122223333", ":", "na\"me"]);
        assert_eq!(out, serde_json::to_string("111122223333:na\"me").unwrap());
    }

    #[test]
    fn objects_and_arrays_close_when_dropped() {
        let mut out = String::new();
        let mut event = Object::new(&mut out);
        event.str("a", "x");
        event.str_if("absent", None);
        event.str_of("b", &["y", "z"]);
        event.bool("c", false);
        event.raw("d", RawValue::NULL);
        event.ip("ip", "2001:db8::1".parse().unwrap());
        let mut inner = event.object("e");
        let mut list = inner.array("f");
        list.str("g");
        let mut element = list.object();
        element.bool("h", true);
        drop(element);
        drop(list);
        drop(inner);
        event.array("i");
        drop(event);
        // In the order written (a `json!` value would sort its keys).
        let expected = r#"{"a":"x","b":"yz","c":false,"d":null,"ip":"2001:db8::1","e":{"f":["g",{"h":true}]},"i":[]}"#;
        assert_eq!(out, expected);
    }
}
