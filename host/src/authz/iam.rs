//! The IAM JSON policy language, compiled to Cedar.
//!
//! Key policies and identity policies arrive as AWS users write them: JSON
//! documents of `Statement`s. Each statement compiles to one Cedar policy,
//! `permit` for `Allow` and `forbid` for `Deny`, annotated with its `Sid`
//! (or its position), and the result goes through the same validation and
//! the same decision as a policy written in Cedar. Cedar's own rules give
//! IAM's: an explicit deny wins, and nothing is allowed by default.
//!
//! How the elements map:
//!
//! - `Principal` names the request's principal: an account id or account
//!   root ARN is `Account::"<id>"` (which, as in AWS, delegates to the
//!   account's identity policies), a user or role ARN is `User::`/`Role::`,
//!   a service is `Service::`, and `"*"` is anyone. `NotPrincipal` is the
//!   negation.
//! - `Action` and `NotAction` are matched, case-insensitively and with `*`
//!   and `?` wildcards, against the KMS actions here and now, so the policy
//!   lists them.
//! - `Resource` and `NotResource`: `"*"`, or key ARN patterns matched with
//!   Cedar's `like` against the key's ARN.
//! - `Condition`: each operator and key becomes one conjunct; several values
//!   of one key are alternatives. Condition keys read the request context,
//!   the principal and the key (`fact` below). A key that keyward cannot know
//!   (`aws:SourceVpc`) is absent, as IAM treats a key that a request lacks.
//!
//! What Cedar cannot express is refused with `MalformedPolicyDocument`
//! rather than approximated: `?` in a string pattern (Cedar's `like` has
//! only `*`), a policy variable inside a longer string, and a few condition
//! keys whose request facts keyward does not compute yet.

use std::fmt::Write as _;
use std::net::IpAddr;

use serde_json::{Map, Value};

use super::action::Action;
use super::policy::PolicyError;
use super::principal::{Principal, PrincipalKind, is_account_id};

/// Whether a policy document is IAM JSON rather than Cedar: Cedar text
/// cannot start with `{`.
pub fn is_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// Where a JSON document is attached, which decides its `Principal`.
#[derive(Debug, Clone, Copy)]
pub enum Attachment<'a> {
    /// A key policy: each statement names its principals.
    KeyPolicy,
    /// An identity policy of a user or role: its statements have no
    /// `Principal`; they apply to this one.
    Identity(&'a Principal),
}

/// Compiles an IAM JSON policy document to Cedar policy text.
pub fn compile(text: &str, attachment: Attachment<'_>) -> Result<String, PolicyError> {
    let document: Value = serde_json::from_str(text)
        .map_err(|e| fault(format!("the policy is not valid JSON: {e}")))?;
    let Value::Object(document) = document else {
        return Err(fault("the policy document must be a JSON object"));
    };
    let mut version = Version::V2008;
    for (name, value) in &document {
        match name.as_str() {
            "Version" => {
                version = match value.as_str() {
                    Some("2012-10-17") => Version::V2012,
                    Some("2008-10-17") => Version::V2008,
                    _ => {
                        return Err(fault("`Version` must be \"2012-10-17\" or \"2008-10-17\""));
                    }
                };
            }
            "Id" => {
                if !value.is_string() {
                    return Err(fault("`Id` must be a string"));
                }
            }
            "Statement" => {}
            other => return Err(fault(format!("unknown policy element `{other}`"))),
        }
    }
    let statements = match document.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect::<Vec<_>>(),
        Some(one @ Value::Object(_)) => vec![one],
        Some(_) => return Err(fault("`Statement` must be an object or a list of objects")),
        None => return Err(fault("the policy has no `Statement`")),
    };
    if statements.is_empty() {
        return Err(fault("the policy has no statement"));
    }
    let mut out = String::new();
    let mut ids = std::collections::HashSet::new();
    let mut compiled = 0;
    for (index, statement) in statements.into_iter().enumerate() {
        let Value::Object(statement) = statement else {
            return Err(fault(format!("statement {} is not an object", index + 1)));
        };
        let name = match statement.get("Sid") {
            Some(Value::String(sid)) => format!("statement `{sid}`"),
            Some(_) => {
                return Err(fault(format!(
                    "statement {}: `Sid` must be a string",
                    index + 1
                )));
            }
            None => format!("statement {}", index + 1),
        };
        let context = Statement {
            version,
            attachment,
        };
        let policy = context
            .compile(statement)
            .map_err(|e| fault(format!("{name}: {e}")))?;
        let base = match statement.get("Sid").and_then(Value::as_str) {
            Some(sid) if !sid.is_empty() => sid.to_owned(),
            _ => format!("statement-{}", index + 1),
        };
        let mut id = base.clone();
        let mut n = 2;
        while !ids.insert(id.clone()) {
            id = format!("{base}#{n}");
            n += 1;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        // The Sid is the caller's text: escaped, so that it cannot end the
        // comment and add policies of its own.
        let mut shown = String::new();
        escape_into(&mut shown, &name, false);
        let _ = writeln!(out, "// {shown}");
        match policy {
            Some(policy) => {
                compiled += 1;
                let _ = writeln!(out, "@id({})", literal(&id));
                out.push_str(&policy);
            }
            None => out.push_str("// (names no KMS action: nothing to decide)\n"),
        }
    }
    if compiled == 0 {
        return Err(fault("no statement of the policy names a KMS action"));
    }
    Ok(out)
}

fn fault(message: impl Into<String>) -> PolicyError {
    PolicyError(message.into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V2008,
    V2012,
}

struct Statement<'a> {
    version: Version,
    attachment: Attachment<'a>,
}

/// The elements a statement may have.
const ELEMENTS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

impl Statement<'_> {
    /// The statement as one Cedar policy, or `None` if it names no KMS
    /// action.
    fn compile(&self, statement: &Map<String, Value>) -> Result<Option<String>, String> {
        if let Some(unknown) = statement.keys().find(|k| !ELEMENTS.contains(&k.as_str())) {
            return Err(format!("unknown statement element `{unknown}`"));
        }
        let effect = match statement.get("Effect") {
            Some(Value::String(e)) if e == "Allow" => "permit",
            Some(Value::String(e)) if e == "Deny" => "forbid",
            Some(_) => return Err("`Effect` must be \"Allow\" or \"Deny\"".into()),
            None => return Err("missing `Effect`".into()),
        };
        let mut conditions = Vec::new();

        let principal_scope = self.principal(statement, effect == "forbid", &mut conditions)?;

        let actions = match (statement.get("Action"), statement.get("NotAction")) {
            (Some(_), Some(_)) => return Err("has both `Action` and `NotAction`".into()),
            (None, None) => return Err("missing `Action`".into()),
            (Some(list), None) => matching_actions(list, false)?,
            (None, Some(list)) => matching_actions(list, true)?,
        };
        if actions.is_empty() {
            return Ok(None);
        }
        let action_scope = if actions.len() == Action::ALL.len() {
            "action".to_owned()
        } else {
            let list: Vec<String> = actions
                .iter()
                .map(|a| format!("Action::{}", literal(a.name())))
                .collect();
            format!("action in [{}]", list.join(", "))
        };

        match (statement.get("Resource"), statement.get("NotResource")) {
            (Some(_), Some(_)) => return Err("has both `Resource` and `NotResource`".into()),
            (None, None) => return Err("missing `Resource`".into()),
            (Some(list), None) => {
                if let Some(test) = resources(list, effect == "forbid")? {
                    conditions.push(test);
                }
            }
            (None, Some(list)) => match resources(list, true)? {
                Some(test) => conditions.push(format!("!({test})")),
                None => return Ok(None),
            },
        }

        match statement.get("Condition") {
            None => {}
            Some(Value::Object(block)) => {
                for (operator, keys) in block {
                    let Value::Object(keys) = keys else {
                        return Err(format!(
                            "condition operator `{operator}` must map keys to values"
                        ));
                    };
                    for (key, values) in keys {
                        conditions.push(self.condition(operator, key, values)?);
                    }
                }
            }
            Some(_) => return Err("`Condition` must be an object".into()),
        }

        let mut policy =
            format!("{effect} (\n  {principal_scope},\n  {action_scope},\n  resource\n)");
        if !conditions.is_empty() {
            policy.push_str("\nwhen {\n  ");
            policy.push_str(&conditions.join("\n  && "));
            policy.push_str("\n}");
        }
        policy.push_str(";\n");
        Ok(Some(policy))
    }

    /// The principal scope, and a condition when the statement names several
    /// principals or excludes some. As in AWS, an account named in an `Allow`
    /// is the account root (which delegates to the account's identity
    /// policies), while an account named in a `Deny` covers every principal
    /// of the account; `NotPrincipal` spares a caller only if both it and its
    /// account are listed, and goes only with `Deny`.
    fn principal(
        &self,
        statement: &Map<String, Value>,
        deny: bool,
        conditions: &mut Vec<String>,
    ) -> Result<String, String> {
        let (given, negated) = match (statement.get("Principal"), statement.get("NotPrincipal")) {
            (Some(_), Some(_)) => return Err("has both `Principal` and `NotPrincipal`".into()),
            (Some(p), None) => (Some(p), false),
            (None, Some(p)) => (Some(p), true),
            (None, None) => (None, false),
        };
        match (self.attachment, given) {
            (Attachment::Identity(_), Some(_)) => Err(
                "an identity policy names no `Principal`: it applies to its user or role".into(),
            ),
            (Attachment::Identity(owner), None) => {
                Ok(format!("principal == {}", principal_entity(owner)))
            }
            (Attachment::KeyPolicy, None) => Err("missing `Principal`".into()),
            (Attachment::KeyPolicy, Some(_)) if negated && !deny => {
                Err("`NotPrincipal` goes only with `\"Effect\": \"Deny\"`".into())
            }
            (Attachment::KeyPolicy, Some(value)) => {
                let Some(named) = principals(value)? else {
                    // "*": anyone; NotPrincipal "*" spares everyone.
                    if negated {
                        conditions.push("false".into());
                    }
                    return Ok("principal".into());
                };
                if negated {
                    let spared: Vec<String> = named
                        .iter()
                        .filter(|p| {
                            p.account()
                                .is_none_or(|a| named.contains(&Named::Account(a.to_owned())))
                        })
                        .map(Named::equals)
                        .collect();
                    if !spared.is_empty() {
                        conditions.push(format!("!({})", spared.join(" || ")));
                    }
                    return Ok("principal".into());
                }
                let tests: Vec<String> = named
                    .iter()
                    .map(|p| match p {
                        Named::Account(account) if deny => {
                            format!("principal in Account::{}", literal(account))
                        }
                        other => other.equals(),
                    })
                    .collect();
                match tests.as_slice() {
                    [one] if one.starts_with("principal ") => Ok(one.clone()),
                    _ => {
                        conditions.push(format!("({})", tests.join(" || ")));
                        Ok("principal".into())
                    }
                }
            }
        }
    }

    /// One condition operator applied to one key.
    fn condition(&self, operator: &str, key: &str, values: &Value) -> Result<String, String> {
        let values = string_values(values).ok_or_else(|| {
            format!("the values of `{operator}` `{key}` must be strings, numbers or booleans")
        })?;
        if values.is_empty() {
            return Err(format!("`{operator}` `{key}` has no value"));
        }
        let (set, rest) = match operator.split_once(':') {
            Some(("ForAnyValue", rest)) => (Some(SetOp::Any), rest),
            Some(("ForAllValues", rest)) => (Some(SetOp::All), rest),
            Some(_) => return Err(format!("unknown condition operator `{operator}`")),
            None => (None, operator),
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        let op = Operator::parse(base)
            .ok_or_else(|| format!("unknown condition operator `{operator}`"))?;
        if op == Operator::Null && (if_exists || set.is_some()) {
            return Err(format!("unknown condition operator `{operator}`"));
        }
        let fact = fact(key)?;
        let shown = format!("`{operator}` on `{key}`");
        op.apply(&fact, &values, set, if_exists, self.version)
            .map_err(|e| format!("{shown}: {e}"))
    }
}

/// A principal of a key policy, as Cedar.
fn principal_entity(principal: &Principal) -> String {
    match principal.kind() {
        PrincipalKind::AccountRoot => format!("Account::{}", literal(principal.account())),
        PrincipalKind::User(_) => format!("User::{}", literal(principal.arn())),
        PrincipalKind::Role(_) => format!("Role::{}", literal(principal.arn())),
    }
}

/// A principal that a `Principal` element names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Named {
    /// An account, by id or root ARN.
    Account(String),
    /// A user or role: its Cedar entity and account.
    Identity { entity: String, account: String },
    /// An assumed-role session (`arn:aws:sts::...`): keyward authenticates
    /// roles, not sessions, so it matches only a caller of exactly this ARN.
    Session { arn: String, account: String },
    /// An AWS service.
    Service(String),
}

impl Named {
    fn account(&self) -> Option<&str> {
        match self {
            Self::Account(a)
            | Self::Identity { account: a, .. }
            | Self::Session { account: a, .. } => Some(a),
            Self::Service(_) => None,
        }
    }

    /// The test that the caller is this principal.
    fn equals(&self) -> String {
        match self {
            Self::Account(account) => format!("principal == Account::{}", literal(account)),
            Self::Identity { entity, .. } => format!("principal == {entity}"),
            Self::Session { arn, .. } => format!("context.principal_arn == {}", literal(arn)),
            Self::Service(name) => format!("principal == Service::{}", literal(name)),
        }
    }
}

/// The principals a `Principal` element names; `None` for anyone (`"*"`).
fn principals(value: &Value) -> Result<Option<Vec<Named>>, String> {
    let object = match value {
        Value::String(s) if s == "*" => return Ok(None),
        Value::Object(object) if !object.is_empty() => object,
        _ => return Err("`Principal` must be \"*\" or an object such as {\"AWS\": ...}".into()),
    };
    let mut named = Vec::new();
    for (kind, names) in object {
        let names = string_values(names)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("the `{kind}` principals must be strings"))?;
        for name in names {
            match kind.as_str() {
                "AWS" if name == "*" => return Ok(None),
                "AWS" => named.push(aws_principal(&name)?),
                "Service" => {
                    if !is_service_name(&name) {
                        return Err(format!("`{name}` is not a service principal"));
                    }
                    named.push(Named::Service(name));
                }
                other => {
                    return Err(format!(
                        "principal type `{other}` is not valid in a key policy"
                    ));
                }
            }
        }
    }
    Ok(Some(named))
}

fn aws_principal(name: &str) -> Result<Named, String> {
    if let Ok(principal) = Principal::parse(name) {
        let account = principal.account().to_owned();
        return Ok(match principal.kind() {
            PrincipalKind::AccountRoot => Named::Account(account),
            _ => Named::Identity {
                entity: principal_entity(&principal),
                account,
            },
        });
    }
    if let Some(rest) = name.strip_prefix("arn:aws:sts::")
        && let Some((account, session)) = rest.split_once(':')
        && is_account_id(account)
        && session.starts_with("assumed-role/")
        && session.matches('/').count() == 2
    {
        return Ok(Named::Session {
            arn: name.to_owned(),
            account: account.to_owned(),
        });
    }
    Err(format!("`{name}` is not a valid principal"))
}

fn is_service_name(name: &str) -> bool {
    name.ends_with(".amazonaws.com")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b))
}

/// The KMS actions that `list` names (or, negated, does not name).
fn matching_actions(list: &Value, negated: bool) -> Result<Vec<Action>, String> {
    let patterns = string_values(list)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| "`Action` must be a string or a list of strings".to_owned())?;
    let mut matched = vec![false; Action::ALL.len()];
    for pattern in &patterns {
        let lower = pattern.to_ascii_lowercase();
        let (service, action) = if lower == "*" {
            ("kms", "*")
        } else {
            lower
                .split_once(':')
                .ok_or_else(|| format!("`{pattern}` is not an action (`service:Action`)"))?
        };
        if !glob(service, "kms") {
            continue;
        }
        for (slot, candidate) in matched.iter_mut().zip(Action::ALL) {
            if glob(action, &candidate.name().to_ascii_lowercase()) {
                *slot = true;
            }
        }
    }
    Ok(Action::ALL
        .iter()
        .zip(matched)
        .filter(|(_, m)| *m != negated)
        .map(|(a, _)| *a)
        .collect())
}

/// IAM's wildcard match: `*` any run, `?` any one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some(pi);
                mark = ti;
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some(s) => {
                    pi = s + 1;
                    mark += 1;
                    ti = mark;
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

/// A test of the resource against `Resource` patterns; `None` for `"*"`.
/// keyward authorizes alias operations on their key alone, so an alias ARN
/// matches nothing: harmless in an `Allow`, refused where it would quietly
/// disarm a `Deny` (`denies`: a `Deny`, or any `NotResource`).
fn resources(list: &Value, denies: bool) -> Result<Option<String>, String> {
    let patterns = string_values(list)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| "`Resource` must be a string or a list of strings".to_owned())?;
    if patterns.iter().any(|p| p == "*") {
        return Ok(None);
    }
    let mut tests = Vec::new();
    for pattern in &patterns {
        if !pattern.starts_with("arn:") {
            return Err(format!("resource `{pattern}` is not \"*\" or an ARN"));
        }
        if pattern.contains(":alias/") {
            if denies {
                return Err(format!(
                    "resource `{pattern}`: keyward authorizes alias operations on their key only, \
                     so an alias ARN here would never match; name the key instead"
                ));
            }
            continue;
        }
        if pattern.contains("${") {
            return Err(format!(
                "resource `{pattern}`: keyward does not support policy variables in `Resource`"
            ));
        }
        tests.push(format!("resource.arn like {}", like_pattern(pattern)?));
    }
    if tests.is_empty() {
        return Ok(Some("false".into()));
    }
    Ok(Some(format!(
        "(resource is Key && ({}))",
        tests.join(" || ")
    )))
}

/// The values of an element or condition, as IAM reads them: a scalar or a
/// list of scalars, all as strings.
fn string_values(value: &Value) -> Option<Vec<String>> {
    fn one(value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    match value {
        Value::Array(list) => list.iter().map(one).collect(),
        other => one(other).map(|v| vec![v]),
    }
}

/// A Cedar string literal.
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    escape_into(&mut out, text, false);
    out.push('"');
    out
}

fn escape_into(out: &mut String, text: &str, pattern: bool) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '*' if pattern => out.push_str("\\*"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// An IAM wildcard pattern as a Cedar `like` pattern. Cedar has no
/// one-character wildcard, so `?` is refused rather than widened to `*`.
fn like_pattern(pattern: &str) -> Result<String, String> {
    if pattern.contains('?') {
        return Err(format!(
            "`{pattern}`: keyward does not support the `?` wildcard (Cedar's `like` has only `*`)"
        ));
    }
    let mut out = String::from("\"");
    for (i, part) in pattern.split('*').enumerate() {
        if i > 0 {
            out.push('*');
        }
        escape_into(&mut out, part, true);
    }
    out.push('"');
    Ok(out)
}

/// Whether a condition key is there in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Presence {
    Always,
    Never,
    /// Present when this Cedar expression holds; it also guards access to
    /// the value, so it comes first.
    When(String),
}

/// The type of a condition key's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    String,
    /// Strings that are always upper or lower case (AWS enum values, service
    /// names, account ids), so that the `IgnoreCase` operators can compare
    /// with the policy value folded the same way.
    Folded(Case),
    StringSet,
    Long,
    /// Seconds since the epoch: the `Date` operators.
    Date,
    Bool,
    Ip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Upper,
    Lower,
}

/// A condition key, as the Cedar expression of its value.
#[derive(Debug, Clone)]
struct Fact {
    value: String,
    presence: Presence,
    kind: Type,
}

impl Fact {
    fn always(value: &str, kind: Type) -> Self {
        Self {
            value: value.into(),
            presence: Presence::Always,
            kind,
        }
    }

    fn optional(attribute: &str, kind: Type) -> Self {
        Self {
            value: format!("context.{attribute}"),
            presence: Presence::When(format!("context has {attribute}")),
            kind,
        }
    }

    /// The tag `tag` of `entity`, which exists when `guard` holds (`None`:
    /// always). Every tag is a string.
    fn tag(entity: &str, guard: Option<&str>, tag: &str) -> Self {
        let tag = literal(tag);
        let guard = guard.map_or_else(String::new, |g| format!("{g} && "));
        Self {
            value: format!("{entity}.getTag({tag})"),
            presence: Presence::When(format!("{guard}{entity}.hasTag({tag})")),
            kind: Type::String,
        }
    }

    fn of_key(attribute: &str, kind: Type) -> Self {
        Self {
            value: format!("resource.{attribute}"),
            presence: Presence::When("resource is Key".into()),
            kind,
        }
    }

    fn absent() -> Self {
        Self {
            value: String::new(),
            presence: Presence::Never,
            kind: Type::String,
        }
    }
}

/// The condition keys keyward documents but does not compute yet: refused
/// in a policy rather than treated as absent, which would quietly turn a
/// `Deny` on them off. keyward's principals have no IAM unique ids.
const NOT_YET: &[&str] = &["aws:userid"];

/// A fact of the key, or, on `CreateKey`, of the key the request creates.
fn of_key_or_request(key_attribute: &str, context_attribute: &str, kind: Type) -> Fact {
    let fallback = if kind == Type::Bool { "false" } else { "\"\"" };
    Fact {
        value: format!(
            "(if resource is Key then resource.{key_attribute} else (if context has {context_attribute} then context.{context_attribute} else {fallback}))"
        ),
        presence: Presence::When(format!(
            "(resource is Key || context has {context_attribute})"
        )),
        kind,
    }
}

/// What a condition key reads. Condition key names are case-insensitive,
/// as in IAM; the part after `kms:EncryptionContext:` or a tag prefix is
/// the context or tag key itself, and keeps its case.
fn fact(key: &str) -> Result<Fact, String> {
    let lower = key.to_ascii_lowercase();
    let suffix = |prefix: &str| -> Option<&str> {
        lower
            .starts_with(prefix)
            .then(|| key.get(prefix.len()..))
            .flatten()
            .filter(|s| !s.is_empty())
    };
    if let Some(name) = suffix("kms:encryptioncontext:") {
        // Condition key names are not case-sensitive in IAM, and that
        // includes the context key they name: look it up among the pairs
        // with their keys folded to lower case.
        return Ok(Fact::tag(
            "context.encryption_context_folded",
            None,
            &name.to_lowercase(),
        ));
    }
    let tag_sets = [
        (
            "aws:principaltag/",
            "context.principal_tags",
            "context has principal_tags",
        ),
        ("aws:resourcetag/", "resource", "resource is Key"),
        (
            "aws:requesttag/",
            "context.request_tags",
            "context has request_tags",
        ),
    ];
    for (prefix, entity, guard) in tag_sets {
        if let Some(name) = suffix(prefix) {
            return Ok(Fact::tag(entity, Some(guard), name));
        }
    }
    if NOT_YET.contains(&lower.as_str()) {
        return Err(format!(
            "keyward does not support the condition key `{key}` yet"
        ));
    }
    Ok(match lower.as_str() {
        // A multi-valued key with no value is absent, as IAM has it.
        "kms:encryptioncontextkeys" => Fact {
            value: "context.encryption_context_keys".into(),
            presence: Presence::When("!context.encryption_context_keys.isEmpty()".into()),
            kind: Type::StringSet,
        },
        "kms:calleraccount" | "aws:principalaccount" => {
            Fact::always("context.caller_account", Type::Folded(Case::Lower))
        }
        "kms:viaservice" => Fact::optional("via_service", Type::Folded(Case::Lower)),
        "kms:requestalias" => Fact::optional("request_alias", Type::String),
        "kms:resourcealiases" => Fact {
            value: "resource.aliases".into(),
            presence: Presence::When("resource is Key && !resource.aliases.isEmpty()".into()),
            kind: Type::StringSet,
        },
        // Keys AWS sets on every request.
        "aws:viaawsservice" => Fact::always("(context has via_service)", Type::Bool),
        "aws:principalisawsservice" => Fact::always("false", Type::Bool),
        "aws:resourceaccount" => Fact::always(
            "(if resource is Key then resource.account else context.caller_account)",
            Type::Folded(Case::Lower),
        ),
        "kms:keyspec" => of_key_or_request("key_spec", "key_spec", Type::Folded(Case::Upper)),
        "kms:keyusage" => of_key_or_request("key_usage", "key_usage", Type::Folded(Case::Upper)),
        "kms:keyorigin" => of_key_or_request("origin", "key_origin", Type::Folded(Case::Upper)),
        "kms:keymanager" => Fact::of_key("key_manager", Type::Folded(Case::Upper)),
        "kms:multiregion" => of_key_or_request("multi_region", "multi_region", Type::Bool),
        "kms:encryptionalgorithm" => {
            Fact::optional("encryption_algorithm", Type::Folded(Case::Upper))
        }
        "kms:reencryptonsamekey" => Fact::optional("re_encrypt_on_same_key", Type::Bool),
        "kms:signingalgorithm" => Fact::optional("signing_algorithm", Type::Folded(Case::Upper)),
        "kms:messagetype" => Fact::optional("message_type", Type::Folded(Case::Upper)),
        "kms:macalgorithm" => Fact::optional("mac_algorithm", Type::Folded(Case::Upper)),
        "kms:keyagreementalgorithm" => {
            Fact::optional("key_agreement_algorithm", Type::Folded(Case::Upper))
        }
        "kms:datakeypairspec" => Fact::optional("data_key_pair_spec", Type::Folded(Case::Upper)),
        "kms:wrappingalgorithm" => Fact::optional("wrapping_algorithm", Type::Folded(Case::Upper)),
        "kms:wrappingkeyspec" => Fact::optional("wrapping_key_spec", Type::Folded(Case::Upper)),
        "kms:expirationmodel" => Fact::optional("expiration_model", Type::Folded(Case::Upper)),
        "kms:validto" => Fact::optional("valid_to", Type::Date),
        "kms:bypasspolicylockoutsafetycheck" => {
            Fact::optional("bypass_policy_lockout_safety_check", Type::Bool)
        }
        "kms:rotationperiodindays" => Fact::optional("rotation_period_in_days", Type::Long),
        "kms:schedulekeydeletionpendingwindowindays" => {
            Fact::optional("pending_window_in_days", Type::Long)
        }
        "kms:grantoperations" => Fact::optional("grant_operations", Type::StringSet),
        "kms:granteeprincipal" => Fact::optional("grantee_principal", Type::String),
        "kms:retiringprincipal" => Fact::optional("retiring_principal", Type::String),
        "kms:grantconstrainttype" => Fact::optional("grant_constraint_type", Type::String),
        "aws:tagkeys" => Fact::optional("tag_keys", Type::StringSet),
        "kms:multiregionkeytype" => Fact {
            value: "resource.multi_region_type".into(),
            presence: Presence::When("resource is Key && resource.multi_region".into()),
            kind: Type::Folded(Case::Upper),
        },
        // True when an AWS service makes the grant call for the caller; a
        // key of the three grant operations only.
        "kms:grantisforawsresource" => Fact {
            value: "(context has via_service)".into(),
            presence: Presence::When(
                r#"action in [Action::"CreateGrant", Action::"ListGrants", Action::"RevokeGrant"]"#
                    .into(),
            ),
            kind: Type::Bool,
        },
        "aws:sourceip" => Fact::optional("source_ip", Type::Ip),
        "aws:securetransport" => Fact::always("context.secure_transport", Type::Bool),
        "aws:currenttime" => Fact::always("context.current_time", Type::Date),
        "aws:epochtime" => Fact::always("context.current_time", Type::Long),
        "aws:requestedregion" => Fact::always("context.request_region", Type::Folded(Case::Lower)),
        "aws:principalarn" => Fact::always("context.principal_arn", Type::String),
        "aws:principaltype" => Fact::always("context.principal_type", Type::String),
        "aws:username" => Fact::optional("username", Type::String),
        _ if lower.starts_with("kms:") || lower.starts_with("aws:") || lower.contains(':') => {
            // A key that AWS defines for other services or for requests
            // keyward never receives (aws:SourceVpc): absent.
            Fact::absent()
        }
        _ => return Err(format!("`{key}` is not a condition key")),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Any,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
    Null,
}

/// How an operator compares one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    Equal { fold: bool },
    Like,
    Number(&'static str),
    Date(&'static str),
    Bool,
    Ip,
}

impl Operator {
    fn parse(name: &str) -> Option<Self> {
        use Operator::*;
        Some(match name {
            "StringEquals" => StringEquals,
            "StringNotEquals" => StringNotEquals,
            "StringEqualsIgnoreCase" => StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => StringNotEqualsIgnoreCase,
            "StringLike" => StringLike,
            "StringNotLike" => StringNotLike,
            "NumericEquals" => NumericEquals,
            "NumericNotEquals" => NumericNotEquals,
            "NumericLessThan" => NumericLessThan,
            "NumericLessThanEquals" => NumericLessThanEquals,
            "NumericGreaterThan" => NumericGreaterThan,
            "NumericGreaterThanEquals" => NumericGreaterThanEquals,
            "DateEquals" => DateEquals,
            "DateNotEquals" => DateNotEquals,
            "DateLessThan" => DateLessThan,
            "DateLessThanEquals" => DateLessThanEquals,
            "DateGreaterThan" => DateGreaterThan,
            "DateGreaterThanEquals" => DateGreaterThanEquals,
            "Bool" => Bool,
            "IpAddress" => IpAddress,
            "NotIpAddress" => NotIpAddress,
            "ArnEquals" => ArnEquals,
            "ArnNotEquals" => ArnNotEquals,
            "ArnLike" => ArnLike,
            "ArnNotLike" => ArnNotLike,
            "Null" => Null,
            _ => return None,
        })
    }

    /// The positive comparison, and whether the operator negates it.
    fn comparison(self) -> (Compare, bool) {
        use Operator::*;
        match self {
            StringEquals => (Compare::Equal { fold: false }, false),
            StringNotEquals => (Compare::Equal { fold: false }, true),
            StringEqualsIgnoreCase => (Compare::Equal { fold: true }, false),
            StringNotEqualsIgnoreCase => (Compare::Equal { fold: true }, true),
            StringLike | ArnEquals | ArnLike => (Compare::Like, false),
            StringNotLike | ArnNotEquals | ArnNotLike => (Compare::Like, true),
            NumericEquals => (Compare::Number("=="), false),
            NumericNotEquals => (Compare::Number("=="), true),
            NumericLessThan => (Compare::Number("<"), false),
            NumericLessThanEquals => (Compare::Number("<="), false),
            NumericGreaterThan => (Compare::Number(">"), false),
            NumericGreaterThanEquals => (Compare::Number(">="), false),
            DateEquals => (Compare::Date("=="), false),
            DateNotEquals => (Compare::Date("=="), true),
            DateLessThan => (Compare::Date("<"), false),
            DateLessThanEquals => (Compare::Date("<="), false),
            DateGreaterThan => (Compare::Date(">"), false),
            DateGreaterThanEquals => (Compare::Date(">="), false),
            Bool => (Compare::Bool, false),
            IpAddress => (Compare::Ip, false),
            NotIpAddress => (Compare::Ip, true),
            Null => (Compare::Bool, false),
        }
    }

    /// The Cedar test of this operator on `fact` with `values` (any of which
    /// may match), with IAM's treatment of a key the request lacks: false for
    /// a positive operator, true for a negated one.
    /// `...IfExists` (`if_exists`) makes an absent key satisfy the test, and
    /// so does `ForAllValues`, as IAM has it.
    fn apply(
        self,
        fact: &Fact,
        values: &[String],
        set: Option<SetOp>,
        if_exists: bool,
        version: Version,
    ) -> Result<String, String> {
        if self == Self::Null {
            let wants_absent = values
                .iter()
                .map(|v| parse_bool(v))
                .collect::<Result<Vec<_>, _>>()?;
            let tests: Vec<String> = wants_absent
                .into_iter()
                .map(|absent| match (&fact.presence, absent) {
                    (Presence::Always, absent) => (!absent).to_string(),
                    (Presence::Never, absent) => absent.to_string(),
                    (Presence::When(p), true) => format!("!({p})"),
                    (Presence::When(p), false) => format!("({p})"),
                })
                .collect();
            return Ok(any(&tests));
        }
        let (compare, negated) = self.comparison();
        // IAM: a key the request lacks fails a positive operator and
        // satisfies a negated one, ...IfExists and ForAllValues; and fails
        // ForAnyValue whatever the operator.
        let absent_satisfies =
            if_exists || set == Some(SetOp::All) || (negated && set != Some(SetOp::Any));
        if fact.presence == Presence::Never {
            return Ok(absent_satisfies.to_string());
        }
        let v = &fact.value;
        let positive = if fact.kind == Type::StringSet {
            set_test(compare, v, values, set.unwrap_or(SetOp::Any), negated)?
        } else {
            let alternatives = values
                .iter()
                .map(|value| one_test(compare, fact.kind, v, value, version))
                .collect::<Result<Vec<_>, _>>()?;
            if negated {
                format!("!({})", alternatives.join(" || "))
            } else {
                any(&alternatives)
            }
        };
        Ok(match (&fact.presence, absent_satisfies) {
            (Presence::Always, _) => positive,
            (Presence::Never, n) => n.to_string(),
            (Presence::When(p), false) => format!("({p} && {positive})"),
            (Presence::When(p), true) => format!("(if {p} then {positive} else true)"),
        })
    }
}

fn any(tests: &[String]) -> String {
    if tests.len() == 1 {
        tests.concat()
    } else {
        format!("({})", tests.join(" || "))
    }
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("`{value}` is not \"true\" or \"false\"")),
    }
}

/// A test of a multi-valued key (a Cedar set). Cedar has no quantifier, so
/// only equality works on sets: `containsAny` for "some value is one of
/// these", `containsAll` for "every value is one of these".
fn set_test(
    compare: Compare,
    set: &str,
    values: &[String],
    op: SetOp,
    negated: bool,
) -> Result<String, String> {
    let exact = match compare {
        Compare::Equal { fold: false } => true,
        Compare::Like => !values.iter().any(|v| v.contains('*') || v.contains('?')),
        _ => false,
    };
    if !exact {
        return Err(
            "keyward supports only exact string matches on a multi-valued key (Cedar has no quantifier over sets)".into(),
        );
    }
    if values.iter().any(|v| v.contains("${")) {
        return Err("keyward does not support policy variables on a multi-valued key".into());
    }
    let list = format!(
        "[{}]",
        values
            .iter()
            .map(|v| literal(v))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(match (op, negated) {
        // Some value is listed.
        (SetOp::Any, false) => format!("{set}.containsAny({list})"),
        // Some value is not listed.
        (SetOp::Any, true) => format!("!{list}.containsAll({set})"),
        // Every value is listed (true for none).
        (SetOp::All, false) => format!("{list}.containsAll({set})"),
        // No value is listed.
        (SetOp::All, true) => format!("!{set}.containsAny({list})"),
    })
}

/// A test of a single-valued key against one policy value.
fn one_test(
    compare: Compare,
    kind: Type,
    v: &str,
    value: &str,
    version: Version,
) -> Result<String, String> {
    let type_error =
        |wanted: &str| format!("the key holds a {wanted}, which this operator cannot compare");
    match compare {
        Compare::Equal { fold } => {
            let operand = match operand(value, version)? {
                Operand::Variable { value, presence } if !fold => {
                    // A variable whose key the request lacks matches nothing.
                    return Ok(match presence {
                        Some(present) => format!("({present} && {v} == {value})"),
                        None => format!("{v} == {value}"),
                    });
                }
                Operand::Variable { .. } => {
                    return Err(
                        "keyward does not support policy variables with `IgnoreCase` operators"
                            .into(),
                    );
                }
                Operand::Text(text) => text,
            };
            match (kind, fold) {
                (Type::String | Type::Folded(_), false) => Ok(format!("{v} == {}", literal(&operand))),
                (Type::Folded(Case::Upper), true) => {
                    Ok(format!("{v} == {}", literal(&operand.to_uppercase())))
                }
                (Type::Folded(Case::Lower), true) => {
                    Ok(format!("{v} == {}", literal(&operand.to_lowercase())))
                }
                (Type::String, true) => Err(
                    "keyward supports the `IgnoreCase` operators only on keys whose values have one case (Cedar cannot fold case)".into(),
                ),
                (other, _) => Err(type_error(type_name(other))),
            }
        }
        Compare::Like => match kind {
            Type::String | Type::Folded(_) => {
                if value.contains("${") {
                    return Err("keyward does not support policy variables in patterns".into());
                }
                Ok(format!("{v} like {}", like_pattern(value)?))
            }
            other => Err(type_error(type_name(other))),
        },
        Compare::Number(op) => match kind {
            Type::Long => {
                let n: i64 = value
                    .parse()
                    .map_err(|_| format!("`{value}` is not a whole number"))?;
                Ok(format!("{v} {op} {n}"))
            }
            other => Err(type_error(type_name(other))),
        },
        Compare::Date(op) => match kind {
            Type::Date | Type::Long => Ok(format!("{v} {op} {}", epoch_seconds(value)?)),
            other => Err(type_error(type_name(other))),
        },
        Compare::Bool => match kind {
            Type::Bool => Ok(format!("{v} == {}", parse_bool(value)?)),
            other => Err(type_error(type_name(other))),
        },
        Compare::Ip => match kind {
            Type::Ip => {
                check_cidr(value)?;
                Ok(format!("{v}.isInRange(ip({}))", literal(value)))
            }
            other => Err(type_error(type_name(other))),
        },
    }
}

fn type_name(kind: Type) -> &'static str {
    match kind {
        Type::String | Type::Folded(_) => "string",
        Type::StringSet => "list of strings",
        Type::Long => "number",
        Type::Date => "date",
        Type::Bool => "boolean",
        Type::Ip => "IP address",
    }
}

/// A value that is exactly one policy variable (`${aws:username}`), or text
/// (with IAM's escapes `${*}`, `${?}` and `${$}` undone). Variables exist
/// only in version 2012-10-17 documents; in older ones `${` is literal text.
fn operand(value: &str, version: Version) -> Result<Operand, String> {
    if version != Version::V2012 || !value.contains("${") {
        return Ok(Operand::Text(value.to_owned()));
    }
    // IAM's escapes for the characters a variable would take.
    let unescaped = value
        .replace("${*}", "*")
        .replace("${?}", "?")
        .replace("${$}", "$");
    if !unescaped.contains("${") {
        return Ok(Operand::Text(unescaped));
    }
    let whole = value
        .strip_prefix("${")
        .and_then(|v| v.strip_suffix('}'))
        .filter(|v| !v.contains("${") && !v.contains('}'));
    let Some(name) = whole else {
        return Err(format!(
            "`{value}`: keyward supports a policy variable only as a whole value (Cedar has no string concatenation)"
        ));
    };
    let fact = fact(name)?;
    match (fact.kind, fact.presence) {
        (Type::String | Type::Folded(_), Presence::Always) => Ok(Operand::Variable {
            value: fact.value,
            presence: None,
        }),
        (Type::String | Type::Folded(_), Presence::When(present)) => Ok(Operand::Variable {
            value: fact.value,
            presence: Some(present),
        }),
        _ => Err(format!("`{value}` is not a string policy variable")),
    }
}

/// A policy value: text, or a policy variable (`${aws:username}`) as the
/// Cedar expression it stands for, with the test that its key is present.
enum Operand {
    Text(String),
    Variable {
        value: String,
        presence: Option<String>,
    },
}

/// An IAM date (ISO 8601, or epoch seconds) as epoch seconds.
fn epoch_seconds(value: &str) -> Result<i64, String> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(seconds) = value.parse::<i64>() {
        return Ok(seconds);
    }
    if let Ok(at) = time::OffsetDateTime::parse(value, &Rfc3339) {
        return Ok(at.unix_timestamp());
    }
    let date_only = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(day) = time::Date::parse(value, date_only) {
        return Ok(day.midnight().assume_utc().unix_timestamp());
    }
    Err(format!(
        "`{value}` is not an ISO 8601 date or epoch seconds"
    ))
}

fn check_cidr(value: &str) -> Result<(), String> {
    let (address, prefix) = match value.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (value, None),
    };
    let address: IpAddr = address
        .parse()
        .map_err(|_| format!("`{value}` is not an IP address or CIDR block"))?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    match prefix.map(str::parse::<u8>) {
        None => Ok(()),
        Some(Ok(bits)) if bits <= max => Ok(()),
        Some(_) => Err(format!("`{value}` is not an IP address or CIDR block")),
    }
}

/// AWS's default key policy for a key in `account`: the account root may
/// do everything, which enables the account's identity policies. Written
/// as AWS's `GetKeyPolicy` returns it.
pub fn default_key_policy(account: &str) -> String {
    format!(
        "{{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {{\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {{\n      \"AWS\" : \"arn:aws:iam::{account}:root\"\n    }},\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  }} ]\n}}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles a key policy of these statements; what compiles must also
    /// validate against the schema.
    fn key_policy(statements: &str) -> Result<String, PolicyError> {
        let cedar = compile(
            &format!(r#"{{"Version": "2012-10-17", "Statement": {statements}}}"#),
            Attachment::KeyPolicy,
        )?;
        if let Err(e) =
            super::super::policy::parse_policy_set(super::super::Source::KeyPolicy, &cedar)
        {
            panic!("{e}\n{cedar}");
        }
        Ok(cedar)
    }

    #[test]
    fn globs_match_as_iam_does() {
        assert!(glob("get*", "getkeypolicy"));
        assert!(glob("*grant*", "listretirablegrants"));
        assert!(glob("re?ncrypt*", "reencryptfrom"));
        assert!(!glob("get*", "listkeys"));
        assert!(glob("*", ""));
        assert!(!glob("a?", "a"));
    }

    #[test]
    fn actions_are_matched_case_insensitively_with_wildcards() {
        let all = matching_actions(&Value::from("kms:*"), false).unwrap();
        assert_eq!(all.len(), Action::ALL.len());
        let get = matching_actions(&Value::from("KMS:get*"), false).unwrap();
        assert!(get.contains(&Action::GetKeyPolicy) && get.contains(&Action::GetKeyRotationStatus));
        assert!(!get.contains(&Action::Decrypt));
        let grants = matching_actions(&serde_json::json!(["kms:*Grant*"]), false).unwrap();
        assert_eq!(grants.len(), 5, "{grants:?}");
        let not = matching_actions(&Value::from("kms:Decrypt"), true).unwrap();
        assert_eq!(not.len(), Action::ALL.len() - 1);
        assert!(!not.contains(&Action::Decrypt));
        assert!(
            matching_actions(&Value::from("iam:*"), false)
                .unwrap()
                .is_empty()
        );
        assert!(matching_actions(&Value::from("Decrypt"), false).is_err());
    }

    #[test]
    fn the_default_key_policy_compiles_to_one_permit_for_the_account() {
        let cedar = compile(&default_key_policy("111122223333"), Attachment::KeyPolicy).unwrap();
        assert!(
            cedar.contains("@id(\"Enable IAM User Permissions\")"),
            "{cedar}"
        );
        assert!(
            cedar.contains(
                "permit (\n  principal == Account::\"111122223333\",\n  action,\n  resource\n);"
            ),
            "{cedar}"
        );
    }

    #[test]
    fn a_deny_with_not_action_forbids_every_other_action() {
        let cedar = key_policy(
            r#"{"Effect": "Deny", "Principal": "*", "NotAction": ["kms:Decrypt", "kms:Describe*"], "Resource": "*"}"#,
        )
        .unwrap();
        assert!(cedar.contains("forbid"));
        assert!(cedar.contains("Action::\"Encrypt\""));
        assert!(!cedar.contains("Action::\"Decrypt\""));
        assert!(!cedar.contains("Action::\"DescribeKey\""));
    }

    #[test]
    fn a_list_of_principals_becomes_a_disjunction() {
        let cedar = key_policy(
            r#"[{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:user/alice", "444455556666"]}, "Action": "kms:Encrypt", "Resource": "*"}]"#,
        )
        .unwrap();
        assert!(cedar.contains(
            "(principal == User::\"arn:aws:iam::111122223333:user/alice\" || principal == Account::\"444455556666\")"
        ), "{cedar}");
        // NotPrincipal spares a caller only when its account is listed too.
        let not = key_policy(
            r#"{"Effect": "Deny", "NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:role/admin", "111122223333"]}, "Action": "kms:*", "Resource": "*"}"#,
        )
        .unwrap();
        assert!(
            not.contains("!(principal == Role::\"arn:aws:iam::111122223333:role/admin\" || principal == Account::\"111122223333\")"),
            "{not}"
        );
        let without_account = key_policy(
            r#"{"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:role/admin"}, "Action": "kms:*", "Resource": "*"}"#,
        )
        .unwrap();
        assert!(!without_account.contains("when"), "{without_account}");
        assert!(
            key_policy(
                r#"{"Effect": "Allow", "NotPrincipal": {"AWS": "111122223333"}, "Action": "kms:*", "Resource": "*"}"#
            )
            .is_err()
        );
        // An account in a Deny covers every principal of the account.
        let deny = key_policy(
            r#"{"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::444455556666:root"}, "Action": "kms:*", "Resource": "*"}"#,
        )
        .unwrap();
        assert!(
            deny.contains("principal in Account::\"444455556666\","),
            "{deny}"
        );
        // A Sid cannot end its comment.
        let injected = key_policy(
            r#"{"Sid": "x\npermit (principal, action, resource);\n//", "Effect": "Deny", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*"}"#,
        )
        .unwrap();
        let set =
            super::super::policy::parse_policy_set(super::super::Source::KeyPolicy, &injected)
                .unwrap();
        assert_eq!(set.policies().count(), 1, "{injected}");
        assert!(!injected.contains("\npermit"), "{injected}");
    }

    #[test]
    fn conditions_compile_with_iam_absent_key_rules() {
        let cedar = key_policy(
            r#"{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
                "Condition": {
                  "StringEquals": {"kms:EncryptionContext:Dept": ["Finance", "HR"], "kms:CallerAccount": "111122223333"},
                  "StringNotEqualsIfExists": {"kms:ViaService": "s3.us-east-1.amazonaws.com"},
                  "StringLikeIfExists": {"kms:RequestAlias": "alias/app-*"},
                  "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["Dept"]},
                  "ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["Dept", "Team"]},
                  "Bool": {"aws:SecureTransport": "true"},
                  "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.1"]},
                  "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
                  "Null": {"aws:SourceVpc": "true"}
                }}"#,
        )
        .unwrap();
        for part in [
            r#"(context.encryption_context_folded.hasTag("dept") && (context.encryption_context_folded.getTag("dept") == "Finance" || context.encryption_context_folded.getTag("dept") == "HR"))"#,
            r#"context.caller_account == "111122223333""#,
            r#"(if context has via_service then !(context.via_service == "s3.us-east-1.amazonaws.com") else true)"#,
            r#"(if context has request_alias then context.request_alias like "alias/app-*" else true)"#,
            r#"["Dept"].containsAll(context.encryption_context_keys)"#,
            r#"context.encryption_context_keys.containsAny(["Dept", "Team"])"#,
            r#"context.secure_transport == true"#,
            r#"(context.source_ip.isInRange(ip("10.0.0.0/8")) || context.source_ip.isInRange(ip("192.0.2.1")))"#,
            r#"context.current_time < 1893456000"#,
            "\n  && true",
        ] {
            assert!(cedar.contains(part), "missing {part} in\n{cedar}");
        }
        super::super::policy::parse_policy_set(super::super::Source::KeyPolicy, &cedar).unwrap();
    }

    #[test]
    fn principal_and_key_facts_validate_against_the_schema() {
        let cedar = key_policy(
            r#"{"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "arn:aws:kms:*:111122223333:key/*",
                "Condition": {
                  "StringEquals": {"aws:PrincipalTag/team": "${aws:PrincipalTag/owner}", "aws:ResourceTag/env": "prod", "aws:PrincipalType": "User"},
                  "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin-*"},
                  "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/prod"},
                  "NumericGreaterThan": {"aws:EpochTime": 1700000000},
                  "StringEqualsIgnoreCase": {"kms:ViaService": "S3.us-east-1.AMAZONAWS.com", "kms:KeySpec": "symmetric_default"},
                  "NotIpAddress": {"aws:SourceIp": "2001:db8::/32"},
                  "BoolIfExists": {"kms:MultiRegion": "false"},
                  "Bool": {"kms:GrantIsForAWSResource": true},
                  "Null": {"kms:EncryptionContext:Dept": "false", "aws:username": "true"}
                }}"#,
        )
        .unwrap();
        for part in [
            r#"(resource is Key && (resource.arn like "arn:aws:kms:*:111122223333:key/*"))"#,
            r#"(resource is Key && resource.hasTag("env") && resource.getTag("env") == "prod")"#,
            r#"(context has principal_tags && context.principal_tags.hasTag("team") && (context has principal_tags && context.principal_tags.hasTag("owner") && context.principal_tags.getTag("team") == context.principal_tags.getTag("owner")))"#,
            r#"(if (resource is Key || context has multi_region) then (if resource is Key then resource.multi_region else (if context has multi_region then context.multi_region else false)) == false else true)"#,
            r#"(action in [Action::"CreateGrant", Action::"ListGrants", Action::"RevokeGrant"] && (context has via_service) == true)"#,
            r#"(context.encryption_context_folded.hasTag("dept"))"#,
        ] {
            assert!(cedar.contains(part), "missing {part} in\n{cedar}");
        }
        assert!(
            cedar.contains(r#"context.principal_arn like "arn:aws:iam::*:role/admin-*""#),
            "{cedar}"
        );
        assert!(
            cedar.contains(r#"context.via_service == "s3.us-east-1.amazonaws.com""#),
            "{cedar}"
        );
        assert!(
            cedar.contains(r#"(if resource is Key then resource.key_spec else (if context has key_spec then context.key_spec else "")) == "SYMMETRIC_DEFAULT""#),
            "{cedar}"
        );
        assert!(cedar.contains(r#"!(context has username)"#), "{cedar}");
        assert!(
            cedar.contains(r#"!(context.source_ip.isInRange(ip("2001:db8::/32")))"#),
            "{cedar}"
        );
    }

    #[test]
    fn request_parameter_keys_validate_against_the_schema() {
        let cedar = key_policy(
            r#"{"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
                "Condition": {
                  "StringNotEquals": {"kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT", "kms:KeySpec": "SYMMETRIC_DEFAULT"},
                  "ForAnyValue:StringEquals": {"kms:GrantOperations": ["Decrypt", "RetireGrant"]},
                  "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]},
                  "StringLike": {"kms:GranteePrincipal": "arn:aws:iam::*:role/*", "aws:RequestTag/team": "pay*"},
                  "Bool": {"kms:ReEncryptOnSameKey": "true", "kms:BypassPolicyLockoutSafetyCheck": "true"},
                  "NumericLessThan": {"kms:RotationPeriodInDays": 180, "kms:ScheduleKeyDeletionPendingWindowInDays": "30"},
                  "DateGreaterThan": {"kms:ValidTo": "2030-01-01"},
                  "StringEqualsIgnoreCase": {"kms:WrappingAlgorithm": "rsaes_oaep_sha_256", "kms:WrappingKeySpec": "rsa_4096", "kms:ExpirationModel": "key_material_expires"},
                  "StringEquals": {"kms:GrantConstraintType": "EncryptionContextEquals", "kms:RetiringPrincipal": "arn:aws:iam::111122223333:root"}
                }}"#,
        )
        .unwrap();
        for part in [
            r#"(context has grant_operations && context.grant_operations.containsAny(["Decrypt", "RetireGrant"]))"#,
            r#"(if context has tag_keys then ["team"].containsAll(context.tag_keys) else true)"#,
            r#"(context has request_tags && context.request_tags.hasTag("team") && context.request_tags.getTag("team") like "pay*")"#,
            r#"(context has valid_to && context.valid_to > 1893456000)"#,
            r#"context.wrapping_algorithm == "RSAES_OAEP_SHA_256""#,
        ] {
            assert!(cedar.contains(part), "missing {part} in\n{cedar}");
        }
    }

    #[test]
    fn for_all_values_holds_for_an_absent_or_empty_key() {
        let cedar = key_policy(
            r#"{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
                "Condition": {"ForAllValues:StringEquals": {"kms:ResourceAliases": ["alias/a"]}}}"#,
        )
        .unwrap();
        assert!(
            cedar.contains(
                r#"(if resource is Key && !resource.aliases.isEmpty() then ["alias/a"].containsAll(resource.aliases) else true)"#
            ),
            "{cedar}"
        );
    }

    #[test]
    fn faults_name_the_statement_and_the_element() {
        let cases = [
            (
                r#"{"Principal": "*", "Action": "kms:*", "Resource": "*"}"#,
                "statement 1: missing `Effect`",
            ),
            (
                r#"[{"Sid": "a", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}, {"Sid": "b", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": {"StringEqualz": {"aws:username": "x"}}}]"#,
                "statement `b`: unknown condition operator `StringEqualz`",
            ),
            (
                r#"{"Effect": "Allow", "Principal": {"AWS": "bob"}, "Action": "kms:*", "Resource": "*"}"#,
                "`bob` is not a valid principal",
            ),
            (
                r#"{"Effect": "Permit", "Principal": "*", "Action": "kms:*", "Resource": "*"}"#,
                "`Effect` must be",
            ),
            (
                r#"{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": {"StringLike": {"kms:RequestAlias": "alias/a?"}}}"#,
                "`?` wildcard",
            ),
            (
                r#"{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": {"StringEquals": {"aws:userid": "AIDA"}}}"#,
                "`aws:userid` yet",
            ),
        ];
        for (statements, expected) in cases {
            let error = key_policy(statements).unwrap_err();
            assert!(error.0.contains(expected), "{expected} not in {error}");
        }
        assert!(
            compile("{", Attachment::KeyPolicy)
                .unwrap_err()
                .0
                .contains("not valid JSON")
        );
        assert!(compile(r#"{"Statement": []}"#, Attachment::KeyPolicy).is_err());
    }

    #[test]
    fn policy_variables_stand_for_their_key() {
        let cedar = key_policy(
            r#"{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
                "Condition": {"StringEquals": {"kms:EncryptionContext:owner": "${aws:username}"}}}"#,
        )
        .unwrap();
        assert!(cedar.contains(r#"(context has username && context.encryption_context_folded.getTag("owner") == context.username)"#), "{cedar}");
        let old = compile(
            r#"{"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
                "Condition": {"StringEquals": {"kms:EncryptionContext:owner": "${aws:username}"}}}}"#,
            Attachment::KeyPolicy,
        )
        .unwrap();
        assert!(old.contains(r#"== "${aws:username}""#), "{old}");
    }
}
