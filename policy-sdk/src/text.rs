//! [`Text`]: a string read from config or metadata that borrows from the request.
//!
//! A policy reads its config and the user's metadata at every call; copying every name and
//! list entry out of the JSON was about a tenth of purchase-tier's guest instructions
//! (callgrind). serde borrows a
//! `Cow<str>` only where it is a struct's field; inside a `Vec` or a map it always copies.
//! `Text` borrows wherever it is, and copies only a string that holds JSON escapes.

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::ops::Deref;

use serde::de::{Deserialize, Deserializer, Error, Visitor};

/// A string from config or metadata: borrowed from the request unless it holds escapes.
///
/// Use it where a struct would hold a `String`, at any depth:
///
/// ```
/// use std::collections::BTreeMap;
/// use lanyard_policy::{Request, Text};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Config<'a> {
///     #[serde(borrow)]
///     tiers: BTreeMap<Text<'a>, Vec<Text<'a>>>,
/// }
///
/// let req = Request::default()
///     .with_config(serde_json::json!({"tiers": {"free": ["read"]}}));
/// let config: Config = req.config().unwrap();
/// assert_eq!(config.tiers["free"], ["read"]);
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text<'a>(Cow<'a, str>);

impl<'a> Text<'a> {
    /// The string, borrowed from the request where it could be.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An owned `String`, for a claim value that must outlive the request.
    pub fn into_owned(self) -> String {
        self.0.into_owned()
    }
}

impl Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Lets a map keyed by `Text` be looked up with a `&str`.
impl Borrow<str> for Text<'_> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(s: &'a str) -> Self {
        Self(Cow::Borrowed(s))
    }
}

/// Formats as the string itself (`"pro"`), as a `String` would, so log lines and error
/// messages read the same whichever a policy holds.
impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Text<'_> {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Text<'_> {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for Text<'_> {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: Error>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(s)))
            }

            fn visit_str<E: Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(s.to_owned())))
            }

            fn visit_string<E: Error>(self, s: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(s)))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn borrows_inside_containers_and_copies_only_escaped_strings() {
        let json = r#"{"plain": ["a", "b\"c"]}"#;
        let parsed: BTreeMap<Text<'_>, Vec<Text<'_>>> = serde_json::from_str(json).unwrap();
        let list = &parsed["plain"];
        assert!(matches!(list[0].0, Cow::Borrowed("a")));
        assert!(matches!(&list[1].0, Cow::Owned(s) if s == "b\"c"));
        assert!(parsed.keys().all(|k| matches!(k.0, Cow::Borrowed(_))));
    }

    #[test]
    fn reads_as_a_str() {
        let t = Text::from("pro");
        assert_eq!(t, "pro");
        assert_eq!(t.len(), 3);
        assert_eq!(t.to_string(), "pro");
        assert_eq!(format!("{t:?}"), "\"pro\"");
        assert_eq!(t.into_owned(), String::from("pro"));
    }

    #[test]
    fn anything_but_a_string_is_refused() {
        assert!(serde_json::from_str::<Text<'_>>("3").is_err());
    }
}
