//! [`Dialect`]: how each SQL engine spells names, literals and the few functions the
//! generated queries need.

use serde::{Deserialize, Serialize};

use crate::sql::SqlError;

/// A SQL engine the generated queries run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// ClickHouse (and chDB): `UInt64` arithmetic wraps, `xxHash64` is built in.
    ClickHouse,
    /// Spark SQL, in non-ANSI mode (`spark.sql.ansi.enabled=false`): sample buckets use
    /// wrapping `BIGINT` multiplication, which ANSI mode refuses with an overflow error.
    SparkSql,
    /// DuckDB.
    DuckDb,
}

impl Dialect {
    /// Every dialect, in a fixed order.
    pub const ALL: [Dialect; 3] = [Dialect::ClickHouse, Dialect::SparkSql, Dialect::DuckDb];

    /// The dialect's name as errors write it.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::ClickHouse => "ClickHouse",
            Dialect::SparkSql => "Spark SQL",
            Dialect::DuckDb => "DuckDB",
        }
    }

    /// A quoted identifier. Names that are empty, hold a control character or the
    /// dialect's quote character are refused rather than escaped: no engine agrees on
    /// how to escape them inside every tool a query passes through.
    pub(crate) fn ident(self, name: &str) -> Result<String, SqlError> {
        let quote = match self {
            Dialect::DuckDb => '"',
            Dialect::ClickHouse | Dialect::SparkSql => '`',
        };
        let unsafe_char =
            |c: char| c.is_control() || c == quote || c == '\\' || c == '"' || c == '`';
        if name.is_empty() || name.len() > 255 || name.chars().any(unsafe_char) {
            return Err(SqlError::UnsafeName {
                name: name.to_string(),
            });
        }
        Ok(format!("{quote}{name}{quote}"))
    }

    /// A text literal holding exactly `s`.
    pub(crate) fn text(self, s: &str) -> String {
        match self {
            // Standard SQL strings: only the quote is special; control characters are
            // spliced in with chr(), so the query stays one line of printable text.
            Dialect::DuckDb => {
                let mut parts = Vec::new();
                let mut plain = String::new();
                for c in s.chars() {
                    if c.is_control() {
                        if !plain.is_empty() {
                            parts.push(format!("'{}'", std::mem::take(&mut plain)));
                        }
                        parts.push(format!("chr({})", u32::from(c)));
                    } else if c == '\'' {
                        plain.push_str("''");
                    } else {
                        plain.push(c);
                    }
                }
                if !plain.is_empty() || parts.is_empty() {
                    parts.push(format!("'{plain}'"));
                }
                if parts.len() == 1 {
                    parts.pop().unwrap_or_default()
                } else {
                    format!("({})", parts.join(" || "))
                }
            }
            // Backslash escapes; every control character as a code.
            Dialect::ClickHouse | Dialect::SparkSql => {
                let mut out = String::with_capacity(s.len() + 2);
                out.push('\'');
                for c in s.chars() {
                    match c {
                        '\'' => out.push_str("\\'"),
                        '\\' => out.push_str("\\\\"),
                        c if c.is_control() => match self {
                            Dialect::ClickHouse => {
                                // ClickHouse reads \xHH as one byte: spell out the UTF-8.
                                let mut buf = [0u8; 4];
                                for b in c.encode_utf8(&mut buf).bytes() {
                                    out.push_str(&format!("\\x{b:02X}"));
                                }
                            }
                            _ => out.push_str(&format!("\\u{:04X}", u32::from(c))),
                        },
                        c => out.push(c),
                    }
                }
                out.push('\'');
                out
            }
        }
    }

    /// A 64-bit signed integer literal (`i64::MIN` has no literal of its own).
    pub(crate) fn int(self, n: i64) -> String {
        if n == i64::MIN {
            format!("({} - 1)", i64::MIN + 1)
        } else if n < 0 {
            format!("({n})")
        } else {
            n.to_string()
        }
    }

    /// Integer division, rounded down, of non-negative integers.
    pub(crate) fn div(self, a: &str, b: &str) -> String {
        match self {
            Dialect::DuckDb => format!("({a} // {b})"),
            Dialect::ClickHouse => format!("intDiv({a}, {b})"),
            Dialect::SparkSql => format!("({a} div {b})"),
        }
    }

    /// `x` widened so sums of 64-bit values cannot overflow.
    pub(crate) fn wide(self, x: &str) -> String {
        match self {
            Dialect::DuckDb => format!("CAST({x} AS HUGEINT)"),
            Dialect::ClickHouse => format!("toInt128({x})"),
            Dialect::SparkSql => format!("CAST({x} AS DECIMAL(38, 0))"),
        }
    }

    /// Whether text `x` starts with `prefix`.
    pub(crate) fn starts_with(self, x: &str, prefix: &str) -> String {
        match self {
            Dialect::DuckDb => format!("starts_with({x}, {prefix})"),
            Dialect::ClickHouse => format!("startsWith({x}, {prefix})"),
            Dialect::SparkSql => format!("startswith({x}, {prefix})"),
        }
    }

    /// Whether the text array `x` holds `item`.
    pub(crate) fn array_has(self, x: &str, item: &str) -> String {
        match self {
            Dialect::DuckDb => format!("list_contains({x}, {item})"),
            Dialect::ClickHouse => format!("has({x}, {item})"),
            Dialect::SparkSql => format!("array_contains({x}, {item})"),
        }
    }

    /// The text array `x`, sorted.
    pub(crate) fn array_sorted(self, x: &str) -> String {
        match self {
            Dialect::DuckDb => format!("list_sort({x})"),
            Dialect::ClickHouse => format!("arraySort({x})"),
            Dialect::SparkSql => format!("array_sort({x})"),
        }
    }

    /// A text array literal (items already literals).
    pub(crate) fn array(self, items: &[String]) -> String {
        match (self, items.is_empty()) {
            (Dialect::DuckDb, true) => "CAST([] AS VARCHAR[])".into(),
            (Dialect::ClickHouse, true) => "CAST([] AS Array(String))".into(),
            (Dialect::SparkSql, true) => "CAST(array() AS ARRAY<STRING>)".into(),
            (Dialect::DuckDb | Dialect::ClickHouse, false) => format!("[{}]", items.join(", ")),
            (Dialect::SparkSql, false) => format!("array({})", items.join(", ")),
        }
    }

    /// The first row's value of `v` ordered by `key` (`smallest`: the least key).
    pub(crate) fn arg(self, smallest: bool, v: &str, key: &str) -> String {
        let f = match (self, smallest) {
            (Dialect::DuckDb, true) => "arg_min",
            (Dialect::DuckDb, false) => "arg_max",
            (Dialect::ClickHouse, true) => "argMin",
            (Dialect::ClickHouse, false) => "argMax",
            (Dialect::SparkSql, true) => "min_by",
            (Dialect::SparkSql, false) => "max_by",
        };
        format!("{f}({v}, {key})")
    }

    /// The sample bucket `mix64(key ^ seed) % 100` of the unsigned 64-bit `key` column of
    /// `source` (which has a `profile_id` column), as a query of `(profile_id, bucket)`.
    /// Each step of SplitMix64's finalizer is one subquery, so the key is read once.
    pub(crate) fn bucket_query(self, source: &str, seed: u64) -> String {
        const C1: u64 = 0xBF58_476D_1CE4_E5B9;
        const C2: u64 = 0x94D0_49BB_1331_11EB;
        let (xor, shr, mul, u64_lit): Spelling = match self {
            Dialect::DuckDb => (
                |a, b| format!("xor({a}, {b})"),
                |a, n| format!("({a} >> {n})"),
                |a, c| {
                    format!(
                        "CAST((CAST({a} AS UHUGEINT) * CAST({c} AS UHUGEINT)) & CAST(18446744073709551615 AS UHUGEINT) AS UBIGINT)"
                    )
                },
                |n| format!("CAST({n} AS UBIGINT)"),
            ),
            Dialect::ClickHouse => (
                |a, b| format!("bitXor({a}, {b})"),
                |a, n| format!("bitShiftRight({a}, {n})"),
                |a, c| format!("({a} * toUInt64({c}))"),
                |n| format!("toUInt64({n})"),
            ),
            // BIGINT holds the same 64 bits, read as signed.
            Dialect::SparkSql => (
                |a, b| format!("({a} ^ {b})"),
                |a, n| format!("shiftrightunsigned({a}, {n})"),
                |a, c| format!("({a} * CAST({} AS BIGINT))", signed(c)),
                |n| format!("CAST({} AS BIGINT)", signed(n)),
            ),
        };
        let step0 = format!(
            "SELECT profile_id, {} AS z FROM ({source}) AS k0",
            xor("k", &u64_lit(seed))
        );
        let step1 = format!(
            "SELECT profile_id, {} AS z FROM ({step0}) AS k1",
            mul(&xor("z", &shr("z", 30)), C1)
        );
        let step2 = format!(
            "SELECT profile_id, {} AS z FROM ({step1}) AS k2",
            mul(&xor("z", &shr("z", 27)), C2)
        );
        let last = xor("z", &shr("z", 31));
        let bucket = match self {
            // The unsigned value's remainder from the signed one: 2^64 ≡ 16 (mod 100).
            Dialect::SparkSql => {
                format!("pmod(pmod({last}, 100) + CASE WHEN {last} < 0 THEN 16 ELSE 0 END, 100)")
            }
            _ => format!("({last} % 100)"),
        };
        format!("SELECT profile_id, {bucket} AS bucket FROM ({step2}) AS k3")
    }

    /// The key of an identifier value column `v`: a canonical decimal `u64` is the number,
    /// any other value its xxHash64 (seed 0) — only ClickHouse has that hash.
    pub(crate) fn identifier_key(self, v: &str) -> Result<String, SqlError> {
        match self {
            Dialect::ClickHouse => Ok(format!(
                "if(match({v}, '^(0|[1-9][0-9]{{0,19}})$') AND (length({v}) < 20 OR {v} <= '18446744073709551615'), toUInt64OrZero({v}), xxHash64({v}))"
            )),
            _ => Err(SqlError::Unsupported {
                what: "a sample keyed by an identifier kind (needs xxHash64 with seed 0)".into(),
                dialect: self,
            }),
        }
    }
}

/// How a dialect spells xor, a logical right shift, a wrapping multiplication by a
/// constant and an unsigned 64-bit literal.
type Spelling = (
    fn(&str, &str) -> String,
    fn(&str, u32) -> String,
    fn(&str, u64) -> String,
    fn(u64) -> String,
);

/// The `i64` with the bits of `n`.
fn signed(n: u64) -> i64 {
    i64::from_ne_bytes(n.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_every_special_character() {
        let s = "a'b\\c\0d\ne😀";
        assert_eq!(
            Dialect::DuckDb.text(s),
            "('a''b\\c' || chr(0) || 'd' || chr(10) || 'e😀')"
        );
        assert_eq!(Dialect::ClickHouse.text(s), "'a\\'b\\\\c\\x00d\\x0Ae😀'");
        assert_eq!(Dialect::SparkSql.text(s), "'a\\'b\\\\c\\u0000d\\u000Ae😀'");
        assert_eq!(Dialect::DuckDb.text(""), "''");
        assert_eq!(Dialect::DuckDb.text("\n"), "chr(10)");
    }

    #[test]
    fn names_are_quoted_or_refused() {
        assert_eq!(
            Dialect::DuckDb.ident("order").ok().as_deref(),
            Some("\"order\"")
        );
        assert_eq!(
            Dialect::SparkSql.ident("select").ok().as_deref(),
            Some("`select`")
        );
        for bad in ["", "a\"b", "a`b", "a\nb", "a\\b"] {
            for d in Dialect::ALL {
                assert!(
                    matches!(d.ident(bad), Err(SqlError::UnsafeName { .. })),
                    "{bad:?}"
                );
            }
        }
    }

    #[test]
    fn integer_literals_cover_the_range() {
        assert_eq!(Dialect::DuckDb.int(5), "5");
        assert_eq!(Dialect::DuckDb.int(-5), "(-5)");
        assert_eq!(Dialect::DuckDb.int(i64::MIN), "(-9223372036854775807 - 1)");
        assert_eq!(signed(u64::MAX), -1);
    }
}
