//! Tags: TagResource, UntagResource, ListResourceTags. Tags are key
//! attributes that Cedar policies can test (`resource.getTag("team")`).

use super::Op;
use std::collections::BTreeMap;

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

fn check_tag_key(key: &str) -> KmsResult<()> {
    let length = key.chars().count();
    if length == 0 || length > MAX_TAG_KEY {
        return Err(KmsError::Tag(format!(
            "tag key `{key}` must be 1 to {MAX_TAG_KEY} characters"
        )));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(KmsError::Tag(format!(
            "tag key `{key}` uses the reserved prefix `aws:`"
        )));
    }
    Ok(())
}

/// `existing` with `tags` added (a tag with an existing key replaces it),
/// after checking each tag and the total.
pub(super) fn validated(
    tags: &[Tag],
    existing: &BTreeMap<String, String>,
) -> KmsResult<BTreeMap<String, String>> {
    let mut merged = existing.clone();
    for tag in tags {
        check_tag_key(&tag.tag_key)?;
        if tag.tag_value.chars().count() > MAX_TAG_VALUE {
            return Err(KmsError::Tag(format!(
                "the value of tag `{}` must be at most {MAX_TAG_VALUE} characters",
                tag.tag_key
            )));
        }
        merged.insert(tag.tag_key.clone(), tag.tag_value.clone());
    }
    if merged.len() > MAX_TAGS {
        return Err(KmsError::LimitExceeded(format!(
            "a key can have at most {MAX_TAGS} tags"
        )));
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
                if request.tags.is_empty() {
                    return Err(KmsError::validation("`Tags` must hold at least one tag"));
                }
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
                if request.tag_keys.is_empty() {
                    return Err(KmsError::validation("`TagKeys` must hold at least one key"));
                }
                for key in &request.tag_keys {
                    check_tag_key(key)?;
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
