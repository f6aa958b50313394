//! [`ProfileView`]: what a profile holds, by name, for the host.

use serde::{Deserialize, Serialize};

use crate::event::text::TextPool;
use crate::event::{ComputedValue, EventView};
use crate::identity::IdentityGraph;
use crate::ids::{ProfileId, RecordId};
use crate::money::Money;
use crate::profile::Profile;
use crate::profile::merge::{Aggregate, TraitState};
use crate::record::Value;
use crate::record_log::RecordLog;
use crate::schema::Schema;
use crate::time::Timestamp;

/// The current value of a trait.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CurrentValue {
    /// One value: the winner of a picking strategy, an integer sum or a set union.
    Value(Value),
    /// A money sum: one total per currency, sorted by currency.
    MoneyTotals(Vec<Money>),
}

/// One observation of a trait, with its source's name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservationView {
    /// The observed value.
    pub value: Value,
    /// The source's name.
    pub source: String,
    /// The record's time.
    pub at: Timestamp,
    /// The record it came from.
    pub record: RecordId,
}

/// One trait of a profile: its current value and every observation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraitView {
    /// The trait's name.
    pub name: String,
    /// The current value under the trait's merge strategy.
    pub current: CurrentValue,
    /// The source of the winning observation (for sums and unions: of the latest one).
    pub source: String,
    /// The time of that observation.
    pub at: Timestamp,
    /// Every observation, ordered by (time, record).
    pub observations: Vec<ObservationView>,
}

/// One linked identifier of a profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentifierView {
    /// The kind's name.
    pub kind: String,
    /// The normalized value.
    pub value: String,
    /// The first record that carried it.
    pub first_record: RecordId,
    /// The latest time of a record of this profile that carried it.
    pub last_seen: Timestamp,
}

/// Everything a live profile holds, by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileView {
    /// The profile's id.
    pub id: ProfileId,
    /// Linked identifiers, sorted by (kind, value).
    pub identifiers: Vec<IdentifierView>,
    /// Traits, in schema order.
    pub traits: Vec<TraitView>,
    /// Records attached to the profile, ascending.
    pub records: Vec<RecordId>,
    /// Events, in time order.
    pub events: Vec<EventView>,
    /// Computed traits in schema order, with their current values (`None` with the clock
    /// unset or nothing to report).
    pub computed: Vec<(String, Option<ComputedValue>)>,
    /// The consent state of every (purpose, channel), in schema order.
    pub consent: Vec<crate::privacy::ConsentState>,
    /// Every consent statement, oldest first.
    pub consent_history: Vec<crate::privacy::ConsentStatementView>,
    /// The suppressions that apply: the profile's own, then its identifiers'.
    pub suppressions: Vec<crate::privacy::SuppressionView>,
}

impl ProfileView {
    /// The trait named `name`.
    pub fn trait_view(&self, name: &str) -> Option<&TraitView> {
        self.traits.iter().find(|t| t.name == name)
    }

    /// Whether `purpose` is granted on `channel` (`false` for names the schema lacks).
    pub fn consented(&self, purpose: &str, channel: &str) -> bool {
        self.consent
            .iter()
            .any(|c| c.purpose == purpose && c.channel == channel && c.granted)
    }

    /// The current value of computed trait `name`.
    pub fn computed(&self, name: &str) -> Option<&ComputedValue> {
        self.computed.iter().find(|(n, _)| n == name)?.1.as_ref()
    }

    /// The current single value of trait `name` (`None` for money sums and absent traits).
    pub fn value(&self, name: &str) -> Option<&Value> {
        match &self.trait_view(name)?.current {
            CurrentValue::Value(v) => Some(v),
            CurrentValue::MoneyTotals(_) => None,
        }
    }
}

fn source_name(schema: &Schema, id: crate::ids::SourceId) -> String {
    schema
        .source(id)
        .map_or_else(String::new, |s| s.name.clone())
}

fn trait_view(schema: &Schema, state: &TraitState) -> Option<TraitView> {
    let name = schema.trait_def(state.trait_id)?.name.clone();
    let winner = state.winner()?;
    let current = match state.aggregate.get() {
        Aggregate::None => CurrentValue::Value(winner.value.clone()),
        Aggregate::Int(n) => CurrentValue::Value(Value::Integer(*n)),
        Aggregate::Money(totals) => CurrentValue::MoneyTotals(totals.to_vec()),
        Aggregate::Union(set) => CurrentValue::Value(Value::TextSet(set.to_vec())),
    };
    let mut observations: Vec<ObservationView> = state
        .observations
        .iter()
        .map(|o| ObservationView {
            value: o.value.clone(),
            source: source_name(schema, o.source),
            at: o.at,
            record: o.record,
        })
        .collect();
    observations.sort_by_key(|o| (o.at, o.record));
    Some(TraitView {
        name,
        current,
        source: source_name(schema, winner.source),
        at: winner.at,
        observations,
    })
}

/// Builds the view of a live profile.
pub(crate) fn view(
    schema: &Schema,
    graph: &IdentityGraph,
    log: &RecordLog,
    texts: &TextPool,
    id: ProfileId,
    profile: &Profile,
) -> ProfileView {
    let mut identifiers: Vec<IdentifierView> = profile
        .identifiers
        .iter()
        .filter_map(|l| Some((graph.entry(l.ident)?, l.seen)))
        .map(|(e, last_seen)| IdentifierView {
            kind: schema
                .kind(e.kind)
                .map_or_else(String::new, |k| k.name.clone()),
            value: e.value.to_string(),
            first_record: e.first_record,
            last_seen,
        })
        .collect();
    identifiers.sort_by(|a, b| (&a.kind, &a.value).cmp(&(&b.kind, &b.value)));
    let records = profile.records.sorted(log);
    ProfileView {
        id,
        identifiers,
        traits: profile
            .traits
            .iter()
            .filter_map(|t| trait_view(schema, t))
            .collect(),
        records,
        events: profile
            .events
            .iter()
            .map(|e| crate::event::store::view(schema, texts, e))
            .collect(),
        computed: Vec::new(),
        consent: Vec::new(),
        consent_history: Vec::new(),
        suppressions: Vec::new(),
    }
}
