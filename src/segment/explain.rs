//! [`Explanation`]: why one profile is or is not in a segment — the plan as a tree, each
//! node with its answer for the profile and, for a leaf, the value it looked at.

use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::ids::ProfileId;
use crate::profile::Profile;
use crate::segment::compile::{CTest, Filter, Node};
use crate::segment::eval_row::{Current, computed_as_value, current, matches_filter};
use crate::segment::sample;
use crate::time::Timestamp;

/// One node of a plan, answered for one profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// What the node tests, e.g. `trait country eq "DE"`, `and`, `segment vips`.
    pub condition: String,
    /// Whether the profile satisfies it.
    pub matched: bool,
    /// For a leaf, what it saw: the value, the number of matching events, the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
    /// The node's children (for `and`, `or`, `not`, and a named segment's plan).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Explanation>,
}

fn show_test(test: &CTest) -> String {
    let v = |v: &crate::record::Value| format!("{v:?}");
    match test {
        CTest::Eq(x) => format!("eq {}", v(x)),
        CTest::In(xs) => format!("in [{}]", xs.iter().map(v).collect::<Vec<_>>().join(", ")),
        CTest::Range { min, max } => {
            let lo = min.as_ref().map_or(String::new(), |(x, inc)| {
                format!("{} {}", if *inc { ">=" } else { ">" }, v(x))
            });
            let hi = max.as_ref().map_or(String::new(), |(x, inc)| {
                format!("{} {}", if *inc { "<=" } else { "<" }, v(x))
            });
            [lo, hi]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" and ")
        }
        CTest::Prefix(p) => format!("starts with {p:?}"),
        CTest::Contains(s) => format!("contains {s:?}"),
        CTest::Exists => "exists".into(),
        CTest::Missing => "is missing".into(),
    }
}

fn show_current(value: Option<Current<'_>>) -> String {
    match value {
        None => "no value".into(),
        Some(Current::One(v)) => format!("{v:?}"),
        Some(Current::Int(n)) => format!("Integer({n})"),
        Some(Current::Money(totals)) => format!("{totals:?}"),
        Some(Current::Set(set)) => format!("{set:?}"),
    }
}

impl Engine {
    fn event_name(&self, filter: &Filter) -> String {
        self.schema
            .event_kind(filter.kind)
            .map_or_else(String::new, |k| k.name.clone())
    }

    /// What a sequence leaf saw: how many of each of its events happened up to now.
    fn sequence_seen(
        &self,
        profile: &Profile,
        first: &Filter,
        then: &Filter,
        now: Timestamp,
    ) -> String {
        let count = |filter: &Filter| {
            profile
                .events
                .iter()
                .filter(|e| e.at() <= now && matches_filter(&self.texts, filter, e))
                .count()
        };
        format!(
            "{} {} and {} {} events up to now",
            count(first),
            self.event_name(first),
            count(then),
            self.event_name(then)
        )
    }

    /// The explanation of `node` for live profile `p`.
    pub(crate) fn explain_node(
        &self,
        node: &Node,
        p: ProfileId,
        profile: &Profile,
        now: Timestamp,
    ) -> Explanation {
        let matched = self.row_matches(node, p, profile, now);
        let leaf = |condition: String, because: String| Explanation {
            condition,
            matched,
            because: Some(because),
            children: Vec::new(),
        };
        let inner = |condition: &str, children: &[Node]| Explanation {
            condition: condition.into(),
            matched,
            because: None,
            children: children
                .iter()
                .map(|c| self.explain_node(c, p, profile, now))
                .collect(),
        };
        match node {
            Node::All => leaf("all".into(), "every live profile".into()),
            Node::None => leaf("none".into(), "no profile".into()),
            Node::And(children) => inner("and", children),
            Node::Or(children) => inner("or", children),
            Node::Not(child) => inner("not", std::slice::from_ref(child)),
            Node::Trait { id, test } => {
                let name = self
                    .schema
                    .trait_def(*id)
                    .map_or_else(String::new, |d| d.name.clone());
                leaf(
                    format!("trait {name} {}", show_test(test)),
                    format!("{name} = {}", show_current(current(profile, *id))),
                )
            }
            Node::Computed { index, test } => {
                let name = self
                    .schema
                    .def()
                    .computed
                    .get(*index)
                    .map_or_else(String::new, |c| c.name.clone());
                let value = self
                    .computed_value(profile, *index)
                    .and_then(computed_as_value);
                leaf(
                    format!("computed {name} {}", show_test(test)),
                    format!(
                        "{name} = {}",
                        show_current(value.as_ref().map(Current::One))
                    ),
                )
            }
            Node::Event {
                filter,
                window,
                at_least,
                at_most,
                ..
            } => {
                let in_window = profile
                    .events
                    .iter()
                    .filter(|e| {
                        window.contains(e.at(), now) && matches_filter(&self.texts, filter, e)
                    })
                    .count();
                leaf(
                    format!(
                        "event {} in {window:?}, at least {at_least}{}",
                        self.event_name(filter),
                        at_most.map_or_else(String::new, |m| format!(", at most {m}"))
                    ),
                    format!("{in_window} matching events in the window"),
                )
            }
            Node::NoneSince {
                first,
                then,
                window,
            } => leaf(
                format!(
                    "{} in {window:?} and no {} since",
                    self.event_name(first),
                    self.event_name(then)
                ),
                self.sequence_seen(profile, first, then, now),
            ),
            Node::Then {
                first,
                then,
                window,
                within_ms,
            } => leaf(
                format!(
                    "{} in {window:?} then {} within {} days",
                    self.event_name(first),
                    self.event_name(then),
                    within_ms / crate::time::MILLIS_PER_DAY
                ),
                self.sequence_seen(profile, first, then, now),
            ),
            Node::RfmScore {
                model,
                dimension,
                min,
                max,
            } => leaf(
                format!("RFM model {model} {dimension:?} score in {min}..={max}"),
                self.run_score(*model, false, p).map_or_else(
                    || "not scored".into(),
                    |s| format!("{dimension:?} score {}", s.score(*dimension)),
                ),
            ),
            Node::RfmSegment { model, segment } => leaf(
                format!(
                    "RFM segment {}",
                    self.schema
                        .def()
                        .rfm_segments
                        .get(*segment)
                        .map_or_else(String::new, |s| format!("{} of {}", s.name, s.model))
                ),
                self.run_score(*model, false, p).map_or_else(
                    || "not scored".into(),
                    |s| format!("scores r {} f {} m {}", s.r, s.f, s.m),
                ),
            ),
            Node::RfmTrend {
                model,
                dimension,
                direction,
            } => leaf(
                format!("RFM model {model} {dimension:?} trend {direction:?}"),
                match (
                    self.run_score(*model, true, p),
                    self.run_score(*model, false, p),
                ) {
                    (Some(a), Some(b)) => {
                        format!("{} then {}", a.score(*dimension), b.score(*dimension))
                    }
                    _ => "not scored in both runs".into(),
                },
            ),
            Node::Segment(i) => {
                let name = self
                    .segments
                    .get(*i)
                    .map_or_else(String::new, |n| n.name.clone());
                Explanation {
                    condition: format!("segment {name}"),
                    matched,
                    because: None,
                    children: self
                        .segments
                        .get(*i)
                        .map(|s| vec![self.explain_node(&s.plan.root, p, profile, now)])
                        .unwrap_or_default(),
                }
            }
            Node::Consent { purpose, channel } => {
                let name = |p: Option<String>| p.unwrap_or_default();
                let purpose_name = name(self.schema.purpose(*purpose).map(|d| d.name.clone()));
                let channel_name = name(self.schema.channel(*channel).map(|d| d.name.clone()));
                let (granted, basis) = self.consent_of(profile, *purpose, *channel);
                leaf(
                    format!("consent {purpose_name} on {channel_name}"),
                    format!(
                        "{} ({})",
                        if granted { "granted" } else { "denied" },
                        self.describe_basis(profile, basis)
                    ),
                )
            }
            Node::Suppressed { channel } => {
                let on = channel
                    .and_then(|c| self.schema.channel(c))
                    .map_or_else(|| "any channel".to_string(), |c| c.name.clone());
                leaf(
                    format!("suppressed on {on}"),
                    if matched {
                        "a suppression applies".into()
                    } else {
                        "no suppression applies".into()
                    },
                )
            }
            Node::Materialized(i) => match self.segments.materialized.get(*i) {
                Some(m) => self.explain_node(&m.leaf, p, profile, now),
                None => leaf("materialized condition".into(), "missing".into()),
            },
            Node::Sample {
                seed,
                from,
                to,
                key,
            } => {
                let bucket = sample::bucket(self.sample_key(p, *key), *seed);
                leaf(
                    format!("sample {from}..{to} with seed {seed}"),
                    if bucket < 100 {
                        format!("bucket {bucket}")
                    } else {
                        "no key".into()
                    },
                )
            }
            Node::Profiles(set) => {
                let held: Vec<String> = self
                    .ids_of(p)
                    .iter()
                    .filter(|id| set.contains(id.0))
                    .map(|id| id.0.to_string())
                    .collect();
                leaf(
                    format!("one of {} profiles", set.len()),
                    if held.is_empty() {
                        "not in the set".into()
                    } else {
                        format!("holds id {}", held.join(", "))
                    },
                )
            }
        }
    }
}
