//! The Cedar view of a request: the principal, key and encryption-context
//! entities and the context record. Built per request from values already
//! in memory; nothing here parses policy text.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;

use cedar_policy::{Context, Entities, Entity, EntityUid, RestrictedExpression};

use super::action::Action;
use super::principal::{Principal, PrincipalKind, account_uid, uid};
use crate::model::EncryptionContext;
use crate::store::KeyRecord;

/// The id of the per-request encryption-context entity.
const ENCRYPTION_CONTEXT_ID: &str = "request";
/// The id of the per-request encryption-context entity with folded keys.
const FOLDED_CONTEXT_ID: &str = "request-folded";
/// The id of the per-request entity of the principal's tags.
const PRINCIPAL_TAGS_ID: &str = "principal";
/// The id of the per-request entity of the tags a request adds.
const REQUEST_TAGS_ID: &str = "request";

/// A request member's text: AWS's enum values are borrowed, what callers
/// send is owned.
pub type Text = std::borrow::Cow<'static, str>;

/// The members of a request that IAM condition keys test
/// (`kms:EncryptionAlgorithm`, `kms:GrantOperations`, ...), each set only by
/// the operations AWS sets it for. In the context they are optional
/// attributes of the same names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RequestParameters {
    /// `kms:EncryptionAlgorithm`.
    pub encryption_algorithm: Option<Text>,
    /// `kms:ReEncryptOnSameKey`.
    pub re_encrypt_on_same_key: Option<bool>,
    /// `kms:WrappingAlgorithm`.
    pub wrapping_algorithm: Option<Text>,
    /// `kms:WrappingKeySpec`.
    pub wrapping_key_spec: Option<Text>,
    /// `kms:ExpirationModel`.
    pub expiration_model: Option<Text>,
    /// `kms:ValidTo`, in seconds since the epoch.
    pub valid_to: Option<i64>,
    /// `kms:BypassPolicyLockoutSafetyCheck`.
    pub bypass_policy_lockout_safety_check: Option<bool>,
    /// `kms:RotationPeriodInDays`.
    pub rotation_period_in_days: Option<i64>,
    /// `kms:ScheduleKeyDeletionPendingWindowInDays`.
    pub pending_window_in_days: Option<i64>,
    /// `kms:GrantOperations`.
    pub grant_operations: Option<Vec<Text>>,
    /// `kms:GranteePrincipal`.
    pub grantee_principal: Option<Text>,
    /// `kms:RetiringPrincipal`.
    pub retiring_principal: Option<Text>,
    /// `kms:GrantConstraintType`.
    pub grant_constraint_type: Option<Text>,
    /// `kms:KeySpec` of a key being created (`CreateKey`).
    pub key_spec: Option<Text>,
    /// `kms:KeyUsage` of a key being created.
    pub key_usage: Option<Text>,
    /// `kms:KeyOrigin` of a key being created.
    pub key_origin: Option<Text>,
    /// `kms:MultiRegion` of a key being created.
    pub multi_region: Option<bool>,
    /// The tags a request adds (`aws:RequestTag/<key>`).
    pub request_tags: Option<BTreeMap<String, String>>,
    /// The tag keys a request names (`aws:TagKeys`).
    pub tag_keys: Option<Vec<Text>>,
    /// `kms:SigningAlgorithm`.
    pub signing_algorithm: Option<Text>,
    /// `kms:MessageType`.
    pub message_type: Option<Text>,
    /// `kms:MacAlgorithm`.
    pub mac_algorithm: Option<Text>,
    /// `kms:KeyAgreementAlgorithm`.
    pub key_agreement_algorithm: Option<Text>,
    /// `kms:DataKeyPairSpec`.
    pub data_key_pair_spec: Option<Text>,
}

impl RequestParameters {
    /// No parameters: what most operations have.
    pub const NONE: Self = Self {
        encryption_algorithm: None,
        re_encrypt_on_same_key: None,
        wrapping_algorithm: None,
        wrapping_key_spec: None,
        expiration_model: None,
        valid_to: None,
        bypass_policy_lockout_safety_check: None,
        rotation_period_in_days: None,
        pending_window_in_days: None,
        grant_operations: None,
        grantee_principal: None,
        retiring_principal: None,
        grant_constraint_type: None,
        key_spec: None,
        key_usage: None,
        key_origin: None,
        multi_region: None,
        request_tags: None,
        tag_keys: None,
        signing_algorithm: None,
        message_type: None,
        mac_algorithm: None,
        key_agreement_algorithm: None,
        data_key_pair_spec: None,
    };

    /// The context attributes, for those that are set.
    fn record(&self, record: &mut Vec<(String, RestrictedExpression)>) {
        let mut text = |name: &str, value: Option<&str>| {
            if let Some(value) = value {
                record.push((name.to_owned(), string(value)));
            }
        };
        text("encryption_algorithm", self.encryption_algorithm.as_deref());
        text("wrapping_algorithm", self.wrapping_algorithm.as_deref());
        text("wrapping_key_spec", self.wrapping_key_spec.as_deref());
        text("expiration_model", self.expiration_model.as_deref());
        text("grantee_principal", self.grantee_principal.as_deref());
        text("retiring_principal", self.retiring_principal.as_deref());
        text(
            "grant_constraint_type",
            self.grant_constraint_type.as_deref(),
        );
        text("key_spec", self.key_spec.as_deref());
        text("key_usage", self.key_usage.as_deref());
        text("key_origin", self.key_origin.as_deref());
        text("signing_algorithm", self.signing_algorithm.as_deref());
        text("message_type", self.message_type.as_deref());
        text("mac_algorithm", self.mac_algorithm.as_deref());
        text(
            "key_agreement_algorithm",
            self.key_agreement_algorithm.as_deref(),
        );
        text("data_key_pair_spec", self.data_key_pair_spec.as_deref());
        let flags = [
            ("re_encrypt_on_same_key", self.re_encrypt_on_same_key),
            (
                "bypass_policy_lockout_safety_check",
                self.bypass_policy_lockout_safety_check,
            ),
            ("multi_region", self.multi_region),
        ];
        for (name, value) in flags {
            if let Some(value) = value {
                record.push((name.to_owned(), RestrictedExpression::new_bool(value)));
            }
        }
        let numbers = [
            ("valid_to", self.valid_to),
            ("rotation_period_in_days", self.rotation_period_in_days),
            ("pending_window_in_days", self.pending_window_in_days),
        ];
        for (name, value) in numbers {
            if let Some(value) = value {
                record.push((name.to_owned(), RestrictedExpression::new_long(value)));
            }
        }
        if let Some(operations) = &self.grant_operations {
            record.push((
                "grant_operations".to_owned(),
                RestrictedExpression::new_set(operations.iter().map(|o| string(o))),
            ));
        }
        if let Some(keys) = &self.tag_keys {
            record.push((
                "tag_keys".to_owned(),
                RestrictedExpression::new_set(keys.iter().map(|k| string(k))),
            ));
        }
    }
}

/// The request facts that policies can test (the `RequestContext` of the
/// schema).
#[derive(Debug, Clone, Default)]
pub struct RequestFacts<'a> {
    /// The region the request was addressed to.
    pub region: &'a str,
    /// The service the request came through (`kms:ViaService`).
    pub via_service: Option<&'a str>,
    /// The caller's network address.
    pub source_ip: Option<IpAddr>,
    /// The alias the request named the key by.
    pub request_alias: Option<&'a str>,
    /// The request's grant tokens.
    pub grant_tokens: &'a [String],
    /// The time of the request, in milliseconds since the epoch.
    pub now_ms: i64,
    /// Whether the request came over TLS.
    pub secure_transport: bool,
    /// The encryption context.
    pub encryption_context: Option<&'a EncryptionContext>,
    /// The request members that condition keys test.
    pub parameters: Option<&'a RequestParameters>,
}

fn string(value: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(value.to_owned())
}

fn tags(map: &BTreeMap<String, String>) -> Vec<(String, RestrictedExpression)> {
    map.iter().map(|(k, v)| (k.clone(), string(v))).collect()
}

fn entity(
    uid: EntityUid,
    attrs: Vec<(String, RestrictedExpression)>,
    parents: Vec<EntityUid>,
    tags: Vec<(String, RestrictedExpression)>,
) -> Entity {
    // Attribute values here are literals, whose evaluation cannot fail; the
    // fallback drops the attributes rather than the entity.
    Entity::new_with_tags(uid.clone(), attrs, parents.clone(), tags)
        .unwrap_or_else(|_| Entity::new_no_attrs(uid, parents.into_iter().collect()))
}

/// The entities of a principal: itself (for a user or role, in its account)
/// and its account.
pub fn principal_entities(principal: &Principal) -> Vec<Entity> {
    let account = account_uid(principal.account());
    let mut entities = vec![Entity::with_uid(account.clone())];
    if !matches!(principal.kind(), PrincipalKind::AccountRoot) {
        entities.push(entity(
            principal.entity_uid(),
            vec![
                ("arn".into(), string(principal.arn())),
                ("account".into(), string(principal.account())),
            ],
            vec![account],
            tags(principal.tags()),
        ));
    }
    entities
}

/// `Key::"<arn>"`.
pub fn key_uid(arn: &str) -> EntityUid {
    uid("Key", arn)
}

/// The entity of a key, with its tags and aliases.
pub fn key_entity(
    key: &KeyRecord,
    key_tags: &BTreeMap<String, String>,
    aliases: &[String],
) -> Entity {
    let attrs = vec![
        ("arn".into(), string(&key.arn)),
        ("key_id".into(), string(&key.key_id)),
        ("region".into(), string(&key.region)),
        ("account".into(), string(&key.account)),
        ("key_spec".into(), string(key.key_spec.as_str())),
        ("key_usage".into(), string(key.key_usage.as_str())),
        ("origin".into(), string(key.origin.as_str())),
        (
            "multi_region".into(),
            RestrictedExpression::new_bool(key.multi_region),
        ),
        (
            "multi_region_type".into(),
            string(if key.multi_region { "PRIMARY" } else { "" }),
        ),
        ("key_manager".into(), string(key.key_manager.as_str())),
        ("key_state".into(), string(key.state.as_str())),
        (
            "aliases".into(),
            RestrictedExpression::new_set(aliases.iter().map(|a| string(a))),
        ),
    ];
    entity(key_uid(&key.arn), attrs, Vec::new(), tags(key_tags))
}

/// The context record and the entities it refers to (the encryption
/// context, the principal's tags, and the tags a request adds).
///
/// A context that cannot be built fails the request: an empty one in its
/// place would make every conditional forbid error, and Cedar skips a
/// policy that errors.
pub fn context(
    principal: &Principal,
    facts: &RequestFacts<'_>,
) -> Result<(Context, Vec<Entity>), super::PolicyError> {
    let empty = EncryptionContext::new();
    let pairs = facts.encryption_context.unwrap_or(&empty);
    let ec_uid = uid("EncryptionContext", ENCRYPTION_CONTEXT_ID);
    let ec_entity = entity(ec_uid.clone(), Vec::new(), Vec::new(), tags(pairs));
    let mut entities = vec![ec_entity];
    // Entities are the costly part of a request's build: the folded copy is
    // one only when folding changes a key, and the principal's tags one
    // only when it has tags.
    let folded_uid = if pairs.keys().any(|k| k.chars().any(char::is_uppercase)) {
        let folded_uid = uid("EncryptionContext", FOLDED_CONTEXT_ID);
        let folded: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.clone()))
            .collect();
        entities.push(entity(
            folded_uid.clone(),
            Vec::new(),
            Vec::new(),
            tags(&folded),
        ));
        folded_uid
    } else {
        ec_uid.clone()
    };
    let mut record = vec![
        ("request_region".to_owned(), string(facts.region)),
        ("caller_account".to_owned(), string(principal.account())),
        ("principal_arn".to_owned(), string(principal.arn())),
        ("principal_type".to_owned(), string(principal.iam_type())),
        (
            "grant_tokens".to_owned(),
            RestrictedExpression::new_set(facts.grant_tokens.iter().map(|t| string(t))),
        ),
        (
            "current_time".to_owned(),
            RestrictedExpression::new_long(facts.now_ms.div_euclid(1000)),
        ),
        (
            "secure_transport".to_owned(),
            RestrictedExpression::new_bool(facts.secure_transport),
        ),
        (
            "encryption_context".to_owned(),
            RestrictedExpression::new_entity_uid(ec_uid),
        ),
        (
            "encryption_context_folded".to_owned(),
            RestrictedExpression::new_entity_uid(folded_uid),
        ),
        (
            "encryption_context_keys".to_owned(),
            RestrictedExpression::new_set(pairs.keys().map(|k| string(k))),
        ),
    ];
    if let Some(service) = facts.via_service {
        record.push(("via_service".to_owned(), string(service)));
    }
    if let Some(ip) = facts.source_ip {
        record.push((
            "source_ip".to_owned(),
            // An IPv4 client of a dual-stack listener arrives as
            // `::ffff:a.b.c.d`, which Cedar's `ip()` does not take.
            RestrictedExpression::new_ip(ip.to_canonical().to_string()),
        ));
    }
    if let Some(alias) = facts.request_alias {
        record.push(("request_alias".to_owned(), string(alias)));
    }
    if let PrincipalKind::User(name) = principal.kind() {
        // aws:username is the name without its path.
        let name = name.rsplit('/').next().unwrap_or(name);
        record.push(("username".to_owned(), string(name)));
    }
    if !principal.tags().is_empty() {
        let tags_uid = uid("Tags", PRINCIPAL_TAGS_ID);
        entities.push(entity(
            tags_uid.clone(),
            Vec::new(),
            Vec::new(),
            tags(principal.tags()),
        ));
        record.push((
            "principal_tags".to_owned(),
            RestrictedExpression::new_entity_uid(tags_uid),
        ));
    }
    if let Some(parameters) = facts.parameters {
        parameters.record(&mut record);
        if let Some(added) = &parameters.request_tags {
            let added_uid = uid("Tags", REQUEST_TAGS_ID);
            entities.push(entity(
                added_uid.clone(),
                Vec::new(),
                Vec::new(),
                tags(added),
            ));
            record.push((
                "request_tags".to_owned(),
                RestrictedExpression::new_entity_uid(added_uid),
            ));
        }
    }
    let context = Context::from_pairs(record).map_err(|e| super::PolicyError(e.to_string()))?;
    Ok((context, entities))
}

/// What a request's entities and context are built from: everything that
/// goes into them, so that equal inputs may share one build.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PreparedKey {
    action: Option<Action>,
    principal: Principal,
    key: Option<KeyFacts>,
    resource_account: String,
    region: String,
    via_service: Option<String>,
    source_ip: Option<IpAddr>,
    request_alias: Option<String>,
    grant_tokens: Vec<String>,
    now_seconds: i64,
    secure_transport: bool,
    encryption_context: Option<EncryptionContext>,
    parameters: Option<RequestParameters>,
}

/// The fields of a key that its Cedar entity is built from (and no others:
/// the policy text and description would only make the cache key slower
/// to hash).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct KeyFacts {
    arn: String,
    state: crate::model::KeyState,
    key_spec: crate::model::KeySpec,
    key_usage: crate::model::KeyUsage,
    origin: crate::model::OriginType,
    key_manager: crate::model::KeyManager,
    multi_region: bool,
    tags: BTreeMap<String, String>,
    aliases: Vec<String>,
}

impl KeyFacts {
    fn of(key: &KeyRecord) -> Self {
        // INVARIANT: the ARN fixes key_id, region and account, the entity's
        // other attributes.
        Self {
            arn: key.arn.clone(),
            state: key.state,
            key_spec: key.key_spec,
            key_usage: key.key_usage,
            origin: key.origin,
            key_manager: key.key_manager,
            multi_region: key.multi_region,
            tags: key.tags.clone(),
            aliases: key.aliases.clone(),
        }
    }
}

/// A request's Cedar entities and context.
#[derive(Debug)]
pub struct Prepared {
    /// The principal, account, key and encryption-context entities.
    pub entities: Entities,
    /// The context record.
    pub context: Context,
}

/// Built entities and contexts, by their inputs. Building them evaluates
/// every attribute and computes the entity hierarchy, which costs more than
/// the decision itself; a steady stream of similar requests (same caller,
/// key, context and second) shares one build. Past [`PREPARED_LIMIT`]
/// entries the cache starts over.
#[derive(Debug, Default)]
pub struct PreparedCache {
    entries: RwLock<HashMap<PreparedKey, Arc<Prepared>>>,
}

/// How many builds the cache keeps.
pub const PREPARED_LIMIT: usize = 4096;

impl PreparedCache {
    /// The entities and context of a request by `principal` on `key` (or,
    /// for operations on no key, on `resource_account`).
    pub fn prepare(
        &self,
        action: Option<Action>,
        principal: &Principal,
        key: Option<&KeyRecord>,
        resource_account: &str,
        facts: &RequestFacts<'_>,
    ) -> Result<Arc<Prepared>, super::PolicyError> {
        let id = PreparedKey {
            action,
            principal: principal.clone(),
            key: key.map(KeyFacts::of),
            resource_account: resource_account.to_owned(),
            region: facts.region.to_owned(),
            via_service: facts.via_service.map(str::to_owned),
            source_ip: facts.source_ip,
            request_alias: facts.request_alias.map(str::to_owned),
            grant_tokens: facts.grant_tokens.to_vec(),
            now_seconds: facts.now_ms.div_euclid(1000),
            secure_transport: facts.secure_transport,
            encryption_context: facts.encryption_context.cloned(),
            parameters: facts.parameters.cloned(),
        };
        if let Some(prepared) = self.entries.read().get(&id) {
            return Ok(Arc::clone(prepared));
        }
        let prepared = Arc::new(build(action, principal, key, resource_account, facts)?);
        let mut entries = self.entries.write();
        if entries.len() >= PREPARED_LIMIT {
            entries.clear();
        }
        entries.insert(id, Arc::clone(&prepared));
        Ok(prepared)
    }
}

/// Builds a request's entities and context.
pub fn build(
    action: Option<Action>,
    principal: &Principal,
    key: Option<&KeyRecord>,
    resource_account: &str,
    facts: &RequestFacts<'_>,
) -> Result<Prepared, super::PolicyError> {
    let (context, request_entities) = context(principal, facts)?;
    let mut entities = principal_entities(principal);
    if let Some(action) = action {
        entities.extend(action_entities(action));
    }
    if let Some(key) = key {
        entities.push(key_entity(key, &key.tags, &key.aliases));
    }
    if resource_account != principal.account() {
        entities.push(Entity::with_uid(account_uid(resource_account)));
    }
    entities.extend(request_entities);
    Ok(Prepared {
        entities: Entities::from_entities(entities, None)
            .map_err(|e| super::PolicyError(e.to_string()))?,
        context,
    })
}

/// The entity of `action` and those of its groups, from the schema: what
/// Cedar needs to decide `action in Action::"<group>"` in a condition.
/// Scopes have their groups expanded when policies are parsed, so this is
/// added only for policies that need it (`action` is `Some`): the hierarchy
/// makes every evaluation slower.
fn action_entities(action: Action) -> Vec<Entity> {
    static BY_ACTION: OnceLock<HashMap<EntityUid, Vec<Entity>>> = OnceLock::new();
    let by_action = BY_ACTION.get_or_init(|| {
        let Ok(all) = super::schema::schema().action_entities() else {
            return HashMap::new();
        };
        all.iter()
            .map(|entity| {
                let uid = entity.uid();
                let mut group = vec![entity.clone()];
                if let Some(ancestors) = all.ancestors(&uid) {
                    group.extend(ancestors.filter_map(|a| all.get(a).cloned()));
                }
                (uid, group)
            })
            .collect()
    });
    by_action
        .get(&action.entity_uid())
        .cloned()
        .unwrap_or_default()
}
