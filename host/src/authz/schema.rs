//! The schema, shipped in `policies/` and compiled into the binary, parsed
//! once per process. The shipped policies are in [`super::shipped`].

use std::sync::OnceLock;

use cedar_policy::Schema;

/// `policies/keyward.cedarschema`.
pub const SCHEMA_TEXT: &str = include_str!("../../../policies/keyward.cedarschema");
static SCHEMA: OnceLock<Schema> = OnceLock::new();

/// The schema.
pub fn schema() -> &'static Schema {
    SCHEMA.get_or_init(|| {
        // INVARIANT: the shipped schema parses; a unit test checks it.
        Schema::from_cedarschema_str(SCHEMA_TEXT)
            .map(|(schema, _warnings)| schema)
            .unwrap_or_else(|e| broken_shipped_file("keyward.cedarschema", &e.to_string()))
    })
}

#[expect(
    clippy::panic,
    reason = "the shipped policy files are checked by unit tests; a broken build must not start"
)]
pub(super) fn broken_shipped_file(file: &str, error: &str) -> ! {
    panic!("the shipped file `{file}` is invalid: {error}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_schema_is_valid() {
        let (_schema, _warnings) = Schema::from_cedarschema_str(SCHEMA_TEXT).unwrap();
    }
}
