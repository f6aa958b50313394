//! A Segment-Spec message, parsed without copying: strings are borrowed where they can be,
//! and every value whose type the schema decides (traits, properties) is kept as its raw
//! JSON text, so numbers are read exactly.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

/// An object key: borrowed from the line unless it has escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// The raw JSON values of an object, in order (objects in messages are small: a linear
/// search beats a map). A repeated key: the first one counts.
#[derive(Debug, Default)]
pub(crate) struct RawMap<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> RawMap<'a> {
    /// The value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// Every entry, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &'a RawValue)> + '_ {
        self.0.iter().map(|(k, v)| (k.as_ref(), *v))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawMap<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor;
        impl<'de> serde::de::Visitor<'de> for MapVisitor {
            type Value = RawMap<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawMap<'de>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8).min(64));
                while let Some((Key(k), v)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(RawMap(out))
            }
        }
        d.deserialize_map(MapVisitor)
    }
}

/// A message; fields the engine does not use (integrations, version, writeKey, …) are
/// skipped.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Message<'a> {
    #[serde(rename = "type", borrow)]
    pub(crate) kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub(crate) user_id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub(crate) anonymous_id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub(crate) previous_id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub(crate) group_id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub(crate) event: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub(crate) category: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub(crate) traits: Option<RawMap<'a>>,
    #[serde(default, borrow)]
    pub(crate) properties: Option<RawMap<'a>>,
    #[serde(default, borrow)]
    pub(crate) message_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub(crate) timestamp: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub(crate) original_timestamp: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub(crate) received_at: Option<Cow<'a, str>>,
    /// Never the event time: when the client sent a batch, not when things happened.
    #[serde(default, borrow)]
    #[allow(dead_code)]
    pub(crate) sent_at: Option<Cow<'a, str>>,
    /// Every field of `context`, raw (`traits`, `consent`, `timezone`, `locale`, …).
    #[serde(default, borrow)]
    pub(crate) context: Option<RawMap<'a>>,
}

/// `context.consent`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Consent<'a> {
    #[serde(default, borrow)]
    pub(crate) category_preferences: Option<BTreeMap<Cow<'a, str>, bool>>,
}

/// A raw JSON value as a string: a string's content, a number's text, `None` for null.
pub(crate) fn id_text(raw: &RawValue) -> Result<Option<String>, ()> {
    let text = raw.get().trim();
    if text == "null" {
        return Ok(None);
    }
    if text.starts_with('"') {
        return serde_json::from_str::<String>(text)
            .map(Some)
            .map_err(|_| ());
    }
    if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return Ok(Some(text.to_string()));
    }
    Err(())
}

/// The deepest nesting of arrays and objects accepted in a message.
pub(crate) const MAX_DEPTH: usize = 64;

/// Whether `line` nests arrays and objects deeper than `max` (brackets inside strings do
/// not count). The parser's own limit does not apply to values kept raw. A line with at
/// most `max` opening brackets in all is answered by one counting pass.
pub(crate) fn too_deep(line: &str, max: usize) -> bool {
    if line.bytes().filter(|&b| b == b'[' || b == b'{').count() <= max {
        return false;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in line.as_bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::too_deep;

    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert!(!too_deep(r#"{"a":[{"b":"[[[[{{{{\"[["}]}"#, 3));
        assert!(too_deep(r#"{"a":[{"b":[1]}]}"#, 3));
        assert!(!too_deep(r#"{"a":[{"b":[1]}]}"#, 4));
    }
}
