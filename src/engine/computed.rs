//! Keeping computed traits current: on new events, on merges, on time zone changes and
//! as the clock moves. Only profiles whose values can change are visited: each profile
//! with events sits in a queue under the next instant one of its values can change.

use smallvec::SmallVec;

use crate::engine::Engine;
use crate::engine::realtime::Dirty;
use crate::error::{LookupError, TimeError};
use crate::event::computed::{self, Acc};
use crate::event::computed_value::{self, ComputedValue};
use crate::event::store::NewEvent;
use crate::event::text::TextPool;
use crate::ids::ProfileId;
use crate::profile::Profile;
use crate::profile::WARM_BLOCK;
use crate::realtime::Cause;
use crate::schema::{ComputedRule, Schema};
use crate::time::Timestamp;
use crate::zone::Zone;

/// The zone a habit reads `profile`'s local hours in.
fn zone(rule: &ComputedRule, profile: &Profile) -> Zone {
    rule.time_zone
        .and_then(|t| profile.current_text(t))
        .and_then(Zone::parse)
        .unwrap_or_default()
}

impl Engine {
    /// Moves the clock forwards to `to`. Computed traits whose windows the move crosses
    /// are brought up to date, and registered segments re-check the profiles whose
    /// conditions the move can change (an event leaving a window, a "days since" value
    /// crossing a bound) — only those profiles are visited — queuing the net entries and
    /// exits over the whole move, caused by [`Cause::Clock`](crate::Cause::Clock).
    ///
    /// # Errors
    /// [`TimeError::Backwards`] when `to` is before now; nothing changes.
    pub fn advance_time(&mut self, to: Timestamp) -> Result<(), TimeError> {
        let old = self.clock.now();
        self.clock.advance(to)?;
        self.advance_computed(old, to);
        // After the incremental step: dropping events recomputes what they fed.
        let (expired, touched) = if self.config.retention_on_advance {
            self.expire_events()
        } else {
            Default::default()
        };
        // After the computed traits: materialized conditions may read them.
        let mut due = self.advance_materialized(to);
        if !expired.profiles.is_empty() {
            // Profiles that lost events are re-checked by each leaf reading what they lost.
            for (i, m) in self.segments.materialized.iter().enumerate() {
                if m.users > 0
                    && touched.affects(&m.reads)
                    && let Some(d) = due.get_mut(i)
                {
                    d.extend(expired.profiles.iter().copied());
                }
            }
        }
        let queued = self.segments.changes.len();
        if expired.records_expired > 0 {
            // Profiles rebuilt without their expired records: every segment re-checks them.
            self.update_segments(
                &Dirty::Record {
                    profiles: &expired.profiles,
                    touched: &touched,
                    leaves: None,
                },
                to,
                &|_| Cause::Retention,
            );
        }
        let lost = &expired.profiles;
        self.update_segments(&Dirty::Due(&due), to, &|p| {
            if lost.binary_search(&p).is_ok() {
                Cause::Retention
            } else {
                Cause::Clock { from: old, to }
            }
        });
        if expired.records_expired > 0 {
            // Two passes, one net change per (segment, profile): back in their order.
            self.segments.changes.sort_since(queued);
        }
        if expired.events > 0 || expired.records_expired > 0 {
            self.retention_pending.add_counts(&expired);
        }
        Ok(())
    }

    /// Brings the computed traits of the profiles due by `to` up to date.
    fn advance_computed(&mut self, old: Option<Timestamp>, to: Timestamp) {
        if self.schema.computed_rules().is_empty() {
            return;
        }
        let due = self.due.take_until(to);
        for block in due.chunks(WARM_BLOCK) {
            self.profiles.warm(block.iter().copied());
            for &p in block {
                self.update_computed(p, |schema, profile, texts, _| {
                    let rules = schema.computed_rules();
                    let zones: Vec<Zone> = rules.iter().map(|rule| zone(rule, profile)).collect();
                    let accs = rules.iter().zip(profile.computed.iter_mut()).zip(zones);
                    for ((rule, acc), z) in accs {
                        let events = &profile.events;
                        match old {
                            Some(old) => computed::advance(rule, acc, events, old, to, texts, z),
                            None => *acc = computed::recompute(rule, events, Some(to), texts, z),
                        }
                    }
                });
            }
        }
    }

    /// Runs `update` on profile `p` with the compiled rules, the text pool and the clock,
    /// then puts `p` back in the queue under its next change.
    fn update_computed(
        &mut self,
        p: ProfileId,
        update: impl FnOnce(&Schema, &mut Profile, &TextPool, Option<Timestamp>),
    ) {
        let now = self.clock.now();
        let Engine {
            schema,
            profiles,
            texts,
            ..
        } = self;
        let Some(profile) = profiles.get_mut(p) else {
            return;
        };
        update(schema, profile, texts, now);
        self.schedule(p);
    }

    /// Recomputes every computed trait of `p` from its events.
    pub(crate) fn refresh_computed(&mut self, p: ProfileId) {
        self.update_computed(p, |schema, profile, texts, now| {
            let rules = schema.computed_rules();
            profile.computed = if rules.is_empty() || profile.events.is_empty() {
                Vec::new()
            } else {
                rules
                    .iter()
                    .map(|rule| {
                        computed::recompute(rule, &profile.events, now, texts, zone(rule, profile))
                    })
                    .collect()
            };
        });
    }

    /// Adds newly stored events of `p` to its computed traits.
    pub(crate) fn add_computed(&mut self, p: ProfileId, events: &[NewEvent]) {
        self.update_computed(p, |schema, profile, texts, now| {
            let rules = schema.computed_rules();
            if profile.computed.len() != rules.len() {
                profile.computed = rules.iter().map(Acc::empty).collect();
            }
            // Only the rules that read an event's kind see it; a zone is looked up once
            // per rule that needs one.
            let mut zones: SmallVec<[Option<Zone>; 8]> = SmallVec::from_elem(None, rules.len());
            for e in events {
                for &r in schema.computed_readers(e.kind) {
                    let r = usize::from(r);
                    let (Some(rule), Some(z)) = (rules.get(r), zones.get_mut(r)) else {
                        continue;
                    };
                    let z = *z.get_or_insert_with(|| zone(rule, profile));
                    if let Some(acc) = profile.computed.get_mut(r) {
                        computed::add_event(rule, acc, e, now, texts, z);
                    }
                }
            }
            profile.computed.iter_mut().for_each(Acc::trim);
        });
    }

    /// Puts `p` in the queue under its next change (or takes it out).
    pub(crate) fn schedule(&mut self, p: ProfileId) {
        let Some(profile) = self.profiles.get_mut(p) else {
            return;
        };
        let next = if profile.computed.is_empty() {
            None
        } else {
            computed::next_change(
                self.schema.computed_rules(),
                &profile.events,
                self.clock.now(),
                &self.texts,
            )
        };
        self.due.set(p, next);
    }

    /// The current value of computed trait `name` of profile `id` (or the survivor it was
    /// merged into); `None` with the clock unset or nothing to report.
    ///
    /// # Errors
    /// [`LookupError::UnknownProfile`] or [`LookupError::UnknownComputed`].
    pub fn computed(
        &self,
        id: ProfileId,
        name: &str,
    ) -> Result<Option<ComputedValue>, LookupError> {
        let cid = self
            .schema
            .computed_id(name)
            .ok_or_else(|| LookupError::UnknownComputed(name.to_string()))?;
        let live = self.resolve(id)?;
        let profile = self
            .profiles
            .get(live)
            .ok_or(LookupError::UnknownProfile(id))?;
        Ok(self.computed_value(profile, cid.index()))
    }

    /// Checks that every maintained computed trait of `p` equals its batch recomputation.
    pub(crate) fn check_computed(&self, id: ProfileId, p: &Profile) -> Result<(), String> {
        let rules = self.schema.computed_rules();
        if p.computed.is_empty() {
            return if p.events.is_empty() || rules.is_empty() {
                Ok(())
            } else {
                Err(format!("{id}: computed traits missing"))
            };
        }
        if p.computed.len() != rules.len() {
            return Err(format!("{id}: computed traits miscounted"));
        }
        for (rule, acc) in rules.iter().zip(&p.computed) {
            let batch = computed::recompute(
                rule,
                &p.events,
                self.clock.now(),
                &self.texts,
                zone(rule, p),
            );
            if &batch != acc {
                return Err(format!(
                    "{id}: computed trait differs from batch: {acc:?} != {batch:?}"
                ));
            }
        }
        let next = computed::next_change(rules, &p.events, self.clock.now(), &self.texts);
        if next != self.due.get(id) {
            return Err(format!("{id}: due time {:?} != {next:?}", self.due.get(id)));
        }
        Ok(())
    }

    /// The value computed trait `index` of `profile` will have at `at` (on or after the
    /// clock), from its events.
    pub(crate) fn computed_value_at(
        &self,
        profile: &Profile,
        index: usize,
        at: Timestamp,
    ) -> Option<ComputedValue> {
        let rule = self.schema.computed_rules().get(index)?;
        let acc = computed::recompute(
            rule,
            &profile.events,
            Some(at),
            &self.texts,
            zone(rule, profile),
        );
        computed_value::value(
            &self.schema,
            rule,
            &acc,
            &profile.events,
            Some(at),
            &self.texts,
        )
    }

    pub(crate) fn computed_value(&self, profile: &Profile, index: usize) -> Option<ComputedValue> {
        let rule = self.schema.computed_rules().get(index)?;
        let empty;
        let acc = match profile.computed.get(index) {
            Some(acc) => acc,
            None => {
                empty = Acc::empty(rule);
                &empty
            }
        };
        computed_value::value(
            &self.schema,
            rule,
            acc,
            &profile.events,
            self.clock.now(),
            &self.texts,
        )
    }
}
