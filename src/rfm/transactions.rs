//! RFM straight from a transactions table (`customer_id,timestamp,amount`), the way an
//! analyst computes it from an export: one purchase per row, the reference time the day
//! after the last transaction, one scored row per customer.
//!
//! ```
//! use audience::Currency;
//! use audience::rfm::Scoring;
//! use audience::rfm::transactions::{parse, score, to_csv};
//! let csv = "customer_id,timestamp,amount\n1,1997-01-01,11.77\n2,1997-01-12,12.00\n2,1997-01-12,77.00\n";
//! let rows = parse(csv, Currency::new("USD")?)?;
//! let scored = score(&rows, Scoring::Threshold)?;
//! assert_eq!(to_csv(&scored).lines().nth(2), Some("2,1,2,8900,5,5,5,Champions"));
//! # Ok::<(), audience::Error>(())
//! ```

use chrono::{DateTime, NaiveDate};

use crate::engine::Engine;
use crate::error::{CsvError, CsvProblem, Error};
use crate::ids::ProfileId;
use crate::money::{Currency, Money};
use crate::record::{EventInput, Record};
use crate::rfm::{RfmModelDef, RfmScore, RfmSegmentDef, Scoring};
use crate::schema::{
    EventKindDef, IdentifierKindDef, Normalizer, PropertyDef, PropertyType, Schema,
};
use crate::time::Timestamp;

/// The header line (optional in the input, always written).
pub const HEADER: &str = "customer_id,timestamp,amount";
/// The header of the scored output.
pub const OUTPUT_HEADER: &str = "customer_id,recency_days,frequency,monetary_minor,r,f,m,segment";

/// One purchase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// The customer, as written (surrounding white space trimmed).
    pub customer_id: String,
    /// The day of the purchase (the date part of the timestamp), at UTC midnight.
    pub day: Timestamp,
    /// The amount, exactly.
    pub amount: Money,
}

/// One customer's scores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerScore {
    /// The customer.
    pub customer_id: String,
    /// Values and scores.
    pub score: RfmScore,
    /// The standard segment of (r, f) (empty for more or fewer than 5 bins).
    pub segment: String,
}

/// Parses `customer_id,timestamp,amount` lines: the timestamp is `YYYY-MM-DD` or RFC 3339,
/// of which the date part counts; the amount is a decimal in major units with at most the
/// currency's decimals, read exactly. A first line equal to [`HEADER`] and empty lines are
/// skipped.
///
/// # Errors
/// [`CsvError`] naming the first bad line (1-based) and what is wrong with it.
pub fn parse(text: &str, currency: Currency) -> Result<Vec<Transaction>, CsvError> {
    let mut rows = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let row = raw.trim_end_matches('\r');
        if row.trim().is_empty() || (line == 1 && row.trim() == HEADER) {
            continue;
        }
        rows.push(parse_row(row, currency).map_err(|problem| CsvError { line, problem })?);
    }
    Ok(rows)
}

fn parse_row(row: &str, currency: Currency) -> Result<Transaction, CsvProblem> {
    let fields: Vec<&str> = row.split(',').collect();
    let [customer, timestamp, amount] = fields.as_slice() else {
        return Err(CsvProblem::Fields(fields.len()));
    };
    let customer_id = customer.trim();
    if customer_id.is_empty() {
        return Err(CsvProblem::EmptyCustomer);
    }
    let day = parse_day(timestamp.trim())
        .ok_or_else(|| CsvProblem::BadDate(timestamp.chars().take(64).collect()))?;
    let amount = Money::parse(amount, currency).map_err(CsvProblem::BadAmount)?;
    Ok(Transaction {
        customer_id: customer_id.to_string(),
        day,
        amount,
    })
}

/// `YYYY-MM-DD`, or an RFC 3339 time whose first ten characters are that date.
fn parse_day(text: &str) -> Option<Timestamp> {
    if text.len() != 10 {
        DateTime::parse_from_rfc3339(text).ok()?;
    }
    let date = NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()?;
    let secs = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
    Timestamp::from_secs(secs).ok()
}

/// Orders customer ids numerically when every id is an integer, else as text.
fn sort_key(ids: &[&str]) -> impl Fn(&str) -> (i128, String) {
    let numeric = ids.iter().all(|id| id.parse::<i128>().is_ok());
    move |id: &str| {
        if numeric {
            (id.parse().unwrap_or_default(), String::new())
        } else {
            (0, id.to_string())
        }
    }
}

fn schema(currency: Currency, scoring: Scoring) -> Result<Schema, Error> {
    Ok(Schema::builder()
        .identifier_kind(IdentifierKindDef::new("customer_id", Normalizer::Trim, 1).limit(1))
        .source("transactions", 1)
        .event_kind(EventKindDef {
            name: "order_completed".into(),
            properties: vec![PropertyDef {
                name: "amount".into(),
                ty: PropertyType::Money,
                non_negative: false,
            }],
            retention_days: None,
        })
        .rfm_model(RfmModelDef::classic("rfm", currency).scoring(scoring))
        .rfm_segments(RfmSegmentDef::standard("rfm"))
        .build()?)
}

/// Scores every customer of `rows` (all in one currency) by `scoring` with 5 bins, at
/// the day after the last transaction; customers in ascending order (numerically when
/// every id is an integer), which is also the tie order of [`Scoring::Rank`].
///
/// # Errors
/// [`Error::Money`] for mixed currencies ([`crate::MoneyError::MixedCurrencies`]);
/// otherwise the engine's errors (e.g. an amount sum that overflows).
pub fn score(rows: &[Transaction], scoring: Scoring) -> Result<Vec<CustomerScore>, Error> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let currency = first.amount.currency;
    if let Some(other) = rows.iter().find(|r| r.amount.currency != currency) {
        return Err(crate::MoneyError::MixedCurrencies {
            left: currency,
            right: other.amount.currency,
        }
        .into());
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.customer_id.as_str()).collect();
    let key = sort_key(&ids);
    let mut order: Vec<(_, &Transaction)> = rows.iter().map(|r| (key(&r.customer_id), r)).collect();
    order.sort_by(|a, b| a.0.cmp(&b.0));
    let mut engine = Engine::new(schema(currency, scoring)?);
    let mut customers: Vec<(&str, ProfileId)> = Vec::new();
    for (_, row) in &order {
        let event = EventInput::new("order_completed", row.day).property("amount", row.amount);
        let record = Record::builder(row.day, "transactions")
            .identifier("customer_id", &row.customer_id)
            .event(event)
            .build();
        let report = engine.ingest(&record)?;
        if report.created {
            customers.push((&row.customer_id, report.profile));
        }
    }
    let last = rows.iter().map(|r| r.day).max().unwrap_or(first.day);
    let reference = last.checked_add_days(1)?;
    engine.score_rfm("rfm", reference)?;
    let mut out = Vec::with_capacity(customers.len());
    for (id, p) in customers {
        if let Some(score) = engine.rfm_score("rfm", p)? {
            let segment = engine.rfm_label("rfm", p)?.unwrap_or_default().to_string();
            out.push(CustomerScore {
                customer_id: id.to_string(),
                score,
                segment,
            });
        }
    }
    Ok(out)
}

/// The scored rows as CSV: [`OUTPUT_HEADER`], then one line per customer, `\n` line ends.
pub fn to_csv(scores: &[CustomerScore]) -> String {
    let mut out = String::with_capacity(32 * (scores.len() + 1));
    out.push_str(OUTPUT_HEADER);
    out.push('\n');
    for c in scores {
        let s = &c.score;
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            c.customer_id, s.recency_days, s.frequency, s.monetary_minor, s.r, s.f, s.m, c.segment
        ));
    }
    out
}
