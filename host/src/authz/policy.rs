//! Parsing and validating policy documents (key policies, identity policies,
//! guardrails) against the schema, with Cedar's diagnostics.

use std::collections::HashSet;
use std::fmt::Write as _;

use cedar_policy::{Effect, PolicyId, PolicySet, ValidationMode, Validator};
use miette::Diagnostic;

use super::schema::schema;

/// Where a policy document comes from; decides the ids of its policies and
/// what it may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    /// A shipped guardrail: forbid only.
    Guardrail,
    /// A key's policy.
    KeyPolicy,
    /// An identity policy of an account, by name.
    Identity {
        /// The account.
        account: &'a str,
        /// The policy's name.
        name: &'a str,
    },
}

impl Source<'_> {
    /// The id of the policy with `@id` (or Cedar's `policyN`) `local`.
    fn id(self, local: &str) -> String {
        match self {
            Self::Guardrail => local.to_owned(),
            Self::KeyPolicy => format!("key-policy/{local}"),
            Self::Identity { account, name } => format!("identity/{account}/{name}/{local}"),
        }
    }
}

/// A policy document that does not parse or does not validate, with Cedar's
/// diagnostics (`line:column: message`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

/// `line:column` of a byte offset in `text`, 1-based.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Renders a Cedar diagnostic with the position of its first label.
fn render(text: &str, error: &dyn Diagnostic) -> String {
    let mut out = String::new();
    if let Some(label) = error.labels().and_then(|mut labels| labels.next()) {
        let (line, column) = position(text, label.offset());
        let _ = write!(out, "{line}:{column}: ");
    }
    let _ = write!(out, "{error}");
    if let Some(help) = error.help() {
        let _ = write!(out, " (help: {help})");
    }
    out
}

/// Parses a policy document, validates it against the schema in strict
/// mode, and renames its policies to `<source>/<@id or policyN>`.
pub fn parse_policy_set(source: Source<'_>, text: &str) -> Result<PolicySet, PolicyError> {
    let parsed: PolicySet = text.parse().map_err(|errors: cedar_policy::ParseErrors| {
        PolicyError(
            errors
                .iter()
                .map(|e| render(text, e))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    if parsed.templates().next().is_some() {
        return Err(PolicyError(
            "policy templates are not supported in policy documents".into(),
        ));
    }
    if parsed.is_empty() {
        return Err(PolicyError("the policy document holds no policy".into()));
    }
    let validation = Validator::new(schema().clone()).validate(&parsed, ValidationMode::Strict);
    if !validation.validation_passed() {
        return Err(PolicyError(
            validation
                .validation_errors()
                .map(|e| render(text, e))
                .collect::<Vec<_>>()
                .join("\n"),
        ));
    }
    let mut renamed = PolicySet::new();
    let mut seen = HashSet::new();
    for policy in parsed.policies() {
        if source == Source::Guardrail && policy.effect() != Effect::Forbid {
            return Err(PolicyError(format!(
                "guardrail `{}` is not a forbid policy",
                policy.id()
            )));
        }
        let local = policy
            .annotation("id")
            .map_or_else(|| policy.id().to_string(), str::to_owned);
        if !seen.insert(local.clone()) {
            return Err(PolicyError(format!("two policies have the id `{local}`")));
        }
        renamed
            .add(policy.new_id(PolicyId::new(source.id(&local))))
            .map_err(|e| PolicyError(e.to_string()))?;
    }
    Ok(renamed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_name_the_line() {
        let text = "permit (principal, action, resource);\npermit (principal action, resource);";
        let error = parse_policy_set(Source::KeyPolicy, text).unwrap_err();
        assert!(error.0.starts_with("2:"), "{error}");
    }

    #[test]
    fn schema_violations_are_refused() {
        let text = "permit (principal, action == Action::\"Fly\", resource);";
        let error = parse_policy_set(Source::KeyPolicy, text).unwrap_err();
        assert!(error.0.contains("Fly"), "{error}");
        let text = "permit (principal, action, resource) when { resource.colour == \"red\" };";
        assert!(parse_policy_set(Source::KeyPolicy, text).is_err());
    }

    #[test]
    fn ids_come_from_annotations_or_positions() {
        let text = "@id(\"admins\")\npermit (principal, action, resource);\npermit (principal, action, resource);";
        let set = parse_policy_set(
            Source::Identity {
                account: "111122223333",
                name: "p",
            },
            text,
        )
        .unwrap();
        let mut ids: Vec<String> = set.policies().map(|p| p.id().to_string()).collect();
        ids.sort();
        assert_eq!(
            ids,
            [
                "identity/111122223333/p/admins",
                "identity/111122223333/p/policy1"
            ]
        );
    }
}
