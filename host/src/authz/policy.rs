//! Parsing and validating policy documents (key policies, identity policies,
//! guardrails) against the schema, with Cedar's diagnostics.

use std::collections::HashSet;
use std::fmt::Write as _;

use std::collections::HashMap;
use std::sync::OnceLock;

use cedar_policy::{Effect, Policy, PolicyId, PolicySet, ValidationMode, Validator};
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

/// Where an identity policy is attached, from its name: IAM's user and role
/// policies are named `user/<UserName>/<PolicyName>` and
/// `role/<RoleName>/<PolicyName>`. Any other name is an account-wide Cedar
/// document, whose policies name their principals themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached<'a> {
    /// The user or role.
    pub principal: super::Principal,
    /// `user` or `role`.
    pub kind: &'static str,
    /// The user's or role's name.
    pub owner: &'a str,
    /// The policy's own name.
    pub policy: &'a str,
}

/// The user or role an identity policy named `name` in `account` is
/// attached to, if its name says one.
pub fn attachment<'a>(account: &str, name: &'a str) -> Option<Attached<'a>> {
    let (kind, rest) = match name.split_once('/')? {
        ("user", rest) => ("user", rest),
        ("role", rest) => ("role", rest),
        _ => return None,
    };
    let (owner, policy) = rest.split_once('/')?;
    if policy.is_empty() || policy.contains('/') {
        return None;
    }
    let principal =
        super::Principal::parse(&format!("arn:aws:iam::{account}:{kind}/{owner}")).ok()?;
    Some(Attached {
        principal,
        kind,
        owner,
        policy,
    })
}

/// A policy document that does not parse or does not validate, with Cedar's
/// diagnostics (`line:column: message`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

/// `line:column` of a byte offset in `text`, 1-based.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
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
/// mode, and renames its policies to `<source>/<@id or policyN>`. A key
/// policy may be IAM JSON ([`super::iam`]), compiled to Cedar first.
pub fn parse_policy_set(source: Source<'_>, text: &str) -> Result<PolicySet, PolicyError> {
    with_deep_stack(|| parse_any(source, text))
}

/// The stack a policy is parsed on. Cedar's conversions between its policy
/// forms recurse once per level of an expression and, unlike its validator
/// and evaluator, do not check the stack: a deep enough document, which
/// anyone who may set a key policy can send, would overflow a server
/// thread's 2 MiB and abort the process. Only the pages used are committed.
const POLICY_STACK: usize = 512 << 20;

/// Runs `parse` on a stack of [`POLICY_STACK`], on the calling thread.
fn with_deep_stack(
    parse: impl FnOnce() -> Result<PolicySet, PolicyError>,
) -> Result<PolicySet, PolicyError> {
    stacker::grow(POLICY_STACK, parse)
}

fn parse_any(source: Source<'_>, text: &str) -> Result<PolicySet, PolicyError> {
    if super::iam::is_json(text) {
        let cedar = match source {
            Source::KeyPolicy => super::iam::compile(text, super::iam::Attachment::KeyPolicy)?,
            Source::Identity { account, name } => {
                let Some(owner) = attachment(account, name).map(|a| a.principal) else {
                    return Err(PolicyError(format!(
                        "an IAM JSON identity policy is attached to a user or role: name it \
                         `user/<UserName>/<PolicyName>` or `role/<RoleName>/<PolicyName>`, \
                         not `{name}`"
                    )));
                };
                super::iam::compile(text, super::iam::Attachment::Identity(&owner))?
            }
            Source::Guardrail => {
                return Err(PolicyError("guardrails are written in Cedar".into()));
            }
        };
        return parse_cedar(source, &cedar);
    }
    parse_cedar(source, text)
}

fn parse_cedar(source: Source<'_>, text: &str) -> Result<PolicySet, PolicyError> {
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
    let parsed = expand_action_groups(&parsed)?;
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

/// The action groups of the schema, with their member actions.
fn action_groups() -> &'static HashMap<String, Vec<String>> {
    static GROUPS: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    GROUPS.get_or_init(|| {
        let mut groups: HashMap<String, Vec<String>> = HashMap::new();
        let Ok(actions) = schema().action_entities() else {
            return groups;
        };
        for action in actions.iter() {
            let uid = action.uid();
            if let Some(ancestors) = actions.ancestors(&uid) {
                for group in ancestors {
                    groups
                        .entry(group.id().unescaped().to_owned())
                        .or_default()
                        .push(uid.id().unescaped().to_owned());
                }
            }
        }
        groups
    })
}

/// Rewrites `action in Action::"<group>"` in policy scopes to the group's
/// member actions. Cedar can then decide the scope without the action
/// hierarchy in the request's entities, which would slow every evaluation;
/// requests still carry the hierarchy when a condition mentions a group
/// ([`needs_action_hierarchy`]).
fn expand_action_groups(set: &PolicySet) -> Result<PolicySet, PolicyError> {
    let groups = action_groups();
    let mut expanded = PolicySet::new();
    for policy in set.policies() {
        let names_a_group = match policy.action_constraint() {
            cedar_policy::ActionConstraint::Any => false,
            cedar_policy::ActionConstraint::Eq(uid) => groups.contains_key(uid.id().unescaped()),
            cedar_policy::ActionConstraint::In(uids) => uids
                .iter()
                .any(|uid| groups.contains_key(uid.id().unescaped())),
        };
        if !names_a_group {
            expanded
                .add(policy.clone())
                .map_err(|e| PolicyError(e.to_string()))?;
            continue;
        }
        let mut json = policy.to_json().map_err(|e| PolicyError(e.to_string()))?;
        if let Some(action) = json.get_mut("action") {
            let named: Vec<serde_json::Value> = match (
                action.get("op").and_then(|o| o.as_str()),
                action.get("entity"),
                action.get("entities"),
            ) {
                (Some("in"), Some(one), _) => vec![one.clone()],
                (Some("in"), None, Some(serde_json::Value::Array(many))) => many.clone(),
                _ => Vec::new(),
            };
            let mut members = Vec::new();
            let mut changed = false;
            for entity in named {
                let id = entity
                    .get("id")
                    .and_then(|i| i.as_str())
                    .unwrap_or_default();
                match groups.get(id) {
                    Some(actions) => {
                        changed = true;
                        members.extend(
                            actions
                                .iter()
                                .map(|a| serde_json::json!({ "type": "Action", "id": a })),
                        );
                    }
                    None => members.push(entity),
                }
            }
            if changed {
                *action = serde_json::json!({ "op": "in", "entities": members });
            }
        }
        let rewritten = Policy::from_json(Some(policy.id().clone()), json)
            .map_err(|e| PolicyError(e.to_string()))?;
        expanded
            .add(rewritten)
            .map_err(|e| PolicyError(e.to_string()))?;
    }
    Ok(expanded)
}

/// Whether a policy still refers to an action group (in a condition), so
/// that requests must carry the action hierarchy for it.
pub fn needs_action_hierarchy(policy: &Policy) -> bool {
    let Ok(json) = policy.to_json() else {
        return true;
    };
    let text = json.to_string();
    action_groups().keys().any(|group| {
        text.contains(&format!("\"type\":\"Action\",\"id\":\"{group}\""))
            || text.contains(&format!("\"id\":\"{group}\",\"type\":\"Action\""))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deeply_nested_policies_are_decided_without_overflowing_the_caller() {
        // A test thread has 2 MiB of stack, as a server thread does.
        for depth in [50, 400, 3000] {
            let nested = format!(
                "permit (principal, action, resource) when {{ {}true{} }};",
                "(".repeat(depth),
                ")".repeat(depth)
            );
            let _ = parse_policy_set(Source::KeyPolicy, &nested);
            let negated = format!(
                "permit (principal, action, resource) when {{ {}true }};",
                "!".repeat(depth * 2)
            );
            let _ = parse_policy_set(Source::KeyPolicy, &negated);
        }
        let shallow = format!(
            "permit (principal, action, resource) when {{ {}true{} }};",
            "(".repeat(50),
            ")".repeat(50)
        );
        parse_policy_set(Source::KeyPolicy, &shallow).unwrap();
    }

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
    fn action_groups_in_scopes_become_their_members() {
        let text = "permit (principal, action in Action::\"ReadOnly\", resource);";
        let set = parse_policy_set(Source::KeyPolicy, text).unwrap();
        let policy = set.policies().next().unwrap();
        let shown = policy.to_string();
        assert!(
            shown.contains("DescribeKey") && !shown.contains("ReadOnly"),
            "{shown}"
        );
        assert!(!needs_action_hierarchy(policy));
        let in_condition =
            "permit (principal, action, resource) when { action in Action::\"ReadOnly\" };";
        let set = parse_policy_set(Source::KeyPolicy, in_condition).unwrap();
        assert!(needs_action_hierarchy(set.policies().next().unwrap()));
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
