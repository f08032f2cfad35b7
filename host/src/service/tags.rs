//! Tags: TagResource, UntagResource, ListResourceTags. Tags are key
//! attributes that Cedar policies can test (`resource.getTag("team")`).

use super::Op;
use std::collections::BTreeMap;

use super::error::Violation;
use super::{Caller, Details, Kms, KmsError, KmsResult};
use crate::authz::Action;
use crate::authz::request::RequestParameters;
use crate::model::{
    EmptyResponse, ListResourceTagsRequest, ListResourceTagsResponse, Tag, TagResourceRequest,
    UntagResourceRequest,
};
use std::borrow::Cow;

/// AWS's limits: 50 tags a key, keys of 1..128 and values of 0..256
/// characters, no `aws:` prefix.
const MAX_TAGS: usize = 50;
const MAX_TAG_KEY: usize = 128;
const MAX_TAG_VALUE: usize = 256;

/// The length constraints of a tag key at `path` (AWS's shape).
fn key_violation(key: &str, path: String) -> Option<Violation> {
    let length = key.chars().count();
    if length == 0 {
        Some(Violation::too_short(key, path, 1))
    } else if length > MAX_TAG_KEY {
        Some(Violation::too_long(key, path, MAX_TAG_KEY))
    } else {
        None
    }
}

fn check_reserved(key: &str) -> KmsResult<()> {
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(KmsError::reserved_tag_prefix());
    }
    Ok(())
}

/// `existing` with `tags` added (a tag with an existing key replaces it),
/// checked as AWS checks them: the members' lengths first, all reported
/// together (`ValidationException`), then the reserved prefix, keys named
/// twice and the total (`TagException`).
pub(super) fn validated(
    tags: &[Tag],
    existing: &BTreeMap<String, String>,
) -> KmsResult<BTreeMap<String, String>> {
    let mut violations = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        let at = |member: &str| format!("tags.{}.member.{member}", i + 1);
        violations.extend(key_violation(&tag.tag_key, at("tagKey")));
        if tag.tag_value.chars().count() > MAX_TAG_VALUE {
            violations.push(Violation::too_long(
                &tag.tag_value,
                at("tagValue"),
                MAX_TAG_VALUE,
            ));
        }
    }
    if !violations.is_empty() {
        return Err(KmsError::constraints(&violations));
    }
    let mut named = std::collections::BTreeSet::new();
    for tag in tags {
        check_reserved(&tag.tag_key)?;
        if !named.insert(tag.tag_key.as_str()) {
            return Err(KmsError::duplicate_tag_keys());
        }
    }
    let mut merged = existing.clone();
    for tag in tags {
        merged.insert(tag.tag_key.clone(), tag.tag_value.clone());
    }
    if merged.len() > MAX_TAGS {
        return Err(KmsError::too_many_tags());
    }
    Ok(merged)
}

impl Kms {
    /// `TagResource`: adds or replaces tags.
    pub fn tag_resource(
        &self,
        caller: &Caller,
        request: TagResourceRequest,
    ) -> KmsResult<EmptyResponse> {
        self.run(
            caller,
            Op::write("TagResource"),
            request,
            |trail, request| {
                let parameters = RequestParameters {
                    request_tags: Some(
                        request
                            .tags
                            .iter()
                            .map(|t| (t.tag_key.clone(), t.tag_value.clone()))
                            .collect(),
                    ),
                    tag_keys: Some(
                        request
                            .tags
                            .iter()
                            .map(|t| Cow::Owned(t.tag_key.clone()))
                            .collect(),
                    ),
                    ..RequestParameters::NONE
                };
                let key = self.admit(
                    caller,
                    trail,
                    Action::TagResource,
                    &request.key_id,
                    Details::parameters(&parameters),
                )?;
                let tags = validated(&request.tags, &key.tags)?;
                self.store
                    .update_key(&crate::store::KeyRecord { tags, ..key })?;
                Ok(EmptyResponse {})
            },
        )
    }

    /// `UntagResource`: removes tags by key (absent keys are ignored).
    pub fn untag_resource(
        &self,
        caller: &Caller,
        request: UntagResourceRequest,
    ) -> KmsResult<EmptyResponse> {
        self.run(
            caller,
            Op::write("UntagResource"),
            request,
            |trail, request| {
                let violations: Vec<Violation> = request
                    .tag_keys
                    .iter()
                    .enumerate()
                    .filter_map(|(i, key)| key_violation(key, format!("tagKeys.{}.member", i + 1)))
                    .collect();
                if !violations.is_empty() {
                    return Err(KmsError::constraints(&violations));
                }
                for key in &request.tag_keys {
                    check_reserved(key)?;
                }
                let parameters = RequestParameters {
                    tag_keys: Some(request.tag_keys.iter().cloned().map(Cow::Owned).collect()),
                    ..RequestParameters::NONE
                };
                let key = self.admit(
                    caller,
                    trail,
                    Action::UntagResource,
                    &request.key_id,
                    Details::parameters(&parameters),
                )?;
                let mut tags = key.tags.clone();
                for name in &request.tag_keys {
                    tags.remove(name);
                }
                self.store
                    .update_key(&crate::store::KeyRecord { tags, ..key })?;
                Ok(EmptyResponse {})
            },
        )
    }

    /// `ListResourceTags`, in key order, paginated.
    pub fn list_resource_tags(
        &self,
        caller: &Caller,
        request: ListResourceTagsRequest,
    ) -> KmsResult<ListResourceTagsResponse> {
        self.run(
            caller,
            Op::read("ListResourceTags"),
            request,
            |trail, request| {
                let limit = request.limit.unwrap_or(50);
                if !(1..=50).contains(&limit) {
                    return Err(KmsError::validation("`Limit` must be between 1 and 50"));
                }
                let key = self.admit(
                    caller,
                    trail,
                    Action::ListResourceTags,
                    &request.key_id,
                    Details::default(),
                )?;
                let limit = usize::try_from(limit).unwrap_or(1);
                let mut tags: Vec<Tag> = key
                    .tags
                    .iter()
                    .filter(|(k, _)| {
                        request
                            .marker
                            .as_ref()
                            .is_none_or(|m| k.as_str() > m.as_str())
                    })
                    .map(|(k, v)| Tag {
                        tag_key: k.clone(),
                        tag_value: v.clone(),
                    })
                    .collect();
                let truncated = tags.len() > limit;
                tags.truncate(limit);
                Ok(ListResourceTagsResponse {
                    next_marker: truncated
                        .then(|| tags.last().map(|t| t.tag_key.clone()))
                        .flatten(),
                    tags,
                    truncated,
                })
            },
        )
    }
}
