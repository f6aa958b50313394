//! Computed traits written as SQL: the contributions a computed trait's terms take from
//! the events in its window, aggregated per profile, exactly as the engine folds them.

use crate::event::computed_value::ComputedValue;
use crate::ids::EventKindId;
use crate::money::Money;
use crate::schema::{ComputedRule, Op, PropertyType};
use crate::segment::compile::CTest;
use crate::segment::eval_row::{Current, computed_as_value, passes};
use crate::sql::SqlError;
use crate::sql::layout::SqlTable;
use crate::sql::translate::{CurrencyOf, Writer};

/// What each contribution row carries besides `profile_id`.
struct Columns {
    /// The value read (`v`), and its currency column (`vc`) for money values.
    value: bool,
    money_value: bool,
    /// The amount (`amount`), negated for subtracted terms.
    amount: bool,
}

impl Writer<'_> {
    /// Whether computed trait `index` passes `test` for profile `p`.
    pub(crate) fn computed_cond(&self, index: usize, test: &CTest) -> Result<String, SqlError> {
        let schema = &self.engine.schema;
        let rule = schema
            .computed_rules()
            .get(index)
            .ok_or_else(|| SqlError::Internal("unknown computed trait".into()))?;
        let name = &schema
            .def()
            .computed
            .get(index)
            .ok_or_else(|| SqlError::Internal("unknown computed trait".into()))?
            .name;
        if rule.op == Op::Habit {
            return Err(SqlError::Unsupported {
                what: format!("computed trait {name:?}: a time-of-day habit"),
                dialect: self.d,
            });
        }
        let money_value = rule.field_type == Some(PropertyType::Money);
        let cols = Columns {
            value: matches!(
                rule.op,
                Op::FirstValue | Op::LastValue | Op::MostFrequent | Op::DistinctCount
            ),
            money_value,
            amount: matches!(rule.op, Op::Sum | Op::Min | Op::Max | Op::Average),
        };
        let contributions = self.contributions(rule, &cols)?;
        let d = self.d;
        let per_profile = |agg: &str| {
            format!("SELECT profile_id, {agg} AS v FROM ({contributions}) AS c GROUP BY profile_id")
        };
        let wide_sum = format!("sum({})", d.wide("amount"));
        let values = match rule.op {
            Op::Count => per_profile("count(*)"),
            Op::Sum => per_profile(&wide_sum),
            Op::Min => per_profile("min(amount)"),
            Op::Max => per_profile("max(amount)"),
            Op::Average => {
                // Rounded to the nearest integer, halves away from zero.
                let (s, n) = ("s", d.wide("n"));
                let up = d.div(&format!("(2 * {s} + {n})"), &format!("(2 * {n})"));
                let down = d.div(&format!("(2 * (0 - {s}) + {n})"), &format!("(2 * {n})"));
                format!(
                    "SELECT profile_id, CASE WHEN s < 0 THEN 0 - {down} ELSE {up} END AS v FROM \
                     (SELECT profile_id, {wide_sum} AS s, count(*) AS n FROM ({contributions}) AS c GROUP BY profile_id) AS a"
                )
            }
            Op::FirstTime => per_profile("min(t)"),
            Op::LastTime => per_profile("max(t)"),
            Op::DaysSince => {
                let now = d.int(self.now()?);
                per_profile(&d.div(&format!("({now} - max(t))"), "86400000"))
            }
            Op::FirstValue | Op::LastValue => {
                let first = rule.op == Op::FirstValue;
                let mut agg = format!("{} AS v", d.arg(first, "v", "seq"));
                if money_value {
                    agg.push_str(&format!(", {} AS vc", d.arg(first, "vc", "seq")));
                }
                format!("SELECT profile_id, {agg} FROM ({contributions}) AS c GROUP BY profile_id")
            }
            Op::DistinctCount => {
                let fields = if money_value { "v, vc" } else { "v" };
                format!(
                    "SELECT profile_id, count(*) AS v FROM (SELECT DISTINCT profile_id, {fields} FROM ({contributions}) AS c) AS u GROUP BY profile_id"
                )
            }
            Op::MostFrequent => {
                // Most events; ties to the value seen last; then the smallest value.
                let fields = if money_value { "v, vc" } else { "v" };
                let order = if money_value {
                    "v ASC, vc ASC"
                } else {
                    "v ASC"
                };
                format!(
                    "SELECT profile_id, {fields} FROM (SELECT profile_id, {fields}, row_number() OVER \
                     (PARTITION BY profile_id ORDER BY n DESC, last_seq DESC, {order}) AS rank_ FROM \
                     (SELECT profile_id, {fields}, count(*) AS n, max(seq) AS last_seq FROM ({contributions}) AS c \
                     GROUP BY profile_id, {fields}) AS t) AS r WHERE rank_ = 1"
                )
            }
            Op::Habit => String::new(),
        };
        let currency = if money_value && cols.value {
            CurrencyOf::Column("vc")
        } else if rule.money {
            rule.currency.map_or(CurrencyOf::None, CurrencyOf::Fixed)
        } else {
            CurrencyOf::None
        };
        let found = format!(
            "p.profile_id IN (SELECT profile_id FROM ({values}) AS x WHERE {})",
            self.test("v", currency, test)?
        );
        // A profile with no contribution has the computation's empty value.
        let empty = match rule.op {
            Op::Count | Op::DistinctCount => Some(ComputedValue::Count(0)),
            Op::Sum => Some(match rule.currency {
                Some(c) if rule.money => ComputedValue::Money(Money::new(0, c)),
                _ => ComputedValue::Integer(0),
            }),
            _ => None,
        };
        let empty = empty.and_then(computed_as_value);
        if passes(test, empty.as_ref().map(Current::One)) {
            Ok(format!(
                "({found} OR p.profile_id NOT IN (SELECT profile_id FROM ({contributions}) AS c))"
            ))
        } else {
            Ok(found)
        }
    }

    /// One row per contribution: `profile_id`, its time `t`, `seq`, and the columns asked for.
    fn contributions(&self, rule: &ComputedRule, cols: &Columns) -> Result<String, SqlError> {
        let events = self.table(SqlTable::Events)?;
        let window = self.window(rule.window, "e")?;
        let mut selects = Vec::new();
        for (k, terms) in rule.terms.iter().enumerate() {
            let kind = EventKindId(
                u16::try_from(k).map_err(|_| SqlError::Internal("event kind id".into()))?,
            );
            for term in terms {
                let mut conds = vec![format!("e.kind = {}", self.text(&self.kind_name(kind)?))];
                for (pos, values) in &term.conditions {
                    conds.push(self.property_in(kind, *pos, values, "e")?);
                }
                let read = match term.property {
                    Some(pos) => {
                        let (name, ty) = self.property(kind, pos)?;
                        let col = format!("e.{}", self.column(&name)?);
                        conds.push(format!("{col} IS NOT NULL"));
                        let cur = if ty == PropertyType::Money {
                            Some(format!("e.{}", self.currency_column(&name)?))
                        } else {
                            None
                        };
                        Some((col, cur, ty))
                    }
                    None => None,
                };
                conds.push(window.clone());
                let mut select = "e.profile_id AS profile_id, e.at AS t, e.seq AS seq".to_string();
                if cols.value {
                    match &read {
                        Some((col, cur, _)) => {
                            select.push_str(&format!(", {col} AS v"));
                            if cols.money_value {
                                select.push_str(&format!(
                                    ", {} AS vc",
                                    cur.as_deref().unwrap_or("NULL")
                                ));
                            }
                        }
                        None => select
                            .push_str(&format!(", {} AS v", self.text(&self.kind_name(kind)?))),
                    }
                }
                if cols.amount {
                    let amount = match &read {
                        Some((col, _, PropertyType::Integer | PropertyType::Money)) => col.clone(),
                        _ => "0".into(),
                    };
                    let amount = if term.negate {
                        format!("(0 - {amount})")
                    } else {
                        amount
                    };
                    select.push_str(&format!(", {amount} AS amount"));
                }
                selects.push(format!(
                    "SELECT {select} FROM {events} AS e WHERE {}",
                    conds.join(" AND ")
                ));
            }
        }
        if selects.is_empty() {
            // No kind feeds it: an empty table of the same shape.
            let mut select = "e.profile_id AS profile_id, e.at AS t, e.seq AS seq".to_string();
            if cols.value {
                select.push_str(", e.kind AS v");
            }
            if cols.amount {
                select.push_str(", 0 AS amount");
            }
            selects.push(format!("SELECT {select} FROM {events} AS e WHERE 1 = 0"));
        }
        Ok(selects.join(" UNION ALL "))
    }
}
