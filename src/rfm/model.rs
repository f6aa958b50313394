//! RFM models as declared in the schema ([`RfmModelDef`]) and as compiled ([`RfmRule`]).
//!
//! ```
//! use audience::Currency;
//! use audience::rfm::{RfmModelDef, Scoring};
//! let usd = Currency::new("USD")?;
//! let classic = RfmModelDef::classic("classic", usd).refunds("order_refunded", "amount");
//! let engagement = RfmModelDef::engagement("engagement", usd);
//! assert_eq!(classic.bins, 5);
//! assert_eq!(engagement.scoring, Scoring::Threshold);
//! # Ok::<(), audience::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{RfmProblem, SchemaError};
use crate::hash::FastMap;
use crate::ids::EventKindId;
use crate::money::Currency;
use crate::schema::{PropertyType, SchemaDef};

/// The largest weight an activity kind may carry.
pub const MAX_WEIGHT: u16 = 1000;

/// Fewest and most score bins.
pub const BINS: std::ops::RangeInclusive<u8> = 2..=10;

/// An event kind whose events make recency and frequency, with its weight in frequency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityDef {
    /// The event kind (`order_completed`, `email_open`, …).
    pub kind: String,
    /// What one event adds to frequency, 1..=1000 (default 1).
    #[serde(default = "one")]
    pub weight: u16,
}

fn one() -> u16 {
    1
}

/// An event kind and the money property whose amounts make (or, for refunds, reduce)
/// the monetary value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountDef {
    /// The event kind.
    pub kind: String,
    /// Its money property.
    pub property: String,
}

/// How values become scores 1..=bins (higher is better in every dimension).
///
/// All three quantile conventions use the values of every profile scored in the run and
/// integer arithmetic only; they are defined exactly in `tests/data/cdnow/README.md`. Let
/// `Q_k` be the type-7 quantile at `k / bins` (R's default, numpy's `linear`, DuckDB's
/// `quantile_cont`), `k = 1..bins`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Scoring {
    /// Ties share a bin: `f = 1 + #{k : frequency > Q_k}` (likewise monetary) and
    /// `r = 1 + #{k : recency_days < Q_k}`. Bins can be empty. The default.
    #[default]
    Threshold,
    /// Equal-count bins: profiles are ranked by value, ties broken by ascending profile id
    /// (recency ranked on `−recency_days`), and `score = max(1, ⌈bins·(rank−1)/(n−1)⌉)`;
    /// pandas `qcut` on `rank(method='first')`.
    Rank,
    /// The R package `rfm` (0.3.0): breaks are `Q_k` plus one unit of the column (a day,
    /// one weighted event, one major unit of the currency), bins are left-closed:
    /// `f = 1 + #{k : frequency ≥ Q_k + 1}` and `r = bins − #{k : recency_days ≥ Q_k + 1}`.
    Rpkg,
    /// Breaks chosen by the host, the same for every run.
    Fixed(FixedBreaks),
}

/// Breaks chosen by the host: `bins − 1` strictly ascending values per dimension.
///
/// Recency breaks are the largest recency of a better score: with `[30, 90, 180, 365]`,
/// recency ≤ 30 days scores 5 and more than 365 days scores 1. Frequency and monetary
/// breaks are the least value of a better score: with frequency `[2, 3, 5, 10]`, one
/// purchase scores 1 and ten or more score 5. Monetary breaks are in minor units.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedBreaks {
    /// Recency breaks, in days.
    pub recency_days: Vec<i64>,
    /// Frequency breaks.
    pub frequency: Vec<i64>,
    /// Monetary breaks, in minor units.
    pub monetary_minor: Vec<i64>,
}

/// An RFM model: which events are activity (recency, frequency) and which amounts make
/// the monetary value, the currency, the number of bins and the scoring convention.
///
/// A profile is scored in a run iff it has at least one activity event at or before the
/// run's reference time. The classic model counts purchases; the engagement model counts
/// email opens and clicks, with monetary still from purchases.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RfmModelDef {
    /// The model's name (`classic`, `engagement`).
    pub name: String,
    /// Activity event kinds with their weights.
    pub activity: Vec<ActivityDef>,
    /// The amounts that make the monetary value.
    pub monetary: AmountDef,
    /// Amounts subtracted from the monetary value (refunds), if any.
    #[serde(default)]
    pub refunds: Option<AmountDef>,
    /// The currency of every amount read.
    pub currency: Currency,
    /// Score bins, 2..=10 (default 5).
    #[serde(default = "five")]
    pub bins: u8,
    /// The scoring convention (default [`Scoring::Threshold`]).
    #[serde(default)]
    pub scoring: Scoring,
}

fn five() -> u8 {
    5
}

impl RfmModelDef {
    /// Classic RFM: purchases are `order_completed` events valued by their `amount`.
    pub fn classic(name: impl Into<String>, currency: Currency) -> Self {
        RfmModelDef {
            name: name.into(),
            activity: vec![ActivityDef {
                kind: "order_completed".into(),
                weight: 1,
            }],
            monetary: AmountDef {
                kind: "order_completed".into(),
                property: "amount".into(),
            },
            refunds: None,
            currency,
            bins: 5,
            scoring: Scoring::Threshold,
        }
    }

    /// Engagement RFM: `email_open` (weight 1) and `email_click` (weight 2) make recency
    /// and frequency; monetary is from `order_completed` amounts.
    pub fn engagement(name: impl Into<String>, currency: Currency) -> Self {
        let mut def = Self::classic(name, currency);
        def.activity = vec![
            ActivityDef {
                kind: "email_open".into(),
                weight: 1,
            },
            ActivityDef {
                kind: "email_click".into(),
                weight: 2,
            },
        ];
        def
    }

    /// Nets refunds: amounts of `property` on `kind` events are subtracted.
    pub fn refunds(mut self, kind: &str, property: &str) -> Self {
        self.refunds = Some(AmountDef {
            kind: kind.into(),
            property: property.into(),
        });
        self
    }

    /// Sets the number of bins.
    pub fn bins(mut self, bins: u8) -> Self {
        self.bins = bins;
        self
    }

    /// Sets the scoring convention.
    pub fn scoring(mut self, scoring: Scoring) -> Self {
        self.scoring = scoring;
        self
    }
}

/// What one event kind does in one model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct KindRole {
    /// Weight in frequency (0: not an activity kind).
    pub(crate) weight: u16,
    /// Property position of an amount added to monetary.
    pub(crate) adds: Option<u16>,
    /// Property position of an amount subtracted from monetary.
    pub(crate) subtracts: Option<u16>,
}

impl KindRole {
    /// Whether events of this kind matter to the model at all.
    pub(crate) fn matters(&self) -> bool {
        self.weight > 0 || self.adds.is_some() || self.subtracts.is_some()
    }
}

/// A model compiled against the schema: a role per event kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RfmRule {
    /// Per event kind id.
    pub(crate) roles: Vec<KindRole>,
    pub(crate) currency: Currency,
    pub(crate) bins: u8,
}

impl RfmRule {
    /// The role of `kind` (no role for an unknown kind).
    pub(crate) fn role(&self, kind: EventKindId) -> KindRole {
        self.roles.get(kind.index()).copied().unwrap_or_default()
    }
}

fn problem(model: &str, problem: RfmProblem) -> SchemaError {
    SchemaError::Rfm {
        model: model.to_string(),
        problem,
    }
}

/// Validates and compiles every model of `def`.
pub(crate) fn compile(
    def: &SchemaDef,
    kinds: &FastMap<String, u16>,
) -> Result<Vec<RfmRule>, SchemaError> {
    def.rfm_models
        .iter()
        .map(|m| compile_one(def, kinds, m))
        .collect()
}

fn compile_one(
    def: &SchemaDef,
    kinds: &FastMap<String, u16>,
    m: &RfmModelDef,
) -> Result<RfmRule, SchemaError> {
    let name = m.name.as_str();
    if !BINS.contains(&m.bins) {
        return Err(problem(name, RfmProblem::Bins(m.bins)));
    }
    if m.activity.is_empty() {
        return Err(problem(name, RfmProblem::NoActivity));
    }
    let mut roles = vec![KindRole::default(); def.event_kinds.len()];
    let kind_index = |kind: &str| {
        kinds
            .get(kind)
            .map(|&i| usize::from(i))
            .ok_or_else(|| problem(name, RfmProblem::UnknownEventKind(kind.to_string())))
    };
    for a in &m.activity {
        let i = kind_index(&a.kind)?;
        if a.weight == 0 || a.weight > MAX_WEIGHT {
            return Err(problem(
                name,
                RfmProblem::Weight {
                    kind: a.kind.clone(),
                    weight: a.weight,
                },
            ));
        }
        let role = roles
            .get_mut(i)
            .ok_or_else(|| problem(name, RfmProblem::UnknownEventKind(a.kind.clone())))?;
        if role.weight > 0 {
            return Err(problem(name, RfmProblem::DuplicateActivity(a.kind.clone())));
        }
        role.weight = a.weight;
    }
    let amounts = std::iter::once((&m.monetary, true)).chain(m.refunds.iter().map(|r| (r, false)));
    for (amount, adds) in amounts {
        let i = kind_index(&amount.kind)?;
        let position = money_property(def, i, amount).map_err(|p| problem(name, p))?;
        let Some(role) = roles.get_mut(i) else {
            continue;
        };
        if !adds && role.adds.is_some() {
            return Err(problem(
                name,
                RfmProblem::RefundIsPurchase(amount.kind.clone()),
            ));
        }
        if adds {
            role.adds = Some(position);
        } else {
            role.subtracts = Some(position);
        }
    }
    if let Scoring::Fixed(breaks) = &m.scoring {
        check_breaks(m.bins, breaks).map_err(|p| problem(name, p))?;
    }
    Ok(RfmRule {
        roles,
        currency: m.currency,
        bins: m.bins,
    })
}

/// The position of `amount.property` on event kind `kind`, which must be a money property.
fn money_property(def: &SchemaDef, kind: usize, amount: &AmountDef) -> Result<u16, RfmProblem> {
    let unknown = || RfmProblem::UnknownProperty {
        kind: amount.kind.clone(),
        property: amount.property.clone(),
    };
    let event = def.event_kinds.get(kind).ok_or_else(unknown)?;
    let (position, prop) = event
        .properties
        .iter()
        .enumerate()
        .find(|(_, p)| p.name == amount.property)
        .ok_or_else(unknown)?;
    if prop.ty != PropertyType::Money {
        return Err(RfmProblem::NotMoney {
            kind: amount.kind.clone(),
            property: amount.property.clone(),
            got: prop.ty.name(),
        });
    }
    u16::try_from(position).map_err(|_| unknown())
}

fn check_breaks(bins: u8, breaks: &FixedBreaks) -> Result<(), RfmProblem> {
    let dims = [
        ("recency_days", &breaks.recency_days),
        ("frequency", &breaks.frequency),
        ("monetary_minor", &breaks.monetary_minor),
    ];
    for (dimension, values) in dims {
        let expected = usize::from(bins) - 1;
        if values.len() != expected {
            return Err(RfmProblem::BreakCount {
                dimension,
                expected,
                got: values.len(),
            });
        }
        if values.windows(2).any(|w| matches!(w, [a, b] if a >= b)) {
            return Err(RfmProblem::BreaksNotAscending {
                dimension,
                breaks: values.clone(),
            });
        }
    }
    Ok(())
}
