//! Schema evolution: a running engine takes a new schema, its data carried over by name
//! (see [`Engine::change_schema`]).

use std::fmt;

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::engine::realtime::Dirty;
use crate::error::SchemaChangeError;
use crate::ids::SegmentId;
use crate::realtime::{Cause, Change, SegmentChange};
use crate::schema::{Schema, SchemaDef};
use crate::segment::compile::{Limits, Scope, compile};
use crate::snapshot::{Computed, carry, keeps_computed};
use crate::time::Timestamp;

/// One item of a schema, by name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaItem {
    /// An identifier kind.
    IdentifierKind(String),
    /// A source.
    Source(String),
    /// A trait.
    Trait(String),
    /// An event kind.
    EventKind(String),
    /// A property of an event kind that is in both schemas.
    Property {
        /// The event kind.
        kind: String,
        /// The property.
        property: String,
    },
    /// A consent purpose.
    Purpose(String),
    /// A consent channel.
    Channel(String),
    /// A computed trait.
    Computed(String),
    /// An RFM model.
    RfmModel(String),
    /// A named RFM segment.
    RfmSegment(String),
    /// The record log's retention.
    RecordRetention,
}

impl fmt::Display for SchemaItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaItem::IdentifierKind(n) => write!(f, "identifier kind {n:?}"),
            SchemaItem::Source(n) => write!(f, "source {n:?}"),
            SchemaItem::Trait(n) => write!(f, "trait {n:?}"),
            SchemaItem::EventKind(n) => write!(f, "event kind {n:?}"),
            SchemaItem::Property { kind, property } => {
                write!(f, "property {property:?} of event kind {kind:?}")
            }
            SchemaItem::Purpose(n) => write!(f, "purpose {n:?}"),
            SchemaItem::Channel(n) => write!(f, "channel {n:?}"),
            SchemaItem::Computed(n) => write!(f, "computed trait {n:?}"),
            SchemaItem::RfmModel(n) => write!(f, "RFM model {n:?}"),
            SchemaItem::RfmSegment(n) => write!(f, "RFM segment {n:?}"),
            SchemaItem::RecordRetention => f.write_str("the record log's retention"),
        }
    }
}

/// The receipt of a schema change: what changed in the schema and what happened to the
/// data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaChange {
    /// Items of the new schema the old one did not have.
    pub added: Vec<SchemaItem>,
    /// Items of the old schema the new one does not have (their data dropped).
    pub removed: Vec<SchemaItem>,
    /// Items in both whose definition changed.
    pub changed: Vec<SchemaItem>,
    /// Trait observations dropped with their removed traits.
    pub observations_dropped: usize,
    /// Events dropped with their removed event kinds.
    pub events_dropped: usize,
    /// Events dropped because a new or shorter retention no longer keeps them.
    pub events_expired: usize,
    /// Records dropped whole because a new or shorter record retention no longer keeps
    /// them (see [`SchemaDef::record_retention_days`]).
    pub records_expired: usize,
    /// Event property values dropped with their removed properties.
    pub property_values_dropped: usize,
    /// Stored RFM runs dropped with their removed or changed models.
    pub rfm_runs_dropped: usize,
    /// Live profiles whose computed traits were recomputed from their events (the
    /// backfill of added or changed computed traits; 0 when neither the computed traits
    /// nor the event kinds changed, and their state was kept).
    pub profiles_recomputed: usize,
    /// Segment entries and exits the change caused (queued with
    /// [`Cause::SchemaChange`]).
    pub segment_changes: usize,
}

impl SchemaChange {
    /// Whether the schema stayed the same.
    pub fn is_unchanged(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Items added, removed and changed from `old` to `new`, each list by name.
fn diff(old: &SchemaDef, new: &SchemaDef, out: &mut SchemaChange) {
    fn lists<T: PartialEq>(
        old: &[T],
        new: &[T],
        name: impl Fn(&T) -> &str,
        item: impl Fn(String) -> SchemaItem,
        out: &mut SchemaChange,
    ) {
        for n in new {
            match old.iter().find(|o| name(o) == name(n)) {
                None => out.added.push(item(name(n).to_string())),
                Some(o) if o != n => out.changed.push(item(name(n).to_string())),
                Some(_) => {}
            }
        }
        for o in old {
            if !new.iter().any(|n| name(n) == name(o)) {
                out.removed.push(item(name(o).to_string()));
            }
        }
    }
    lists(
        &old.identifier_kinds,
        &new.identifier_kinds,
        |k| &k.name,
        SchemaItem::IdentifierKind,
        out,
    );
    lists(
        &old.sources,
        &new.sources,
        |s| &s.name,
        SchemaItem::Source,
        out,
    );
    lists(
        &old.traits,
        &new.traits,
        |t| &t.name,
        SchemaItem::Trait,
        out,
    );
    lists(
        &old.event_kinds,
        &new.event_kinds,
        |k| &k.name,
        SchemaItem::EventKind,
        out,
    );
    for n in &new.event_kinds {
        if let Some(o) = old.event_kinds.iter().find(|o| o.name == n.name) {
            let property = |p: String| SchemaItem::Property {
                kind: n.name.clone(),
                property: p,
            };
            lists(&o.properties, &n.properties, |p| &p.name, property, out);
        }
    }
    lists(
        &old.purposes,
        &new.purposes,
        |p| &p.name,
        SchemaItem::Purpose,
        out,
    );
    lists(
        &old.channels,
        &new.channels,
        |c| &c.name,
        SchemaItem::Channel,
        out,
    );
    lists(
        &old.computed,
        &new.computed,
        |c| &c.name,
        SchemaItem::Computed,
        out,
    );
    lists(
        &old.rfm_models,
        &new.rfm_models,
        |m| &m.name,
        SchemaItem::RfmModel,
        out,
    );
    lists(
        &old.rfm_segments,
        &new.rfm_segments,
        |s| &s.name,
        SchemaItem::RfmSegment,
        out,
    );
    if old.record_retention_days != new.record_retention_days {
        out.changed.push(SchemaItem::RecordRetention);
    }
}

impl Engine {
    /// Replaces the schema of a running engine, carrying its data over by name.
    ///
    /// - **Added** items start empty: a new trait or identifier kind has no values, a
    ///   new event kind no events, a new RFM model no runs. A new **computed trait is
    ///   backfilled** from the stored events, as if it had been declared from the start.
    /// - **Removed** traits, event kinds and properties take their data with them
    ///   (counted in the receipt); removed RFM models their runs.
    /// - **Changed** definitions apply to the data held: a trait's strategy or a
    ///   source's priority recomputes current values, a computed trait is recomputed, a
    ///   shorter retention drops what it no longer keeps, an RFM model whose definition
    ///   changed loses its stored runs (they were scored by the old one).
    ///
    /// Registered segments stay registered and keep their members' entry times; every
    /// profile that enters or leaves one because of the change is queued with
    /// [`Cause::SchemaChange`].
    ///
    /// Refused, leaving the engine exactly as it was ([`SchemaChangeError`]): a trait or
    /// property whose type changes while values are held; an identifier kind removed or
    /// given other rules while identifiers of it are held (linking would have gone
    /// otherwise); a source, purpose or channel removed while records, observations or
    /// consent refer to it; a registered segment that does not compile under the new
    /// schema; data that does not fit it in any other way.
    ///
    /// The change rebuilds the engine as a restore does (about a snapshot and a restore
    /// of time): it is meant for deployments, not for every request.
    ///
    /// ```
    /// use audience::schema::{Computation, ComputedDef, EventFilter};
    /// use audience::{ComputedValue, Engine, EventInput, Record, Schema, Timestamp};
    ///
    /// let mut engine = Engine::new(Schema::retail_default());
    /// let t = Timestamp::from_secs(1_700_000_000)?;
    /// engine.advance_time(t)?;
    /// let p = engine
    ///     .ingest(
    ///         &Record::builder(t, "web")
    ///             .identifier("user_id", "u1")
    ///             .event(EventInput::new("page_view", t))
    ///             .event(EventInput::new("page_view", t))
    ///             .build(),
    ///     )?
    ///     .profile;
    /// let receipt = engine.edit_schema(|def| {
    ///     def.computed.push(ComputedDef::new(
    ///         "page_views",
    ///         EventFilter::kind("page_view"),
    ///         Computation::Count,
    ///     ));
    /// })?;
    /// assert_eq!(receipt.added, [audience::SchemaItem::Computed("page_views".into())]);
    /// // Backfilled from the events already held.
    /// assert_eq!(engine.computed(p, "page_views")?, Some(ComputedValue::Count(2)));
    /// # Ok::<(), audience::Error>(())
    /// ```
    ///
    /// # Errors
    /// A [`SchemaChangeError`] naming the conflict; nothing changed.
    pub fn change_schema(&mut self, schema: Schema) -> Result<SchemaChange, SchemaChangeError> {
        self.change_schema_with_progress(schema, &mut crate::progress::ignore)
    }

    /// [`Engine::edit_schema`]'s building block: edits a copy of the current
    /// definitions with `edit`, validates them and applies them with
    /// [`Engine::change_schema`].
    ///
    /// # Errors
    /// [`SchemaChangeError::Schema`] for definitions that do not validate, else as
    /// [`Engine::change_schema`].
    pub fn edit_schema(
        &mut self,
        edit: impl FnOnce(&mut SchemaDef),
    ) -> Result<SchemaChange, SchemaChangeError> {
        let mut def = self.schema.def().clone();
        edit(&mut def);
        self.change_schema(Schema::from_def(def)?)
    }

    /// [`Engine::change_schema`], reporting the rebuild's progress (records, then two
    /// units per profile slot, as [`Engine::restore_with_progress`]).
    ///
    /// # Errors
    /// As [`Engine::change_schema`].
    pub fn change_schema_with_progress(
        &mut self,
        schema: Schema,
        progress: &mut dyn FnMut(crate::Progress),
    ) -> Result<SchemaChange, SchemaChangeError> {
        let mut receipt = SchemaChange::default();
        diff(self.schema.def(), schema.def(), &mut receipt);
        self.check_segments_compile(&schema)?;
        let computed = if keeps_computed(self.schema.def(), schema.def()) {
            Computed::Trusted
        } else {
            Computed::Recompute
        };
        let (mut state, dropped) = carry(self.snapshot_state(), &self.schema, &schema)?;
        for s in state.segments.iter_mut().flatten() {
            s.entered.clear();
        }
        // Records a new record retention no longer keeps are dropped after the rebuild
        // (that needs the engine): the rebuild must let them in first.
        let on_advance = std::mem::replace(&mut state.config.retention_on_advance, false);
        let mut next = Engine::rebuild_from(state, computed, progress)
            .map_err(|e| SchemaChangeError::DataConflict(e.to_string()))?;
        next.config.retention_on_advance = on_advance;
        if on_advance && let Some(now) = next.clock.now() {
            let queued = next.segments.changes.len();
            let (expired, touched) = next.expire_events();
            if expired.records_expired > 0 || expired.events > 0 {
                next.update_segments(
                    &Dirty::Record {
                        profiles: &expired.profiles,
                        touched: &touched,
                        leaves: None,
                    },
                    now,
                    &|_| Cause::Retention,
                );
            }
            // The net change over the whole call is queued below.
            next.segments.changes.truncate(queued);
            receipt.records_expired = expired.records_expired;
            receipt.events_expired += expired.events;
        }
        next.erasure_key = self.erasure_key.clone();
        next.retention_pending = self.retention_pending.clone();
        receipt.segment_changes = self.carry_memberships(&mut next);
        receipt.observations_dropped = dropped.observations;
        receipt.events_dropped = dropped.events;
        receipt.events_expired += dropped.expired_events;
        receipt.property_values_dropped = dropped.property_values;
        receipt.rfm_runs_dropped = dropped.rfm_runs;
        receipt.profiles_recomputed =
            if computed == Computed::Trusted || next.schema.computed_rules().is_empty() {
                0
            } else {
                next.profiles
                    .iter_live()
                    .filter(|(_, p)| !p.events.is_empty())
                    .count()
            };
        *self = next;
        Ok(receipt)
    }

    /// Refuses a schema under which some registered segment does not compile.
    fn check_segments_compile(&self, schema: &Schema) -> Result<(), SchemaChangeError> {
        let names = self.segments.names();
        // No materialized leaves: the engine's are compiled against the old schema.
        let scope = Scope {
            schema,
            segments: &names,
            materialized: &[],
            profile_slots: self.profiles.slot_count(),
            limits: Limits::of(&self.config),
        };
        for (i, name) in names.iter().enumerate() {
            let (Some(name), Some(seg)) = (name, self.segments.get(i)) else {
                continue;
            };
            compile(&seg.expr, &scope).map_err(|e| SchemaChangeError::SegmentConflict {
                segment: name.clone(),
                problem: e.to_string(),
            })?;
        }
        Ok(())
    }

    /// Gives `next`'s segments the entry times members had here, and queues an entry or
    /// exit for every profile whose membership differs; returns how many.
    fn carry_memberships(&self, next: &mut Engine) -> usize {
        let at = next.clock.now().unwrap_or(Timestamp::MIN);
        let mut changes = Vec::new();
        for i in 0..self.segments.slot_count() {
            let (Some(before), Some(after)) = (self.segments.get(i), next.segments.get_mut(i))
            else {
                continue;
            };
            let segment = SegmentId(u32::try_from(i).unwrap_or(u32::MAX));
            after.entered.clear();
            for p in &after.members {
                let entered = before.entered.get(&p).copied().unwrap_or(at);
                after.entered.insert(p, entered);
            }
            let exited: RoaringBitmap = &before.members - &after.members;
            let entered: RoaringBitmap = &after.members - &before.members;
            let mut moved: Vec<(u32, Change)> = exited
                .iter()
                .map(|p| (p, Change::Exited))
                .chain(entered.iter().map(|p| (p, Change::Entered)))
                .collect();
            moved.sort_unstable_by_key(|(p, _)| *p);
            changes.extend(moved.into_iter().map(|(p, change)| SegmentChange {
                segment,
                profile: crate::ids::ProfileId(p),
                change,
                at,
                cause: Cause::SchemaChange,
            }));
        }
        let n = changes.len();
        next.segments.changes.extend(changes);
        n
    }
}
