//! Normalization of identifier values, by kind.

use crate::error::{DropReason, SchemaError};
use crate::schema::Normalizer;

/// A normalizer ready to run: its phone region parsed once at schema build time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CompiledNormalizer {
    Email,
    #[cfg(feature = "phone")]
    Phone(phonenumber::country::Id),
    Trim,
    CaseInsensitive,
}

impl CompiledNormalizer {
    /// Compiles a normalizer definition of kind `kind`.
    pub(crate) fn compile(kind: &str, def: &Normalizer) -> Result<Self, SchemaError> {
        Ok(match def {
            Normalizer::Email => CompiledNormalizer::Email,
            Normalizer::Trim => CompiledNormalizer::Trim,
            Normalizer::CaseInsensitive => CompiledNormalizer::CaseInsensitive,
            Normalizer::Phone { default_region } => compile_phone(kind, default_region)?,
        })
    }

    /// Writes the normalized form of `raw` into `out` (cleared first).
    pub(crate) fn normalize_into(&self, raw: &str, out: &mut String) -> Result<(), DropReason> {
        out.clear();
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(DropReason::Empty);
        }
        match self {
            CompiledNormalizer::Trim => out.push_str(trimmed),
            CompiledNormalizer::CaseInsensitive => push_lowercase(trimmed, out),
            CompiledNormalizer::Email => {
                push_lowercase(trimmed, out);
                if !looks_like_email(out) {
                    return Err(DropReason::Unparseable);
                }
            }
            #[cfg(feature = "phone")]
            CompiledNormalizer::Phone(region) => normalize_phone(*region, trimmed, out)?,
        }
        Ok(())
    }

    /// The normalized form of `raw`, allocating.
    pub(crate) fn normalize(&self, raw: &str) -> Result<String, DropReason> {
        let mut out = String::new();
        self.normalize_into(raw, &mut out)?;
        Ok(out)
    }
}

fn push_lowercase(s: &str, out: &mut String) {
    if s.is_ascii() {
        let start = out.len();
        out.push_str(s);
        if let Some(pushed) = out.get_mut(start..) {
            pushed.make_ascii_lowercase();
        }
    } else {
        out.extend(s.chars().flat_map(char::to_lowercase));
    }
}

/// One `@`, with something on both sides and no white space anywhere.
fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !has_white_space(s)
        }
        None => false,
    }
}

/// `s.chars().any(char::is_whitespace)`, byte-wise for ASCII (the usual case).
fn has_white_space(s: &str) -> bool {
    if s.is_ascii() {
        // The ASCII white space of `char::is_whitespace`: space and \t \n \x0B \x0C \r.
        s.bytes().any(|b| b == b' ' || (b'\t'..=b'\r').contains(&b))
    } else {
        s.chars().any(char::is_whitespace)
    }
}

#[cfg(feature = "phone")]
fn compile_phone(kind: &str, region: &str) -> Result<CompiledNormalizer, SchemaError> {
    let bad = || SchemaError::BadRegion {
        kind: kind.to_string(),
        region: region.to_string(),
    };
    if region.len() != 2 || !region.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad());
    }
    let id: phonenumber::country::Id = region.parse().map_err(|_| bad())?;
    Ok(CompiledNormalizer::Phone(id))
}

#[cfg(not(feature = "phone"))]
fn compile_phone(kind: &str, _region: &str) -> Result<CompiledNormalizer, SchemaError> {
    Err(SchemaError::PhoneFeatureDisabled {
        kind: kind.to_string(),
    })
}

#[cfg(feature = "phone")]
fn normalize_phone(
    region: phonenumber::country::Id,
    s: &str,
    out: &mut String,
) -> Result<(), DropReason> {
    use std::fmt::Write;
    // libphonenumber rejects inputs over 250 characters itself; the bound keeps its regexes cheap.
    if s.len() > 64 {
        return Err(DropReason::Unparseable);
    }
    let number = phonenumber::parse(Some(region), s).map_err(|_| DropReason::Unparseable)?;
    if !phonenumber::is_valid(&number) {
        return Err(DropReason::Unparseable);
    }
    write!(out, "{}", number.format().mode(phonenumber::Mode::E164))
        .map_err(|_| DropReason::Unparseable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lowercased() {
        let n = CompiledNormalizer::Email;
        assert_eq!(
            n.normalize(" E17_0@EXAMPLE.COM ").unwrap(),
            "e17_0@example.com"
        );
        assert_eq!(n.normalize("Ånn@Example.com").unwrap(), "ånn@example.com");
        assert_eq!(n.normalize("   "), Err(DropReason::Empty));
        assert_eq!(n.normalize("no-at-sign"), Err(DropReason::Unparseable));
        assert_eq!(n.normalize("a@b@c"), Err(DropReason::Unparseable));
        assert_eq!(n.normalize("a b@c"), Err(DropReason::Unparseable));
        assert_eq!(n.normalize("@c"), Err(DropReason::Unparseable));
        assert_eq!(n.normalize("a\x0Bb@c"), Err(DropReason::Unparseable));
        assert_eq!(n.normalize("a\u{a0}b@c"), Err(DropReason::Unparseable));
    }

    #[test]
    fn ascii_white_space_agrees_with_char_is_whitespace() {
        for b in 0u8..128 {
            let s = format!("a{}b", char::from(b));
            assert_eq!(
                has_white_space(&s),
                s.chars().any(char::is_whitespace),
                "{b}"
            );
        }
    }

    #[test]
    fn trim_keeps_case_and_case_insensitive_folds_it() {
        assert_eq!(CompiledNormalizer::Trim.normalize(" U1 ").unwrap(), "U1");
        assert_eq!(
            CompiledNormalizer::CaseInsensitive
                .normalize(" U1 ")
                .unwrap(),
            "u1"
        );
    }

    #[cfg(feature = "phone")]
    #[test]
    fn phone_becomes_e164() {
        let n = CompiledNormalizer::compile(
            "phone",
            &Normalizer::Phone {
                default_region: "US".into(),
            },
        )
        .unwrap();
        assert_eq!(n.normalize("(415) 555-2671").unwrap(), "+14155552671");
        assert_eq!(n.normalize("+44 20 7946 0958").unwrap(), "+442079460958");
        assert_eq!(n.normalize("not a phone"), Err(DropReason::Unparseable));
        assert_eq!(n.normalize("123"), Err(DropReason::Unparseable));
        assert_eq!(
            n.normalize(&"9".repeat(10_000)),
            Err(DropReason::Unparseable)
        );
    }

    #[cfg(feature = "phone")]
    #[test]
    fn bad_region_is_a_schema_error() {
        for region in ["XX", "us", "USA", ""] {
            let err = CompiledNormalizer::compile(
                "phone",
                &Normalizer::Phone {
                    default_region: region.into(),
                },
            );
            assert!(
                matches!(err, Err(SchemaError::BadRegion { .. })),
                "{region}"
            );
        }
    }
}
