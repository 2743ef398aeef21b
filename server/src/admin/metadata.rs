//! A user's metadata: the JSON object the operator's systems set (a purchase tier, an org)
//! and policies read at every mint. Reads carry an entity tag; a write may name the tag it
//! read (`If-Match`) and is refused when the metadata changed since, so two billing events
//! cannot overwrite each other. The tag is a digest of the stored value: writing the same
//! value twice keeps it.
//!
//! A merge patch (RFC 7396) without `If-Match` is still never lost: it is applied to the
//! value read and written only if that value is still the stored one, and tried again on
//! the newer value when it is not.

use aws_lc_rs::digest::{SHA256, digest};
use serde_json::{Map, Value, json};

use super::{AdminError, AdminResult, Operator, audit, users};
use crate::store::{StoreError, User};

/// A stored value's entity tag, quoted as HTTP writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ETag(String);

impl ETag {
    fn of(stored: &str) -> Self {
        let d = digest(&SHA256, stored.as_bytes());
        let hex: String = d.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self(format!("\"{hex}\""))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an `If-Match` header asks for (RFC 9110 §13.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No header: write whatever is stored.
    None,
    /// `*`: the user must exist, which every write checks anyway.
    Any,
    /// One of these strong tags must be the current one.
    OneOf(Vec<String>),
}

impl Precondition {
    pub fn parse(header: Option<&str>) -> Self {
        match header.map(str::trim) {
            None => Self::None,
            Some("*") => Self::Any,
            // Weak tags never match under the strong comparison If-Match uses.
            Some(list) => Self::OneOf(
                list.split(',')
                    .map(str::trim)
                    .filter(|t| t.starts_with('"'))
                    .map(str::to_string)
                    .collect(),
            ),
        }
    }

    fn holds(&self, current: &ETag) -> bool {
        match self {
            Self::None | Self::Any => true,
            Self::OneOf(tags) => tags.iter().any(|t| t == current.as_str()),
        }
    }

    fn pins(&self) -> bool {
        matches!(self, Self::OneOf(_))
    }
}

/// The metadata and its tag.
#[derive(Debug)]
pub struct Metadata {
    pub value: Value,
    pub etag: ETag,
}

impl Metadata {
    fn of(user: &User) -> AdminResult<Self> {
        let value: Value = serde_json::from_str(&user.metadata)
            .map_err(|e| AdminError::Store(StoreError::Corrupt(Box::new(e))))?;
        Ok(Self {
            value,
            etag: ETag::of(&user.metadata),
        })
    }
}

pub async fn get(op: &Operator<'_>, id: &str) -> AdminResult<Metadata> {
    Metadata::of(&users::find(op, id).await?)
}

/// Replaces the metadata with `value`, a JSON object.
pub async fn put(
    op: &Operator<'_>,
    id: &str,
    value: Value,
    precondition: &Precondition,
) -> AdminResult<Metadata> {
    if !value.is_object() {
        return Err(AdminError::Invalid("metadata must be a JSON object".into()));
    }
    write(op, id, precondition, "user.metadata.put", |_| value.clone()).await
}

/// Applies an RFC 7396 merge patch (a JSON object) to the metadata.
pub async fn patch(
    op: &Operator<'_>,
    id: &str,
    patch: Value,
    precondition: &Precondition,
) -> AdminResult<Metadata> {
    if !patch.is_object() {
        return Err(AdminError::Invalid(
            "a metadata merge patch must be a JSON object".into(),
        ));
    }
    write(op, id, precondition, "user.metadata.patch", |current| {
        let mut next = current.clone();
        merge_patch(&mut next, &patch);
        next
    })
    .await
}

/// How often a write that lost a race without `If-Match` reads again and retries.
const ATTEMPTS: usize = 8;

/// The largest metadata a user may have, as JSON text: every mint for the user hands it to
/// the bound policies, whose memory is capped.
pub const MAX_BYTES: usize = 64 << 10;

/// Reads, checks the precondition, computes the new value from the current one, and writes
/// it only if the current one is still stored.
async fn write(
    op: &Operator<'_>,
    id: &str,
    precondition: &Precondition,
    action: &str,
    next: impl Fn(&Value) -> Value,
) -> AdminResult<Metadata> {
    for _ in 0..ATTEMPTS {
        let user = users::find(op, id).await?;
        let current = Metadata::of(&user)?;
        if !precondition.holds(&current.etag) {
            return Err(AdminError::PreconditionFailed);
        }
        let value = next(&current.value);
        if value.to_string().len() > MAX_BYTES {
            return Err(AdminError::Invalid(format!(
                "metadata may hold at most {} KiB of JSON",
                MAX_BYTES >> 10
            )));
        }
        let written = op
            .stores
            .users
            .set_metadata(&user.sub, &value, Some(&user.metadata))
            .await?;
        if written {
            audit::record(
                op,
                action,
                user.sub.as_str(),
                Some(json!({"metadata": value})),
            )
            .await;
            return get(op, id).await;
        }
        // Someone wrote in between: a pinned write has lost; an unpinned one reads again.
        if precondition.pins() {
            return Err(AdminError::PreconditionFailed);
        }
    }
    Err(AdminError::Conflict(
        "the metadata kept changing while this write was tried; try again".into(),
    ))
}

/// RFC 7396 §2: members set to `null` are removed, objects merge recursively, anything
/// else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        for (k, v) in patch {
            if v.is_null() {
                map.remove(k);
            } else {
                merge_patch(map.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The examples of RFC 7396 Appendix A.
    #[test]
    fn merge_patch_follows_the_rfc_examples() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (target, patch, expected) in cases {
            let mut t = target.clone();
            merge_patch(&mut t, &patch);
            assert_eq!(t, expected, "{target} + {patch}");
        }
    }

    #[test]
    fn if_match_compares_strong_tags() {
        let tag = ETag::of("{}");
        assert!(Precondition::parse(None).holds(&tag));
        assert!(Precondition::parse(Some("*")).holds(&tag));
        assert!(Precondition::parse(Some(tag.as_str())).holds(&tag));
        let listed = format!("\"other\", {}", tag.as_str());
        assert!(Precondition::parse(Some(&listed)).holds(&tag));
        let weak = format!("W/{}", tag.as_str());
        assert!(!Precondition::parse(Some(&weak)).holds(&tag));
        assert!(!Precondition::parse(Some("\"stale\"")).holds(&tag));
        assert_ne!(ETag::of("{}"), ETag::of("{\"tier\":\"pro\"}"));
    }
}
