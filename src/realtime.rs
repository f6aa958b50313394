//! Real time: registered segments report every entry and exit as a [`SegmentChange`].
//!
//! Each change to the engine names what it can affect — a record the traits, event kinds and
//! identifier kinds it touched (everything when it creates or merges profiles), a clock move
//! the profiles due in each materialized condition, an RFM run the segments that read RFM
//! — and only those segments are re-checked, for only those profiles, in segment id order so
//! a segment naming another sees it already updated.

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::ids::{EventKindId, KindId, ProfileId, RecordId, SegmentId, TraitId};
use crate::schema::Schema;
use crate::segment::compile::{Filter, Node};
use crate::time::Timestamp;

/// One profile entering or leaving one registered segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentChange {
    /// The segment.
    pub segment: SegmentId,
    /// The profile (a retired one only ever exits).
    pub profile: ProfileId,
    /// Entered or exited.
    pub change: Change,
    /// The engine clock when set, else the time of the record that caused it.
    pub at: Timestamp,
    /// What caused it.
    pub cause: Cause,
}

/// The direction of a [`SegmentChange`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// The profile is a member from now on.
    Entered,
    /// The profile is no longer a member.
    Exited,
}

/// What caused a [`SegmentChange`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Cause {
    /// An ingested record changed the profile's traits, events or identifiers.
    Record(RecordId),
    /// The record merged `retired` into `survivor`; the retired id exits everything.
    Merge {
        /// The record that caused the merge.
        record: RecordId,
        /// The profile that remains.
        survivor: ProfileId,
        /// The profile retired into it.
        retired: ProfileId,
    },
    /// A run of an RFM model.
    RfmRun {
        /// The model's name.
        model: String,
        /// The run's reference time.
        reference: Timestamp,
    },
    /// A suppression list changed (the host suppressed or lifted a profile or an
    /// identifier).
    Suppression {
        /// What was suppressed or lifted.
        target: crate::privacy::SuppressionTarget,
        /// The channel (`None`: every channel).
        channel: Option<String>,
        /// Suppressed (`true`) or lifted.
        suppressed: bool,
    },
    /// The person was erased (their ids exit everything), or a profile was rebuilt after
    /// an erasure.
    Erasure {
        /// The live profile that was erased.
        profile: ProfileId,
    },
    /// Links were undone: a value no longer links, and the profiles it held together were
    /// rebuilt from their records.
    Repair {
        /// The identifier kind.
        kind: String,
        /// The value.
        value: String,
    },
    /// The clock moved (windows and "days since" thresholds passed).
    Clock {
        /// The clock before the move (`None`: it was unset).
        from: Option<Timestamp>,
        /// The clock after it.
        to: Timestamp,
    },
    // Variants added since snapshot version 1 go last, so the postcard encoding of the
    // older ones (variant indexes) stays what version 1 wrote.
    /// A trait of the profile was rectified ([`crate::Engine::delete_trait`]).
    Rectification {
        /// The trait.
        trait_name: String,
    },
    /// The trait values of this record were corrected
    /// ([`crate::Engine::correct_record`]).
    RecordCorrected(RecordId),
    /// Events past their kind's retention were dropped from the profile (on a clock move
    /// or [`crate::Engine::apply_retention`]).
    Retention,
    /// The schema changed ([`crate::Engine::change_schema`]): a trait's strategy, a
    /// source's priority, a consent default or similar now gives another answer.
    SchemaChange,
}

/// A small bit set over dense schema ids, with its words OR-ed together beside them:
/// every record tests what it touched against what each segment and materialized
/// condition reads, and with ids below 64 (most schemas) that test is one AND.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bits {
    folded: u64,
    words: SmallVec<[u64; 2]>,
}

impl Bits {
    pub(crate) fn insert(&mut self, i: usize) {
        let word = i / 64;
        if self.words.len() <= word {
            self.words.resize(word + 1, 0);
        }
        if let Some(w) = self.words.get_mut(word) {
            *w |= 1 << (i % 64);
        }
        self.folded |= 1 << (i % 64);
    }

    #[inline]
    pub(crate) fn intersects(&self, other: &Bits) -> bool {
        if self.folded & other.folded == 0 {
            return false;
        }
        // With one word each, the folded words are the sets themselves.
        if self.words.len() <= 1 && other.words.len() <= 1 {
            return true;
        }
        self.words.iter().zip(&other.words).any(|(a, b)| a & b != 0)
    }
}

/// What a segment or a materialized condition reads, to tell which changes can affect it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Reads {
    /// Traits tested.
    pub(crate) traits: Bits,
    /// Event kinds counted (event, sequence and computed-trait conditions).
    pub(crate) kinds: Bits,
    /// Identifier kinds whose smallest value keys a sample.
    pub(crate) identifier_kinds: Bits,
    /// Reads a computed trait (a time zone change recomputes them all).
    pub(crate) computed: bool,
    /// Reads stored RFM runs.
    pub(crate) rfm: bool,
    /// Reads the clock.
    pub(crate) clock: bool,
    /// Reads consent or suppression.
    pub(crate) privacy: bool,
}

/// What `node` reads, looking into materialized leaves (`leaf_of`) but not into the
/// segments it names (their changes reach it through the dependency order).
pub(crate) fn reads_of<'a>(
    node: &'a Node,
    schema: &Schema,
    leaf_of: &dyn Fn(usize) -> Option<&'a Node>,
) -> Reads {
    let mut reads = Reads::default();
    let mut stack = vec![node];
    let kind = |reads: &mut Reads, f: &Filter| reads.kinds.insert(f.kind.index());
    while let Some(n) = stack.pop() {
        match n {
            Node::And(c) | Node::Or(c) => stack.extend(c),
            Node::Not(c) => stack.push(c),
            Node::Materialized(i) => stack.extend(leaf_of(*i)),
            Node::Trait { id, .. } => reads.traits.insert(id.index()),
            Node::Computed { index, .. } => {
                reads.computed = true;
                reads.clock = true;
                if let Some(rule) = schema.computed_rules().get(*index) {
                    for (k, terms) in rule.terms.iter().enumerate() {
                        if !terms.is_empty() {
                            reads.kinds.insert(k);
                        }
                    }
                }
            }
            Node::Event { filter, .. } => {
                reads.clock = true;
                kind(&mut reads, filter);
            }
            Node::NoneSince { first, then, .. } | Node::Then { first, then, .. } => {
                reads.clock = true;
                kind(&mut reads, first);
                kind(&mut reads, then);
            }
            Node::RfmScore { .. } | Node::RfmSegment { .. } | Node::RfmTrend { .. } => {
                reads.rfm = true;
            }
            Node::Sample { key: Some(k), .. } => reads.identifier_kinds.insert(k.index()),
            Node::Consent { .. } | Node::Suppressed { .. } => reads.privacy = true,
            // A fixed set changes only by merges and erasures, which re-check everything.
            Node::All
            | Node::None
            | Node::Segment(_)
            | Node::Sample { key: None, .. }
            | Node::Profiles(_) => {}
        }
    }
    reads
}

/// What one record changed on its profile.
#[derive(Clone, Debug, Default)]
pub(crate) struct Touched {
    /// A profile was created or merged: everything is re-checked.
    pub(crate) everything: bool,
    pub(crate) traits: Bits,
    pub(crate) kinds: Bits,
    pub(crate) identifier_kinds: Bits,
    /// The time zone trait changed, so computed traits were recomputed.
    pub(crate) computed: bool,
    /// Consent statements or suppressions changed.
    pub(crate) privacy: bool,
}

impl Touched {
    /// A record that touched `traits`, stored events of `kinds` and attached identifiers
    /// of `identifier_kinds`.
    pub(crate) fn new(
        traits: impl IntoIterator<Item = TraitId>,
        kinds: impl IntoIterator<Item = EventKindId>,
        identifier_kinds: impl IntoIterator<Item = KindId>,
    ) -> Self {
        let mut t = Touched::default();
        for id in traits {
            t.traits.insert(id.index());
        }
        for k in kinds {
            t.kinds.insert(k.index());
        }
        for k in identifier_kinds {
            t.identifier_kinds.insert(k.index());
        }
        t
    }

    /// Whether it can change the answer of something that reads `reads`.
    #[inline]
    pub(crate) fn affects(&self, reads: &Reads) -> bool {
        self.everything
            || self.traits.intersects(&reads.traits)
            || self.kinds.intersects(&reads.kinds)
            || self.identifier_kinds.intersects(&reads.identifier_kinds)
            || (self.computed && reads.computed)
            || (self.privacy && reads.privacy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(ids: &[usize]) -> Bits {
        let mut b = Bits::default();
        ids.iter().for_each(|&i| b.insert(i));
        b
    }

    #[test]
    fn bits_intersect_only_on_a_shared_member() {
        assert!(!bits(&[3, 130]).intersects(&bits(&[4])));
        assert!(bits(&[3, 130]).intersects(&bits(&[4, 130])));
        // 67 and 3 share a folded bit but no member.
        assert!(!bits(&[67]).intersects(&bits(&[3])));
        assert!(bits(&[67]).intersects(&bits(&[3, 67])));
        assert!(bits(&[5]).intersects(&bits(&[5])));
    }

    proptest::proptest! {
        #[test]
        fn intersects_is_set_intersection(
            a in proptest::collection::btree_set(0usize..200, 0..6),
            b in proptest::collection::btree_set(0usize..200, 0..6),
        ) {
            let (x, y) = (bits(&a.iter().copied().collect::<Vec<_>>()), bits(&b.iter().copied().collect::<Vec<_>>()));
            proptest::prop_assert_eq!(x.intersects(&y), !a.is_disjoint(&b));
        }
    }

    #[test]
    fn a_record_affects_what_reads_what_it_touched() {
        let mut reads = Reads::default();
        reads.kinds.insert(2);
        let trait_only = Touched::new([TraitId(1)], [], []);
        assert!(!trait_only.affects(&reads));
        let order = Touched::new([], [EventKindId(2)], []);
        assert!(order.affects(&reads));
        let created = Touched {
            everything: true,
            ..Touched::default()
        };
        assert!(created.affects(&Reads::default()));
    }
}
