//! A model-based test of the engine: a plain model — the records in a `Vec`, identity as
//! connected components of shared identifiers (no limits), traits by their strategies,
//! consent by the documented rule (latest statement, a denial wins a tie, merge
//! restrictions replayed record by record), RFM with fixed breaks, segments evaluated row
//! by row, erasure and retention as filtering, blocking as dropping a value from linking,
//! rectification as editing records — driven with the engine by random sequences of
//! records (built and as Segment-Spec messages), clock moves, (un)registrations,
//! erasures, RFM runs, activations, blocks and unmerges, corrections, snapshot + restore
//! and exports. After every step the engine's profiles, traits, consent, registered
//! segments, RFM scores, activations, exports and drained changes equal the model's.

use std::collections::{BTreeMap, BTreeSet};

use audience::rfm::{Dimension, FixedBreaks, RfmModelDef, Scoring};
use audience::schema::{
    ConsentDefault, EventKindDef, IdentifierKindDef, MergeStrategy, Normalizer, PropertyDef,
    PropertyType, Schema, TraitDef, TraitType,
};
use audience::segment::{Expr, RfmCond, computed, consent, event, suppressed, trait_};
use audience::{
    ActivationOptions, ConsentInput, Currency, Engine, ErasureOptions, EventInput, ProfileId,
    Record, RecordId, RepairError, Subject, Suppression, TraitInput, Value, Window,
};
use proptest::prelude::*;

use crate::common::{eur, memberships, replay_drained, t};

const DAY: i64 = 86_400;
const COUNTRIES: [&str; 3] = ["DE", "FR", "GB"];
/// Page views are kept six days, records twenty.
const PAGE_VIEW_DAYS: i64 = 6;
const RECORD_DAYS: i64 = 20;
/// Identifier kinds by priority (the first is the strongest).
const KINDS: [&str; 3] = ["user_id", "email", "anonymous_id"];
/// Channels: email reaches email addresses; push has no address kind.
const CHANNELS: [&str; 2] = ["email", "push"];

fn schema() -> Schema {
    let breaks = FixedBreaks {
        recency_days: vec![2, 7],
        frequency: vec![2, 3],
        monetary_minor: vec![200, 400],
    };
    let rfm = RfmModelDef::classic("classic", Currency::new("EUR").unwrap())
        .bins(3)
        .scoring(Scoring::Fixed(breaks));
    Schema::builder()
        .identifier_kind(IdentifierKindDef::new(KINDS[0], Normalizer::Trim, 1))
        .identifier_kind(IdentifierKindDef::new(KINDS[1], Normalizer::Email, 2))
        .identifier_kind(IdentifierKindDef::new(KINDS[2], Normalizer::Trim, 3))
        .source("web", 1)
        .trait_def(TraitDef::new("country", TraitType::Text))
        .trait_def(TraitDef::new("points", TraitType::Integer).strategy(MergeStrategy::Sum))
        .event_kind(EventKindDef::new("page_view").retention_days(PAGE_VIEW_DAYS as u32))
        .event_kind(EventKindDef::new("order_completed").property(PropertyDef {
            name: "amount".into(),
            ty: PropertyType::Money,
            non_negative: true,
        }))
        .computed(
            audience::schema::ComputedDef::new(
                "orders_7d",
                audience::schema::EventFilter::kind("order_completed"),
                audience::schema::Computation::Count,
            )
            .window(Window::LastDays(7)),
        )
        .record_retention_days(RECORD_DAYS as u32)
        .purpose("marketing", ConsentDefault::OptIn)
        .channel(CHANNELS[0], Some("email"))
        .channel(CHANNELS[1], None)
        .rfm_model(rfm)
        .build()
        .unwrap()
}

fn germans() -> Expr {
    trait_("country").eq("DE")
}

fn reachable() -> Expr {
    consent("marketing", CHANNELS[0])
}

fn pushable() -> Expr {
    consent("marketing", CHANNELS[1])
}

/// The segments a test may register, with their row-by-row model in [`Model::member`].
fn segment_defs() -> Vec<(&'static str, Expr)> {
    let buyers = || {
        event("order_completed")
            .in_window(Window::LastDays(7))
            .at_least(1)
    };
    vec![
        ("germans", germans()),
        ("rich", trait_("points").ge(6i64)),
        ("buyers", buyers()),
        (
            "active",
            computed("orders_7d")
                .ge(2i64)
                .or(event("page_view").in_window(Window::LastDays(3)).happened()),
        ),
        ("german non-buyers", germans().and(buyers().not())),
        ("reachable", reachable()),
        (
            "frequent",
            Expr::Rfm(RfmCond::Score {
                model: "classic".into(),
                dimension: Dimension::Frequency,
                min: 2,
                max: 3,
            }),
        ),
        ("pushable", pushable()),
        ("email suppressed", suppressed(CHANNELS[0])),
        (
            "contactable",
            reachable().and(suppressed(CHANNELS[0]).not()),
        ),
    ]
}

/// One record of the model.
#[derive(Clone, Debug)]
struct Rec {
    /// Arrival number: the engine's record ids follow it.
    seq: u64,
    at: i64,
    /// The identifiers that link (blocked values are left out).
    ids: Vec<(&'static str, String)>,
    country: Option<&'static str>,
    points: Option<i64>,
    /// A marketing statement, granted or denied, on one channel (`CHANNELS` index) or
    /// on every channel (`None`).
    consent: Option<(bool, Option<usize>)>,
    /// (kind, time, amount in cents for orders).
    events: Vec<(&'static str, i64, i64)>,
}

#[derive(Clone, Debug)]
enum Op {
    Ingest {
        user: Option<u8>,
        email: Option<u8>,
        anon: u8,
        ago: i64,
        country: Option<usize>,
        points: Option<i64>,
        consent: Option<(bool, Option<usize>)>,
        events: Vec<(bool, i64, bool)>,
        spec: bool,
    },
    Advance(i64),
    Toggle(usize),
    Erase(u8),
    Restore,
    Export(u8),
    Score,
    Block(usize, u8),
    Unmerge(u8, usize, u8),
    Correct(u8, Option<usize>),
    /// Suppresses (or with `true`, lifts) identifier `(kind, n)` on a channel or all.
    SuppressId(usize, u8, Option<usize>, bool),
    /// Suppresses (or lifts) the profile holding anonymous id `n`.
    SuppressProfile(u8, Option<usize>, bool),
    /// Replaces the traits of the record picked by the index (modulo the count).
    CorrectRecord(usize, Option<usize>, Option<i64>),
}

fn op() -> impl Strategy<Value = Op> {
    let ingest = (
        (
            prop::option::of(0u8..6),
            prop::option::of(0u8..5),
            0u8..6,
            0i64..5 * DAY,
        ),
        (
            prop::option::of(0usize..3),
            prop::option::of(0i64..4),
            prop::option::weighted(0.3, (any::<bool>(), prop::option::of(0usize..2))),
            prop::collection::vec((any::<bool>(), 0i64..9 * DAY, any::<bool>()), 0..3),
            any::<bool>(),
        ),
    )
        .prop_map(
            |((user, email, anon, ago), (country, points, consent, events, spec))| Op::Ingest {
                user,
                email,
                anon,
                ago,
                country,
                points,
                consent,
                events,
                spec,
            },
        );
    prop_oneof![
        8 => ingest,
        3 => (0i64..6 * DAY).prop_map(Op::Advance),
        2 => (0usize..segment_defs().len()).prop_map(Op::Toggle),
        1 => (0u8..6).prop_map(Op::Erase),
        1 => Just(Op::Restore),
        1 => (0u8..6).prop_map(Op::Export),
        1 => Just(Op::Score),
        1 => (0usize..3, 0u8..6).prop_map(|(k, n)| Op::Block(k, n)),
        1 => (0u8..6, 0usize..3, 0u8..6).prop_map(|(a, k, n)| Op::Unmerge(a, k, n)),
        1 => (0u8..6, prop::option::of(0usize..3)).prop_map(|(a, c)| Op::Correct(a, c)),
        1 => (1usize..3, 0u8..6, prop::option::of(0usize..2), prop::bool::weighted(0.3))
            .prop_map(|(k, n, c, lift)| Op::SuppressId(k, n, c, lift)),
        1 => (0u8..6, prop::option::of(0usize..2), prop::bool::weighted(0.3))
            .prop_map(|(a, c, lift)| Op::SuppressProfile(a, c, lift)),
        1 => (any::<usize>(), prop::option::of(0usize..3), prop::option::of(0i64..4))
            .prop_map(|(i, c, p)| Op::CorrectRecord(i, c, p)),
    ]
}

/// The identifier `n` of kind `KINDS[kind]`, as the model writes it.
fn value_of(kind: usize, n: u8) -> (&'static str, String) {
    match kind {
        0 => (KINDS[0], format!("u{n}")),
        1 => (KINDS[1], format!("e{n}@example.com")),
        _ => (KINDS[2], format!("a{n}")),
    }
}

/// R, F and M scores.
type Score = (u8, u8, u8);

/// An identifier as the model keeps it: (kind, normalized value).
type Key = (&'static str, String);

/// The plain model.
#[derive(Default)]
struct Model {
    now: i64,
    next_seq: u64,
    records: Vec<Rec>,
    registered: BTreeSet<usize>,
    blocked: BTreeSet<(&'static str, String)>,
    /// The latest RFM run: each profile then, as its records' arrival numbers, with its
    /// score.
    run: Option<Vec<(BTreeSet<u64>, Option<Score>)>>,
    /// Identifier suppressions by (kind, value): (channel, time) each.
    suppressed_ids: BTreeMap<Key, BTreeSet<(Option<usize>, i64)>>,
    /// Whole-profile suppressions: (anchor record, channel, time); one belongs to the
    /// profile holding its anchor, the profile's newest record when it was made.
    suppressions: BTreeSet<(u64, Option<usize>, i64)>,
}

fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// One consent entry: (time, record, `Some(granted)` for a statement or `None` for a
/// merge restriction).
type Entry = (i64, u64, Option<bool>);

/// A consent state from its entries: the latest decide; a denial wins a tie, then a
/// restriction not lifted by a statement of its own record, then a grant; none is the
/// opt-in default (denied).
fn state(entries: &[Entry]) -> bool {
    let Some(latest) = entries.iter().map(|e| e.0).max() else {
        return false;
    };
    let last: Vec<&Entry> = entries.iter().filter(|e| e.0 == latest).collect();
    let denied = last.iter().any(|e| e.2 == Some(false));
    let restricted = last
        .iter()
        .any(|r| r.2.is_none() && !last.iter().any(|s| s.2.is_some() && s.1 == r.1));
    !denied && !restricted
}

impl Model {
    /// Profiles: connected components of records sharing an identifier, each as its
    /// record indexes.
    fn profiles(&self) -> Vec<Vec<usize>> {
        let n = self.records.len();
        let mut parent: Vec<usize> = (0..n).collect();
        let mut owner: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for (i, r) in self.records.iter().enumerate() {
            for (k, v) in &r.ids {
                if let Some(&j) = owner.get(&(*k, v.as_str())) {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                } else {
                    owner.insert((k, v), i);
                }
            }
        }
        let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for i in 0..n {
            let r = root(&mut parent, i);
            groups.entry(r).or_default().push(i);
        }
        groups.into_values().collect()
    }

    /// The profile holding identifier `(kind, value)`.
    fn holder(&self, kind: &str, value: &str) -> Option<Vec<usize>> {
        self.profiles().into_iter().find(|p| {
            p.iter().any(|&i| {
                self.records[i]
                    .ids
                    .iter()
                    .any(|(k, v)| *k == kind && v == value)
            })
        })
    }

    /// The profile's distinct identifiers, strongest kind first, then by value.
    fn identifiers(&self, p: &[usize]) -> BTreeSet<(usize, String)> {
        p.iter()
            .flat_map(|&i| &self.records[i].ids)
            .map(|(k, v)| (KINDS.iter().position(|x| x == k).unwrap(), v.clone()))
            .collect()
    }

    fn seqs(&self, p: &[usize]) -> BTreeSet<u64> {
        p.iter().map(|&i| self.records[i].seq).collect()
    }

    fn country(&self, p: &[usize]) -> Option<&'static str> {
        // The newest observation; a tie goes to the larger value.
        p.iter()
            .filter_map(|&i| self.records[i].country.map(|c| (self.records[i].at, c)))
            .max()
            .map(|(_, c)| c)
    }

    fn points(&self, p: &[usize]) -> Option<i64> {
        let values: Vec<i64> = p.iter().filter_map(|&i| self.records[i].points).collect();
        (!values.is_empty()).then(|| values.iter().sum())
    }

    /// The events held: page views past their retention are gone.
    fn events<'a>(&'a self, p: &'a [usize]) -> impl Iterator<Item = &'a (&'static str, i64, i64)> {
        p.iter()
            .flat_map(|&i| &self.records[i].events)
            .filter(|(k, at, _)| *k != "page_view" || *at >= self.now - PAGE_VIEW_DAYS * DAY)
    }

    fn count(&self, p: &[usize], kind: &str, days: i64) -> usize {
        self.events(p)
            .filter(|(k, at, _)| *k == kind && *at <= self.now && *at > self.now - days * DAY)
            .count()
    }

    /// Marketing consent on channel `channel`: the statements for it or for every
    /// channel; the records in time order (then arrival), joined part by part; a record
    /// joining parts whose states differ leaves a denial as of its time, and its own
    /// statement counts after the join.
    fn granted(&self, p: &[usize], channel: usize) -> bool {
        let mut order = p.to_vec();
        order.sort_by_key(|&i| (self.records[i].at, self.records[i].seq));
        let mut parent: Vec<usize> = Vec::new();
        let mut entries: Vec<Vec<Entry>> = Vec::new();
        let mut part_of: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for &i in &order {
            let r = &self.records[i];
            let mut roots: Vec<usize> = Vec::new();
            for (k, v) in &r.ids {
                if let Some(&q) = part_of.get(&(*k, v.as_str())) {
                    let x = root(&mut parent, q);
                    if !roots.contains(&x) {
                        roots.push(x);
                    }
                }
            }
            let target = roots.first().copied().unwrap_or_else(|| {
                parent.push(parent.len());
                entries.push(Vec::new());
                parent.len() - 1
            });
            if roots.len() > 1 {
                let said = roots.iter().any(|&x| !entries[x].is_empty());
                let first = state(&entries[target]);
                let differ = said && roots.iter().any(|&x| state(&entries[x]) != first);
                for &x in &roots[1..] {
                    let taken = std::mem::take(&mut entries[x]);
                    entries[target].extend(taken);
                    parent[x] = target;
                }
                if differ {
                    entries[target].push((r.at, r.seq, None));
                }
            }
            for (k, v) in &r.ids {
                part_of.entry((k, v.as_str())).or_insert(target);
            }
            if let Some((g, c)) = r.consent
                && c.is_none_or(|c| c == channel)
            {
                entries[target].push((r.at, r.seq, Some(g)));
            }
        }
        let all: Vec<Entry> = entries.concat();
        state(&all)
    }

    /// RFM with fixed breaks, at `reference`: orders at or before it.
    fn rfm(&self, p: &[usize], reference: i64) -> Option<Score> {
        let orders: Vec<(i64, i64)> = self
            .events(p)
            .filter(|(k, at, _)| *k == "order_completed" && *at <= reference)
            .map(|(_, at, amount)| (*at, *amount))
            .collect();
        let last = orders.iter().map(|o| o.0).max()?;
        let recency = (reference - last).div_euclid(DAY);
        let frequency = orders.len() as i64;
        let monetary: i64 = orders.iter().map(|o| o.1).sum();
        let r = 3 - [2, 7].iter().filter(|&&b| recency > b).count() as u8;
        let f = 1 + [2, 3].iter().filter(|&&b| frequency >= b).count() as u8;
        let m = 1 + [200, 400].iter().filter(|&&b| monetary >= b).count() as u8;
        Some((r, f, m))
    }

    /// The score the latest run gave the profile, when the model can tell: no run, or a
    /// profile made of exactly the records of one scored then.
    fn score(&self, p: &[usize]) -> Option<Option<Score>> {
        let Some(run) = &self.run else {
            return Some(None);
        };
        let seqs = self.seqs(p);
        run.iter()
            .find(|(s, _)| *s == seqs)
            .map(|(_, score)| *score)
    }

    /// Membership of segment `segment`, when the model can tell.
    fn member(&self, segment: usize, p: &[usize]) -> Option<bool> {
        let german = self.country(p) == Some("DE");
        let buyer = self.count(p, "order_completed", 7) >= 1;
        Some(match segment {
            0 => german,
            1 => self.points(p).is_some_and(|x| x >= 6),
            2 => buyer,
            3 => self.count(p, "order_completed", 7) >= 2 || self.count(p, "page_view", 3) >= 1,
            4 => german && !buyer,
            5 => self.granted(p, 0),
            6 => self.score(p)?.is_some_and(|s| s.1 >= 2),
            7 => self.granted(p, 1),
            8 => self.suppressed(p, 0),
            _ => self.granted(p, 0) && !self.suppressed(p, 0),
        })
    }

    /// Whether a whole-profile suppression on `channel` (or every channel) applies.
    fn profile_suppressed(&self, p: &[usize], channel: usize) -> bool {
        let seqs = self.seqs(p);
        self.suppressions
            .iter()
            .any(|(a, c, _)| seqs.contains(a) && c.is_none_or(|c| c == channel))
    }

    /// Whether identifier `key` is suppressed on `channel` (or every channel).
    fn id_suppressed(&self, key: &Key, channel: usize) -> bool {
        self.suppressed_ids
            .get(key)
            .is_some_and(|e| e.iter().any(|(c, _)| c.is_none_or(|c| c == channel)))
    }

    /// Whether the profile counts as suppressed on `channel` in segments: as a whole, or
    /// through an identifier it holds.
    fn suppressed(&self, p: &[usize], channel: usize) -> bool {
        self.profile_suppressed(p, channel)
            || self
                .identifiers(p)
                .iter()
                .any(|(k, v)| self.id_suppressed(&(KINDS[*k], v.clone()), channel))
    }

    /// How many suppressions apply to the profile: its own and its identifiers'.
    fn suppression_count(&self, p: &[usize]) -> usize {
        let seqs = self.seqs(p);
        let own = self
            .suppressions
            .iter()
            .filter(|(a, _, _)| seqs.contains(a))
            .count();
        let of_ids: usize = self
            .identifiers(p)
            .iter()
            .filter_map(|(k, v)| self.suppressed_ids.get(&(KINDS[*k], v.clone())))
            .map(BTreeSet::len)
            .sum();
        own + of_ids
    }

    /// Drops the records past the record log's retention. A whole-profile suppression
    /// whose anchor goes moves to its profile's newest record that stays, or goes with
    /// its profile.
    fn apply_retention(&mut self) {
        let oldest = self.now - RECORD_DAYS * DAY;
        let before = self.profiles();
        let stays = |r: &Rec| r.at >= oldest;
        let moved: BTreeSet<(u64, Option<usize>, i64)> = self
            .suppressions
            .iter()
            .filter_map(|&(a, c, at)| {
                let p = before
                    .iter()
                    .find(|p| p.iter().any(|&i| self.records[i].seq == a))?;
                let anchor = p
                    .iter()
                    .map(|&i| &self.records[i])
                    .filter(|r| stays(r))
                    .map(|r| r.seq)
                    .max()?;
                let own = self.records.iter().find(|r| r.seq == a)?;
                Some((if stays(own) { a } else { anchor }, c, at))
            })
            .collect();
        self.suppressions = moved;
        self.records.retain(stays);
    }

    /// Takes `(kind, value)` out of linking; what the engine must answer.
    fn block(&mut self, key: &(&'static str, String)) -> Result<(), &'static str> {
        if self.blocked.contains(key) {
            return Err("already blocked");
        }
        if self
            .records
            .iter()
            .any(|r| r.ids.len() == 1 && r.ids[0] == *key)
        {
            return Err("orphans");
        }
        self.blocked.insert(key.clone());
        for r in &mut self.records {
            r.ids.retain(|x| x != key);
        }
        Ok(())
    }

    fn push(&mut self, mut r: Rec) {
        r.seq = self.next_seq;
        self.next_seq += 1;
        self.records.push(r);
    }
}

fn record_of(r: &Rec) -> Record {
    let mut b = Record::builder(t(r.at), "web");
    for (k, v) in &r.ids {
        b = b.identifier(*k, v.as_str());
    }
    if let Some(c) = r.country {
        b = b.trait_value("country", c);
    }
    if let Some(p) = r.points {
        b = b.trait_value("points", p);
    }
    if let Some((granted, channel)) = r.consent {
        let mut c = if granted {
            ConsentInput::grant("marketing")
        } else {
            ConsentInput::deny("marketing")
        };
        if let Some(channel) = channel {
            c = c.channel(CHANNELS[channel]);
        }
        b = b.consent(c);
    }
    for &(kind, at, amount) in &r.events {
        let mut ev = EventInput::new(kind, t(at));
        if kind == "order_completed" {
            ev = ev.property("amount", eur(amount));
        }
        b = b.event(ev);
    }
    b.build()
}

/// The record as a Segment-Spec message: `identify`, or `track` / `page` for its one
/// event (at the record's time), with the traits in `context.traits`.
#[cfg(feature = "spec")]
fn message_of(r: &Rec, ids: &[(&'static str, String)]) -> String {
    use serde_json::{Map, Value as Json, json};
    let mut traits = Map::new();
    let mut msg = Map::new();
    for (k, v) in ids {
        match *k {
            "user_id" => msg.insert("userId".into(), json!(v)),
            "anonymous_id" => msg.insert("anonymousId".into(), json!(v)),
            _ => traits.insert("email".into(), json!(v)),
        };
    }
    if let Some(c) = r.country {
        traits.insert("country".into(), json!(c));
    }
    if let Some(p) = r.points {
        traits.insert("points".into(), json!(p));
    }
    let stamp = chrono::DateTime::from_timestamp(t(r.at).as_millis() / 1000, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    msg.insert("timestamp".into(), json!(stamp));
    let mut context = Map::new();
    if let Some((granted, _every_channel)) = r.consent {
        context.insert(
            "consent".into(),
            json!({ "categoryPreferences": { "marketing": granted } }),
        );
    }
    match r.events.first() {
        None => {
            msg.insert("type".into(), json!("identify"));
            msg.insert("traits".into(), Json::Object(traits));
        }
        Some((kind, _, amount)) => {
            if *kind == "page_view" {
                msg.insert("type".into(), json!("page"));
            } else {
                msg.insert("type".into(), json!("track"));
                msg.insert("event".into(), json!("Order Completed"));
                // Decimal text, as a shop sends it: 2.5 for 250 cents.
                let revenue: serde_json::Number = format!("{}.{:02}", amount / 100, amount % 100)
                    .parse()
                    .unwrap();
                msg.insert(
                    "properties".into(),
                    json!({ "revenue": revenue, "currency": "EUR" }),
                );
            }
            context.insert("traits".into(), Json::Object(traits));
        }
    }
    msg.insert("context".into(), Json::Object(context));
    Json::Object(msg).to_string()
}

/// The engine equals the model: the same partition of identifiers into profiles, the
/// same traits, consent, scores, registered segment members and activation.
fn check(e: &Engine, m: &Model) -> Result<(), TestCaseError> {
    e.internal_validate().map_err(TestCaseError::fail)?;
    let profiles = m.profiles();
    prop_assert_eq!(e.profile_ids().count(), profiles.len(), "profile count");
    prop_assert_eq!(e.record_count(), m.records.len(), "record count");
    for (k, v) in &m.blocked {
        prop_assert_eq!(e.find(k, v).unwrap(), None, "blocked {}={} links", k, v);
    }
    let plans = [
        e.compile(&reachable()).unwrap(),
        e.compile(&pushable()).unwrap(),
    ];
    let mut expected_activation: BTreeMap<ProfileId, BTreeSet<String>> = BTreeMap::new();
    let mut expected_push: BTreeSet<ProfileId> = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for p in &profiles {
        let (k, v) = &m.records[p[0]].ids[0];
        let id = e
            .find(k, v)
            .unwrap()
            .expect("a model profile's identifier is held");
        prop_assert!(seen.insert(id), "two model profiles are one engine profile");
        for &i in p {
            for (k, v) in &m.records[i].ids {
                prop_assert_eq!(e.find(k, v).unwrap(), Some(id), "{}={} is elsewhere", k, v);
            }
        }
        let view = e.profile(id).unwrap();
        prop_assert_eq!(view.records.len(), p.len(), "records of {:?}", p);
        prop_assert_eq!(view.events.len(), m.events(p).count(), "events of {:?}", p);
        let (country, points) = (m.country(p).map(Value::from), m.points(p).map(Value::from));
        prop_assert_eq!(view.value("country"), country.as_ref());
        prop_assert_eq!(view.value("points"), points.as_ref());
        for (c, plan) in plans.iter().enumerate() {
            prop_assert_eq!(
                e.matches(plan, id).unwrap(),
                m.granted(p, c),
                "consent of {:?} on {}",
                p,
                CHANNELS[c]
            );
        }
        prop_assert_eq!(
            e.suppressions(id).unwrap().len(),
            m.suppression_count(p),
            "suppressions of {:?}",
            p
        );
        let german = m.country(p) == Some("DE");
        if german && m.granted(p, 1) && !m.profile_suppressed(p, 1) {
            expected_push.insert(id);
        }
        let held = e.rfm_score("classic", id).unwrap().map(|s| (s.r, s.f, s.m));
        if let Some(score) = m.score(p) {
            prop_assert_eq!(held, score, "RFM of {:?}", p);
        }
        for (s, (name, _)) in segment_defs().iter().enumerate() {
            if let (true, Some(member)) = (m.registered.contains(&s), m.member(s, p)) {
                let seg = e.segment_id(name).unwrap();
                prop_assert_eq!(
                    e.segment_members(seg).unwrap().contains(id.0),
                    member,
                    "{} of {:?}",
                    name,
                    p
                );
            }
        }
        if german && m.granted(p, 0) && !m.profile_suppressed(p, 0) {
            let emails: BTreeSet<String> = m
                .identifiers(p)
                .into_iter()
                .filter(|(k, v)| *k == 1 && !m.id_suppressed(&(KINDS[1], v.clone()), 0))
                .map(|(_, v)| v)
                .collect();
            if !emails.is_empty() {
                expected_activation.insert(id, emails);
            }
        }
    }
    let options = ActivationOptions {
        all_addresses: true,
        ..ActivationOptions::default()
    };
    let activation = e
        .activate(&germans(), "marketing", "email", options)
        .unwrap();
    let activated: BTreeMap<ProfileId, BTreeSet<String>> = activation
        .members()
        .map(|a| (a.profile, a.addresses().map(str::to_string).collect()))
        .collect();
    prop_assert_eq!(activated, expected_activation, "activation");
    let push = e
        .activate(&germans(), "marketing", CHANNELS[1], options)
        .unwrap();
    let pushed: BTreeSet<ProfileId> = push.members().map(|a| a.profile).collect();
    prop_assert_eq!(pushed, expected_push, "push activation");
    Ok(())
}

/// Applies one operation to the engine and the model, checking what the engine answers.
fn step(
    e: &mut Engine,
    m: &mut Model,
    op: Op,
    replayed: &mut BTreeSet<(audience::SegmentId, ProfileId)>,
) -> Result<(), TestCaseError> {
    match op {
        Op::Ingest {
            user,
            email,
            anon,
            ago,
            country,
            points,
            consent,
            events,
            spec,
        } => {
            let at = m.now - ago;
            let mut carried = vec![value_of(2, anon)];
            carried.extend(user.map(|u| value_of(0, u)));
            carried.extend(email.map(|n| value_of(1, n)));
            // A message carries one event at its own time.
            let spec = spec && cfg!(feature = "spec") && events.len() <= 1;
            // Consent categories of a message are statements for every channel.
            let consent = consent.map(|(g, c)| (g, c.filter(|_| !spec)));
            let events = events
                .iter()
                .map(|&(order, back, big)| {
                    let kind = if order {
                        "order_completed"
                    } else {
                        "page_view"
                    };
                    (
                        kind,
                        if spec { at } else { at - back },
                        if big { 250 } else { 100 },
                    )
                })
                .collect();
            let r = Rec {
                seq: 0,
                at,
                ids: carried
                    .iter()
                    .filter(|x| !m.blocked.contains(x))
                    .cloned()
                    .collect(),
                country: country.map(|c| COUNTRIES[c]),
                points,
                consent,
                events,
            };
            let answer = if spec {
                ingest_spec(e, &r, &carried)
            } else {
                let mut full = r.clone();
                full.ids = carried;
                e.ingest(&record_of(&full))
                    .map(|_| ())
                    .map_err(|x| x.to_string())
            };
            if r.ids.is_empty() {
                prop_assert!(answer.is_err(), "a record with only blocked identifiers");
            } else {
                answer.map_err(TestCaseError::fail)?;
                m.push(r);
            }
        }
        Op::Advance(d) => {
            m.now += d;
            e.advance_time(t(m.now)).unwrap();
            m.apply_retention();
        }
        Op::Toggle(s) => {
            let (name, expr) = segment_defs()[s].clone();
            if m.registered.remove(&s) {
                let id = e.segment_id(name).unwrap();
                // Registered ones name no other, so unregistering always works.
                e.unregister_segment(id).unwrap();
                replayed.retain(|(seg, _)| *seg != id);
            } else {
                e.register_segment(name, expr).unwrap();
                m.registered.insert(s);
                *replayed = memberships(e);
                e.drain_changes();
            }
        }
        Op::Erase(anon) => {
            let (kind, value) = value_of(2, anon);
            if let Some(p) = m.holder(kind, &value) {
                let who = Subject::Identifier {
                    kind,
                    value: &value,
                };
                let receipt = e.erase(who, ErasureOptions::default()).unwrap();
                prop_assert_eq!(receipt.records.len(), p.len());
                prop_assert_eq!(receipt.suppressions, m.suppression_count(&p));
                let gone: BTreeSet<u64> = m.seqs(&p);
                for (k, v) in m.identifiers(&p) {
                    m.suppressed_ids.remove(&(KINDS[k], v));
                }
                m.suppressions.retain(|(a, _, _)| !gone.contains(a));
                m.records.retain(|r| !gone.contains(&r.seq));
            } else {
                prop_assert!(e.find(kind, &value).unwrap().is_none());
            }
        }
        Op::Restore => {
            let snapshot = e.snapshot();
            *e = Engine::restore(snapshot.clone()).unwrap();
            prop_assert_eq!(e.snapshot(), snapshot);
        }
        Op::Export(anon) => {
            let (kind, value) = value_of(2, anon);
            if let Some(p) = m.holder(kind, &value) {
                let export = e
                    .export(Subject::Identifier {
                        kind,
                        value: &value,
                    })
                    .unwrap();
                prop_assert_eq!(export.records.len(), p.len());
                prop_assert_eq!(export.profile.events.len(), m.events(&p).count());
                let statements = p
                    .iter()
                    .filter(|&&i| m.records[i].consent.is_some())
                    .count();
                prop_assert_eq!(export.profile.consent_history.len(), statements);
                prop_assert_eq!(export.profile.suppressions.len(), m.suppression_count(&p));
                for (s, (name, _)) in segment_defs().iter().enumerate() {
                    if let (true, Some(member)) = (m.registered.contains(&s), m.member(s, &p)) {
                        let listed = export.segments.iter().any(|x| x.name == *name);
                        prop_assert_eq!(listed, member, "export lists {}", name);
                    }
                }
            }
        }
        Op::Score => {
            e.score_rfm("classic", t(m.now)).unwrap();
            let run = m
                .profiles()
                .iter()
                .map(|p| (m.seqs(p), m.rfm(p, m.now)))
                .collect();
            m.run = Some(run);
        }
        Op::Block(kind, n) => {
            let (k, v) = value_of(kind, n);
            let answer = e.block_identifier_value(k, &v);
            match m.block(&(k, v)) {
                Ok(()) => {
                    answer.map_err(|x| TestCaseError::fail(x.to_string()))?;
                }
                Err("orphans") => {
                    prop_assert!(
                        matches!(answer, Err(RepairError::Orphans { .. })),
                        "{:?}",
                        answer
                    );
                }
                Err(_) => {
                    prop_assert!(
                        matches!(answer, Err(RepairError::AlreadyBlocked { .. })),
                        "{:?}",
                        answer
                    );
                }
            }
        }
        Op::Unmerge(anon, kind, n) => {
            let (ak, av) = value_of(2, anon);
            let Some(p) = m.holder(ak, &av) else {
                return Ok(());
            };
            let id = e.find(ak, &av).unwrap().unwrap();
            let key = value_of(kind, n);
            let held = p.iter().any(|&i| m.records[i].ids.contains(&key));
            let answer = e.unmerge(id, key.0, &key.1);
            if m.blocked.contains(&key) {
                prop_assert!(
                    matches!(answer, Err(RepairError::AlreadyBlocked { .. })),
                    "{:?}",
                    answer
                );
            } else if !held {
                prop_assert!(
                    matches!(answer, Err(RepairError::NotHeld { .. })),
                    "{:?}",
                    answer
                );
            } else if m.identifiers(&p).len() == 1 {
                prop_assert!(
                    matches!(answer, Err(RepairError::LastIdentifier { .. })),
                    "{:?}",
                    answer
                );
            } else if m.block(&key).is_err() {
                prop_assert!(
                    matches!(answer, Err(RepairError::Orphans { .. })),
                    "{:?}",
                    answer
                );
            } else {
                answer.map_err(|x| TestCaseError::fail(x.to_string()))?;
            }
        }
        Op::Correct(anon, country) => {
            let (ak, av) = value_of(2, anon);
            let Some(p) = m.holder(ak, &av) else {
                return Ok(());
            };
            let id = e.find(ak, &av).unwrap().unwrap();
            let first = m.identifiers(&p).into_iter().next().unwrap();
            for &i in &p {
                m.records[i].country = None;
            }
            match country {
                Some(c) => {
                    e.correct_trait(id, "country", COUNTRIES[c], "web").unwrap();
                    m.push(Rec {
                        seq: 0,
                        at: m.now,
                        ids: vec![(KINDS[first.0], first.1)],
                        country: Some(COUNTRIES[c]),
                        points: None,
                        consent: None,
                        events: vec![],
                    });
                }
                None => {
                    e.delete_trait(id, "country").unwrap();
                }
            }
        }
        Op::SuppressId(kind, n, channel, lift) => {
            let key = value_of(kind, n);
            let channel_name = channel.map(|c| CHANNELS[c]);
            if lift {
                let had = m.suppressed_ids.get_mut(&key).is_some_and(|entries| {
                    let before = entries.len();
                    entries.retain(|(c, _)| *c != channel);
                    entries.len() != before
                });
                m.suppressed_ids.retain(|_, entries| !entries.is_empty());
                let answer = e.unsuppress_identifier(key.0, &key.1, channel_name);
                prop_assert_eq!(answer.unwrap(), had, "lifting {:?}", key);
            } else {
                let mut s = Suppression::new("model", t(m.now));
                s.channel = channel_name.map(str::to_string);
                e.suppress_identifier(key.0, &key.1, s).unwrap();
                m.suppressed_ids
                    .entry(key)
                    .or_default()
                    .insert((channel, m.now));
            }
        }
        Op::SuppressProfile(anon, channel, lift) => {
            let (ak, av) = value_of(2, anon);
            let Some(p) = m.holder(ak, &av) else {
                return Ok(());
            };
            let id = e.find(ak, &av).unwrap().unwrap();
            let seqs = m.seqs(&p);
            let channel_name = channel.map(|c| CHANNELS[c]);
            if lift {
                let before = m.suppressions.len();
                m.suppressions
                    .retain(|(a, c, _)| !(seqs.contains(a) && *c == channel));
                let had = m.suppressions.len() != before;
                let answer = e.unsuppress_profile(id, channel_name).unwrap();
                prop_assert_eq!(answer, had, "lifting {:?} of {:?}", channel_name, p);
            } else {
                let mut s = Suppression::new("model", t(m.now));
                s.channel = channel_name.map(str::to_string);
                e.suppress_profile(id, s).unwrap();
                let anchor = seqs.iter().copied().max().unwrap();
                m.suppressions.insert((anchor, channel, m.now));
            }
        }
        Op::CorrectRecord(pick, country, points) => {
            if m.records.is_empty() {
                return Ok(());
            }
            let i = pick % m.records.len();
            let mut traits = Vec::new();
            if let Some(c) = country {
                traits.push(TraitInput {
                    name: "country".into(),
                    value: Value::from(COUNTRIES[c]),
                });
            }
            if let Some(p) = points {
                traits.push(TraitInput {
                    name: "points".into(),
                    value: Value::from(p),
                });
            }
            let r = &mut m.records[i];
            e.correct_record(RecordId(r.seq), &traits).unwrap();
            r.country = country.map(|c| COUNTRIES[c]);
            r.points = points;
        }
    }
    Ok(())
}

/// Ingests `r` (carrying `ids`, blocked ones included) as a Segment-Spec message.
#[cfg(feature = "spec")]
fn ingest_spec(e: &mut Engine, r: &Rec, ids: &[(&'static str, String)]) -> Result<(), String> {
    use audience::spec::{Mapping, SpecMapper};
    // Built once per test thread: every engine of the model test has the same schema.
    thread_local! {
        static MAPPER: std::cell::OnceCell<SpecMapper> = const { std::cell::OnceCell::new() };
    }
    MAPPER.with(|cell| {
        let mapper = cell.get_or_init(|| {
            let mapping = Mapping {
                currency: "EUR".into(),
                ..Mapping::default()
            };
            SpecMapper::new(e.schema(), mapping).unwrap()
        });
        e.ingest_spec(mapper, &message_of(r, ids))
            .map(|_| ())
            .map_err(|x| x.to_string())
    })
}

#[cfg(not(feature = "spec"))]
fn ingest_spec(_: &mut Engine, _: &Rec, _: &[(&'static str, String)]) -> Result<(), String> {
    unreachable!("spec is off")
}

/// Cases of the model test: `factor` times [`crate::common::cases`]. Run through a
/// `TestRunner` of its own, as `proptest!` lets `PROPTEST_CASES` override any count.
fn model_config(factor: u32) -> ProptestConfig {
    ProptestConfig {
        cases: crate::common::cases().saturating_mul(factor),
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct("proptest-regressions/model.txt"),
        )),
        ..ProptestConfig::default()
    }
}

/// Runs one sequence of operations, checking after every step.
fn run_ops(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut e = Engine::new(schema());
    let mut m = Model {
        now: 30 * DAY,
        ..Model::default()
    };
    e.advance_time(t(m.now)).unwrap();
    let mut replayed = BTreeSet::new();
    for op in ops {
        step(&mut e, &mut m, op, &mut replayed)?;
        check(&e, &m)?;
        replay_drained(&mut e, &mut replayed).map_err(TestCaseError::fail)?;
        prop_assert_eq!(&replayed, &memberships(&e));
    }
    Ok(())
}

/// The engine equals the plain model after every step. Small engines make cheap cases:
/// 32 times the pinned count (8,192 sequences of up to 63 steps in CI).
#[test]
fn the_engine_equals_a_plain_model() {
    let mut runner = proptest::test_runner::TestRunner::new(model_config(32));
    let ops = prop::collection::vec(op(), 1..64);
    if let Err(e) = runner.run(&ops, run_ops) {
        panic!("{e}");
    }
}

fn rec(seq: u64, at: i64, ids: &[(&'static str, &str)], consent: Option<bool>) -> Rec {
    Rec {
        seq,
        at,
        ids: ids.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        country: None,
        points: Some(1),
        consent: consent.map(|g| (g, None)),
        events: vec![],
    }
}

/// The model finds merges the way the engine does: a record joining two profiles.
#[test]
fn the_model_merges_through_a_shared_identifier() {
    let m = Model {
        records: vec![
            rec(0, 0, &[("user_id", "u1")], None),
            rec(1, 0, &[("email", "e1@example.com")], None),
            rec(
                2,
                0,
                &[("user_id", "u1"), ("email", "e1@example.com")],
                None,
            ),
            rec(3, 0, &[("user_id", "u2")], None),
        ],
        ..Model::default()
    };
    assert_eq!(m.profiles(), vec![vec![0, 1, 2], vec![3]]);
    assert_eq!(m.points(&[0, 1, 2]), Some(3));
}

/// The model's consent: a join of a granting and a silent (opt-in: denied) part leaves a
/// denial as of the joining record, which a later grant lifts.
#[test]
fn the_model_restricts_consent_at_a_join() {
    let mut m = Model {
        records: vec![
            rec(0, 10, &[("user_id", "u1")], Some(true)),
            rec(1, 20, &[("email", "e1@example.com")], None),
            rec(
                2,
                30,
                &[("user_id", "u1"), ("email", "e1@example.com")],
                None,
            ),
        ],
        ..Model::default()
    };
    assert!(m.granted(&[0], 0));
    assert!(!m.granted(&[0, 1, 2], 0));
    m.records.push(rec(3, 40, &[("user_id", "u1")], Some(true)));
    assert!(m.granted(&[0, 1, 2, 3], 0));
    // The joining record's own grant counts after the join; a denial at the same time
    // from another record wins the tie.
    m.records[2].consent = Some((true, None));
    assert!(m.granted(&[0, 1, 2], 0));
    m.records
        .push(rec(4, 30, &[("user_id", "u1")], Some(false)));
    assert!(!m.granted(&[0, 1, 2, 4], 0));
}

/// The model's RFM: fixed breaks, three bins.
#[test]
fn the_model_scores_with_fixed_breaks() {
    let mut r = rec(0, 0, &[("user_id", "u1")], None);
    r.events = vec![("order_completed", 0, 250), ("order_completed", DAY, 100)];
    let m = Model {
        now: 10 * DAY,
        records: vec![r],
        ..Model::default()
    };
    // Nine days since the last order (more than 7: 1), two orders (2), 350 cents (2).
    assert_eq!(m.rfm(&[0], 10 * DAY), Some((1, 2, 2)));
    assert_eq!(m.rfm(&[0], DAY + 2 * DAY), Some((3, 2, 2)));
    assert_eq!(m.rfm(&[0], DAY - 1), Some((3, 1, 2)));
}

/// Found by the model: record retention rebuilding two unrelated profiles at once gave
/// the survivor the id of the one that expired entirely, so its RFM score was lost.
#[test]
fn retention_keeps_the_ids_of_unrelated_profiles() {
    let mut e = Engine::new(schema());
    let now = 30 * DAY;
    e.advance_time(t(now)).unwrap();
    let old = now - 4 * DAY;
    let ingest = |e: &mut Engine, ids: &[(&str, &str)], at: i64, order: bool| {
        let mut b = Record::builder(t(at), "web");
        for (k, v) in ids {
            b = b.identifier(*k, *v);
        }
        if order {
            b = b.event(EventInput::new("order_completed", t(at)).property("amount", eur(100)));
        }
        e.ingest(&b.build()).unwrap().profile
    };
    let gone = ingest(&mut e, &[("anonymous_id", "a1")], old, false);
    let kept = ingest(
        &mut e,
        &[("user_id", "u5"), ("anonymous_id", "a2")],
        now,
        true,
    );
    assert_ne!(gone, kept);
    e.score_rfm("classic", t(now)).unwrap();
    let score = e.rfm_score("classic", kept).unwrap();
    assert!(score.is_some());
    // An old record joins `kept`; both old records expire in the same clock move.
    assert_eq!(ingest(&mut e, &[("anonymous_id", "a2")], old, false), kept);
    e.advance_time(t(old + RECORD_DAYS * DAY + 1)).unwrap();
    assert_eq!(e.find("user_id", "u5").unwrap(), Some(kept));
    assert_eq!(e.profile_ids().collect::<Vec<_>>(), vec![kept]);
    assert_eq!(e.rfm_score("classic", kept).unwrap(), score);
}

/// Found with the model's suppressions: when record retention rebuilt two unrelated
/// profiles at once and a whole-profile suppression's anchor record expired, the
/// suppression went to the first record of the whole rebuild (another person), and kept
/// naming the expired record, so the engine's snapshot no longer restored.
#[test]
fn an_expired_anchor_leaves_the_suppression_with_its_profile() {
    let mut e = Engine::new(schema());
    let now = 30 * DAY;
    e.advance_time(t(now)).unwrap();
    let old = now - 4 * DAY;
    let ingest = |e: &mut Engine, ids: &[(&str, &str)], at: i64| {
        let mut b = Record::builder(t(at), "web");
        for (k, v) in ids {
            b = b.identifier(*k, *v);
        }
        e.ingest(&b.build()).unwrap().profile
    };
    let b = ingest(&mut e, &[("anonymous_id", "b1")], old);
    let a = ingest(&mut e, &[("anonymous_id", "a1")], old);
    e.suppress_profile(a, audience::Suppression::new("x", t(now)))
        .unwrap();
    assert_eq!(ingest(&mut e, &[("anonymous_id", "b1")], now), b);
    assert_eq!(ingest(&mut e, &[("anonymous_id", "a1")], now), a);
    e.advance_time(t(old + RECORD_DAYS * DAY + 1)).unwrap();
    assert_eq!(
        e.suppressions(a).unwrap().len(),
        1,
        "a keeps its suppression"
    );
    assert_eq!(e.suppressions(b).unwrap().len(), 0, "b never had one");
    let restored = Engine::restore(e.snapshot()).unwrap();
    assert_eq!(restored.suppressions(a).unwrap().len(), 1);
}
