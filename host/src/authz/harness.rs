//! The offline policy-testing harness behind `keyward policy validate`,
//! `keyward policy test` and `keyward policy explain`. It needs no server
//! and no store: it evaluates request cases against the policies in a
//! folder with exactly the decision procedure the service uses.
//!
//! A case folder (the layout of cedar-examples):
//!
//! ```text
//! key-policy.cedar        the key policy in Cedar, or
//! key-policy.json         in IAM JSON (default: the owning account root may do everything)
//! identity/<account>.cedar  identity policies of an account (optional)
//! identity/<account>/user/<UserName>/<PolicyName>.json  an IAM JSON policy of a user
//! identity/<account>/role/<RoleName>/<PolicyName>.json  ... or of a role
//! grants.json             grants on the keys (optional), AWS's grant shape plus "KeyId"
//! entities.json           Cedar JSON entities: the keys (with attributes and tags),
//!                         and principals with tags
//! ALLOW/*.json            requests that must be allowed
//! DENY/*.json             requests that must be denied
//! ```
//!
//! A request file:
//!
//! ```json
//! { "principal": "arn:aws:iam::111122223333:user/alice",
//!   "action": "Decrypt",
//!   "resource": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
//!   "context": { "request_region": "us-east-1",
//!                "encryption_context": { "Department": "Finance" },
//!                "via_service": "s3.us-east-1.amazonaws.com", "source_ip": "10.0.0.1",
//!                "secure_transport": true, "current_time": 1767225600, "grant_tokens": [] } }
//! ```
//!
//! For operations on no key (`CreateKey`, `ListKeys`, ...), `resource` is the
//! account id. The guardrails shipped with keyward always apply.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cedar_policy::{Entities, Entity, EntityUid};
use serde::Deserialize;

use super::request::{self, RequestFacts, RequestParameters};
use super::{
    Action, Decision, KeyPolicies, PolicyError, Principal, Question, Source, account_uid, decide,
    identity_policy_set, parse_policy_set, schema,
};
use crate::model::{EncryptionContext, GrantConstraints, GrantOperation};
use crate::store::GrantRecord;

/// A problem with a case folder or file (not a failed case).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct HarnessError {
    /// The file or folder.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn error(path: &Path, message: impl Into<String>) -> HarnessError {
    HarnessError {
        path: path.display().to_string(),
        message: message.into(),
    }
}

fn read(path: &Path) -> Result<String, HarnessError> {
    std::fs::read_to_string(path).map_err(|e| error(path, e.to_string()))
}

/// The context part of a request file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseContext {
    /// The request region; defaults to the key's region.
    pub request_region: Option<String>,
    /// The encryption context.
    #[serde(default)]
    pub encryption_context: EncryptionContext,
    /// `kms:ViaService`.
    pub via_service: Option<String>,
    /// The caller's address.
    pub source_ip: Option<std::net::IpAddr>,
    /// The alias the request used.
    pub request_alias: Option<String>,
    /// Whether the request came over TLS.
    #[serde(default)]
    pub secure_transport: bool,
    /// Seconds since the epoch.
    #[serde(default)]
    pub current_time: i64,
    /// Grant tokens.
    #[serde(default)]
    pub grant_tokens: Vec<String>,
    /// The request members that condition keys test, by their context
    /// names: `{"grant_operations": ["Decrypt"], "encryption_algorithm":
    /// "SYMMETRIC_DEFAULT"}`.
    #[serde(default)]
    pub parameters: Option<RequestParameters>,
}

/// A request file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows (optional).
    #[serde(default)]
    pub description: Option<String>,
    /// The principal's ARN (or account id for the root).
    pub principal: String,
    /// The operation, such as `Decrypt`.
    pub action: String,
    /// The key ARN, or the account id for operations on no key.
    pub resource: String,
    /// The request context.
    #[serde(default)]
    pub context: CaseContext,
}

/// A grant in `grants.json`: AWS's `GrantListEntry` shape.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct GrantFile {
    key_id: String,
    grant_id: String,
    grantee_principal: String,
    #[serde(default)]
    retiring_principal: Option<String>,
    operations: Vec<GrantOperation>,
    #[serde(default)]
    constraints: Option<GrantConstraints>,
    #[serde(default)]
    name: Option<String>,
}

/// The policies and entities of a case folder.
#[derive(Debug)]
pub struct Folder {
    root: PathBuf,
    key_policy: Option<String>,
    identity: BTreeMap<String, Vec<(String, String)>>,
    grants: Vec<(String, GrantRecord)>,
    entities: Entities,
}

/// The outcome of one case.
#[derive(Debug)]
pub struct CaseResult {
    /// The request file.
    pub file: PathBuf,
    /// Whether the folder (ALLOW or DENY) expected it allowed.
    pub expected_allow: bool,
    /// The decision.
    pub decision: Decision,
}

impl CaseResult {
    /// Whether the decision is the expected one.
    pub fn passed(&self) -> bool {
        self.decision.allowed == self.expected_allow
    }
}

impl Folder {
    /// Loads a case folder.
    pub fn load(root: &Path) -> Result<Self, HarnessError> {
        let cedar_path = root.join("key-policy.cedar");
        let json_path = root.join("key-policy.json");
        if cedar_path.is_file() && json_path.is_file() {
            return Err(error(
                root,
                "a case folder has one key policy: key-policy.cedar or key-policy.json",
            ));
        }
        let key_policy_path = if json_path.is_file() {
            json_path
        } else {
            cedar_path
        };
        let key_policy = if key_policy_path.is_file() {
            let text = read(&key_policy_path)?;
            parse_policy_set(Source::KeyPolicy, &text).map_err(|e| error(&key_policy_path, e.0))?;
            Some(text)
        } else {
            None
        };
        let mut identity = BTreeMap::new();
        let identity_dir = root.join("identity");
        if identity_dir.is_dir() {
            for path in cedar_files(&identity_dir)? {
                let account = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_owned();
                if !super::is_account_id(&account) {
                    return Err(error(
                        &path,
                        "identity policy files are named <account id>.cedar",
                    ));
                }
                let text = read(&path)?;
                identity_policy_set(&account, &[(account.clone(), text.clone())])
                    .map_err(|e| error(&path, e.0))?;
                identity
                    .entry(account.clone())
                    .or_insert_with(Vec::new)
                    .push((account, text));
            }
        }
        if identity_dir.is_dir() {
            for (account, name, path) in attached_identity_files(&identity_dir)? {
                let text = read(&path)?;
                identity_policy_set(&account, &[(name.clone(), text.clone())])
                    .map_err(|e| error(&path, e.0))?;
                identity
                    .entry(account)
                    .or_insert_with(Vec::new)
                    .push((name, text));
            }
        }
        let grants_path = root.join("grants.json");
        let mut grants = Vec::new();
        if grants_path.is_file() {
            let parsed: Vec<GrantFile> = serde_json::from_str(&read(&grants_path)?)
                .map_err(|e| error(&grants_path, e.to_string()))?;
            for grant in parsed {
                grants.push((
                    grant.key_id.clone(),
                    GrantRecord {
                        grant_token: String::new(),
                        region: String::new(),
                        key_id: grant.key_id,
                        issuing_account: String::new(),
                        created_ms: 0,
                        grant_id: grant.grant_id,
                        name: grant.name,
                        grantee_principal: grant.grantee_principal,
                        retiring_principal: grant.retiring_principal,
                        operations: grant.operations,
                        constraints: grant.constraints,
                    },
                ));
            }
        }
        let entities_path = root.join("entities.json");
        let entities = if entities_path.is_file() {
            Entities::from_json_str(&read(&entities_path)?, Some(schema::schema()))
                .map_err(|e| error(&entities_path, e.to_string()))?
        } else {
            Entities::empty()
        };
        Ok(Self {
            root: root.to_path_buf(),
            key_policy,
            identity,
            grants,
            entities,
        })
    }

    fn attr_string(&self, uid: &EntityUid, attr: &str) -> Option<String> {
        let entity = self.entities.get(uid)?;
        let value = entity.attr(attr)?.ok()?;
        // A string attribute prints as a quoted Cedar literal.
        let text = value.to_string();
        serde_json::from_str::<String>(&text).ok()
    }

    /// Decides one request.
    pub fn decide(&self, case: &Case, file: &Path) -> Result<Decision, HarnessError> {
        let action = Action::from_name(&case.action)
            .ok_or_else(|| error(file, format!("`{}` is not a keyward action", case.action)))?;
        let principal =
            Principal::parse(&case.principal).map_err(|e| error(file, e.to_string()))?;
        let principal = match self.entities.get(&principal.entity_uid()) {
            // Principal tags come from entities.json when it lists the principal.
            Some(entity) => {
                let tags = entity_tags(entity);
                principal.with_tags(tags)
            }
            None => principal,
        };

        let (resource, resource_account, key_arn, key_region) = if action.on_key() {
            let uid = request::key_uid(&case.resource);
            if self.entities.get(&uid).is_none() {
                return Err(error(
                    file,
                    format!("key `{}` is not in entities.json", case.resource),
                ));
            }
            let account = self
                .attr_string(&uid, "account")
                .ok_or_else(|| error(file, "the key in entities.json has no `account`"))?;
            let region = self
                .attr_string(&uid, "region")
                .ok_or_else(|| error(file, "the key in entities.json has no `region`"))?;
            (uid, account, Some(case.resource.clone()), region)
        } else {
            if !super::is_account_id(&case.resource) {
                return Err(error(
                    file,
                    format!(
                        "`{}` acts on no key: its resource is an account id",
                        case.action
                    ),
                ));
            }
            (
                account_uid(&case.resource),
                case.resource.clone(),
                None,
                String::new(),
            )
        };

        let ctx = &case.context;
        let region = ctx.request_region.clone().unwrap_or(key_region);
        let facts = RequestFacts {
            region: &region,
            via_service: ctx.via_service.as_deref(),
            source_ip: ctx.source_ip,
            request_alias: ctx.request_alias.as_deref(),
            grant_tokens: &ctx.grant_tokens,
            now_ms: ctx.current_time.saturating_mul(1000),
            secure_transport: ctx.secure_transport,
            encryption_context: Some(&ctx.encryption_context),
            parameters: ctx.parameters.as_ref(),
        };
        let (context, request_entities) =
            request::context(&principal, &facts).map_err(|e| error(file, e.0))?;
        let mut extra: Vec<Entity> = request::principal_entities(&principal)
            .into_iter()
            .filter(|e| self.entities.get(&e.uid()).is_none())
            .collect();
        if self.entities.get(&account_uid(&resource_account)).is_none()
            && resource_account != principal.account()
        {
            extra.push(Entity::with_uid(account_uid(&resource_account)));
        }
        extra.extend(request_entities);
        let entities = self
            .entities
            .clone()
            .add_entities(extra, None)
            .map_err(|e| error(file, e.to_string()))?;

        let identity = identity_policy_set(
            principal.account(),
            self.identity
                .get(principal.account())
                .map_or(&[][..], Vec::as_slice),
        )
        .map_err(|e| error(&self.root, e.0))?;
        let key_policies = match &key_arn {
            Some(arn) => {
                let text = self
                    .key_policy
                    .clone()
                    .unwrap_or_else(|| super::shipped::default_key_policy(&resource_account));
                let grants: Vec<GrantRecord> = self
                    .grants
                    .iter()
                    .filter(|(key, _)| key == arn)
                    .map(|(_, g)| g.clone())
                    .collect();
                let aws_managed = self
                    .attr_string(&request::key_uid(arn), "key_manager")
                    .as_deref()
                    == Some("AWS");
                Some(
                    KeyPolicies::new(arn, aws_managed, &text, &grants)
                        .map_err(|e| error(&self.root, e.0))?,
                )
            }
            None => None,
        };
        let question = Question {
            principal: &principal,
            action,
            resource,
            resource_account: &resource_account,
            entities: &entities,
            context,
        };
        Ok(decide(&question, key_policies.as_ref(), &identity))
    }

    /// Runs every case in `ALLOW/` and `DENY/`, in file-name order.
    pub fn run(&self) -> Result<Vec<CaseResult>, HarnessError> {
        let mut results = Vec::new();
        for (folder, expected_allow) in [("ALLOW", true), ("DENY", false)] {
            let dir = self.root.join(folder);
            if !dir.is_dir() {
                continue;
            }
            for file in files_with_extension(&dir, "json")? {
                let case: Case =
                    serde_json::from_str(&read(&file)?).map_err(|e| error(&file, e.to_string()))?;
                let decision = self.decide(&case, &file)?;
                results.push(CaseResult {
                    file,
                    expected_allow,
                    decision,
                });
            }
        }
        if results.is_empty() {
            return Err(error(&self.root, "no request cases in ALLOW/ or DENY/"));
        }
        Ok(results)
    }
}

fn entity_tags(entity: &Entity) -> BTreeMap<String, String> {
    // Tags are not enumerable through the public API; principals' tags in
    // the harness come from their `tags`, read back through JSON.
    let Ok(json) = entity.to_json_value() else {
        return BTreeMap::new();
    };
    json.get("tags")
        .and_then(|t| t.as_object())
        .map(|tags| {
            tags.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn files_with_extension(dir: &Path, extension: &str) -> Result<Vec<PathBuf>, HarnessError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| error(dir, e.to_string()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    Ok(files)
}

/// The IAM JSON identity policies under `identity/`:
/// `<account>/<user|role>/<Name>/<PolicyName>.json`, as (account, stored
/// name, file).
fn attached_identity_files(
    identity: &Path,
) -> Result<Vec<(String, String, PathBuf)>, HarnessError> {
    let mut found = Vec::new();
    let dirs = |dir: &Path| -> Result<Vec<PathBuf>, HarnessError> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| error(dir, e.to_string()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        Ok(dirs)
    };
    let name_of = |path: &Path| {
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned()
    };
    for account_dir in dirs(identity)? {
        let account = name_of(&account_dir);
        if !super::is_account_id(&account) {
            return Err(error(
                &account_dir,
                "identity policy folders are named <account id>",
            ));
        }
        for kind_dir in dirs(&account_dir)? {
            let kind = name_of(&kind_dir);
            if kind != "user" && kind != "role" {
                return Err(error(&kind_dir, "expected a `user` or `role` folder"));
            }
            for owner_dir in dirs(&kind_dir)? {
                let owner = name_of(&owner_dir);
                for file in files_with_extension(&owner_dir, "json")? {
                    let policy = file
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or_default()
                        .to_owned();
                    found.push((account.clone(), format!("{kind}/{owner}/{policy}"), file));
                }
            }
        }
    }
    Ok(found)
}

fn cedar_files(dir: &Path) -> Result<Vec<PathBuf>, HarnessError> {
    files_with_extension(dir, "cedar")
}

/// Finds every case folder under `root` (folders with `ALLOW/` or `DENY/`).
pub fn case_folders(root: &Path) -> Result<Vec<PathBuf>, HarnessError> {
    let mut found = Vec::new();
    if root.join("ALLOW").is_dir() || root.join("DENY").is_dir() {
        found.push(root.to_path_buf());
        return Ok(found);
    }
    let mut children: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| error(root, e.to_string()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    children.sort();
    for child in children {
        found.extend(case_folders(&child)?);
    }
    Ok(found)
}

/// Validates a policy file, or every `.cedar` file under a folder, plus any
/// `entities.json` and request files. Returns `(file, diagnostics)` for each
/// file with problems.
pub fn validate(path: &Path) -> Result<Vec<(PathBuf, String)>, HarnessError> {
    let mut problems = Vec::new();
    let mut check = |file: &Path| -> Result<(), HarnessError> {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let text = read(file)?;
        let attached_identity = file.strip_prefix(path).ok().and_then(identity_file_name);
        let outcome: Result<(), String> = if let Some((account, stored)) = attached_identity {
            parse_policy_set(
                Source::Identity {
                    account: &account,
                    name: &stored,
                },
                &text,
            )
            .map(|_| ())
            .map_err(|PolicyError(e)| e)
        } else if name.ends_with(".cedar") || name == "key-policy.json" {
            parse_policy_set(Source::KeyPolicy, &text)
                .map(|_| ())
                .map_err(|PolicyError(e)| e)
        } else if name == "entities.json" {
            Entities::from_json_str(&text, Some(schema::schema()))
                .map(|_| ())
                .map_err(|e| e.to_string())
        } else if name == "grants.json" {
            serde_json::from_str::<Vec<GrantFile>>(&text)
                .map(|_| ())
                .map_err(|e| e.to_string())
        } else if name.ends_with(".json") {
            serde_json::from_str::<Case>(&text)
                .map(|_| ())
                .map_err(|e| e.to_string())
        } else {
            Ok(())
        };
        if let Err(diagnostics) = outcome {
            problems.push((file.to_path_buf(), diagnostics));
        }
        Ok(())
    };
    if path.is_file() {
        check(path)?;
    } else {
        walk(path, &mut check)?;
    }
    Ok(problems)
}

/// The account and stored name of an attached identity policy file, from
/// its path below the folder being validated (`.../identity/<account>/
/// <user|role>/<Name>/<PolicyName>.json`).
fn identity_file_name(relative: &Path) -> Option<(String, String)> {
    let parts: Vec<&str> = relative.iter().filter_map(|p| p.to_str()).collect();
    let at = parts.iter().rposition(|p| *p == "identity")?;
    match parts.get(at + 1..)? {
        [account, kind @ ("user" | "role"), owner, file] => {
            let policy = file.strip_suffix(".json")?;
            Some(((*account).to_owned(), format!("{kind}/{owner}/{policy}")))
        }
        _ => None,
    }
}

fn walk(
    dir: &Path,
    visit: &mut dyn FnMut(&Path) -> Result<(), HarnessError>,
) -> Result<(), HarnessError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| error(dir, e.to_string()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            walk(&entry, visit)?;
        } else if entry
            .extension()
            .is_some_and(|e| e == "cedar" || e == "json")
        {
            visit(&entry)?;
        }
    }
    Ok(())
}

/// Explains one request file: loads the case folder it belongs to (the
/// folder holding `ALLOW/` or `DENY/`, or the file's own folder).
pub fn explain(file: &Path) -> Result<(Case, Decision), HarnessError> {
    let parent = file.parent().unwrap_or(Path::new("."));
    let root = match parent.file_name().and_then(|n| n.to_str()) {
        Some("ALLOW" | "DENY") => parent.parent().unwrap_or(Path::new(".")),
        _ => parent,
    };
    let folder = Folder::load(root)?;
    let case: Case = serde_json::from_str(&read(file)?).map_err(|e| error(file, e.to_string()))?;
    let decision = folder.decide(&case, file)?;
    Ok((case, decision))
}
