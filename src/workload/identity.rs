//! The identity-resolution workload of `shared/bench/IDENTITY.md`, both variants, bit for bit.
//!
//! ```
//! use audience::workload::identity::{generate, IdentityParams, Variant};
//! let records = generate(&IdentityParams::small(Variant::Default));
//! assert_eq!(records.len(), 3_000);
//! // Every person's first record carries its user id (IDENTITY.md §4, promotion).
//! assert!(records[0].identifiers.iter().any(|(k, _)| k.name() == "user_id"));
//! ```

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::engine::Engine;
use crate::hash::fast_map;
use crate::ids::RecordId;
use crate::record::{IdentifierInput, Record};
use crate::time::Timestamp;
use crate::workload::splitmix::{SplitMix64, mix64, pick};

const PERSON_SALT: u64 = 0x5045_5253_4F4E;
const RECORD_SALT: u64 = 0x5245_434F_5244;
const MH_PERSON_SALT: u64 = 0x4D45_5247_4550;
const MH_RECORD_SALT: u64 = 0x4D45_5247_4552;

/// Which stream of IDENTITY.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// §2–§4: mostly lookups; every person's records are linked as they arrive.
    Default,
    /// §9: devices and emails first appear alone and are merged later by logins.
    MergeHeavy,
}

impl Variant {
    /// The variant's name as in the spec and the peer script.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Default => "default",
            Variant::MergeHeavy => "merge_heavy",
        }
    }
}

/// Parameters of one generated stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityParams {
    /// Which stream.
    pub variant: Variant,
    /// The seed (42 in the oracle).
    pub seed: u64,
    /// Number of persons `P`.
    pub persons: u64,
    /// Number of records `R`.
    pub records: u64,
}

impl IdentityParams {
    /// The full size of the oracle: P = 300,000, R = 1,000,000, seed 42.
    pub fn full(variant: Variant) -> Self {
        IdentityParams {
            variant,
            seed: 42,
            persons: 300_000,
            records: 1_000_000,
        }
    }

    /// The `small` oracle: P = 1,000, R = 3,000, seed 42.
    pub fn small(variant: Variant) -> Self {
        IdentityParams {
            persons: 1_000,
            records: 3_000,
            ..Self::full(variant)
        }
    }
}

/// The kinds of identifier in the workload, in presentation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IdKind {
    /// `a{p}_{k}`.
    AnonymousId,
    /// `u{p}`.
    UserId,
    /// `e{p}_{k}@example.com`, spelled by the record's style.
    Email,
}

impl IdKind {
    /// The identifier kind's name in the default schema.
    pub fn name(self) -> &'static str {
        match self {
            IdKind::AnonymousId => "anonymous_id",
            IdKind::UserId => "user_id",
            IdKind::Email => "email",
        }
    }
}

/// One generated record: its person, kind, and identifiers as presented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityRecord {
    /// The person (ground truth).
    pub person: u64,
    /// The record's kind (`page`, `login`, …).
    pub kind: &'static str,
    /// Whether promotion added identifiers (default variant only).
    pub promoted: bool,
    /// Identifiers in presentation order.
    pub identifiers: SmallVec<[(IdKind, String); 3]>,
}

impl IdentityRecord {
    /// The record as engine input: source `web`, one second apart from record 0 at
    /// 2024-01-01T00:00:00Z.
    pub fn to_record(&self, index: u64) -> Record {
        let secs = 1_704_067_200_i64.saturating_add(i64::try_from(index).unwrap_or(0));
        Record {
            timestamp: Timestamp::from_secs(secs).unwrap_or(Timestamp::MIN),
            source: "web".into(),
            message_id: None,
            identifiers: self
                .identifiers
                .iter()
                .map(|(k, v)| IdentifierInput {
                    kind: k.name().into(),
                    value: v.clone(),
                })
                .collect(),
            traits: Vec::new(),
            events: Vec::new(),
            consent: Vec::new(),
        }
    }
}

fn email(p: u64, k: u64, style: u64) -> String {
    let plain = format!("e{p}_{k}@example.com");
    match style {
        0..=5 => plain,
        6 | 7 => plain.to_ascii_uppercase(),
        8 => format!(" {plain} "),
        _ => format!(" {} ", plain.to_ascii_uppercase()),
    }
}

/// Generates the stream.
pub fn generate(params: &IdentityParams) -> Vec<IdentityRecord> {
    match params.variant {
        Variant::Default => generate_default(params),
        Variant::MergeHeavy => generate_merge_heavy(params),
    }
}

struct Person {
    n_emails: u64,
    n_devices: u64,
    flag: u64,
}

fn person(person_salt: u64, seed: u64, p: u64) -> Person {
    let mut rng = SplitMix64::new(mix64(mix64(seed ^ person_salt) ^ p));
    Person {
        n_emails: 1 + rng.next_u64() % 3,
        n_devices: 1 + rng.next_u64() % 4,
        flag: rng.next_u64() % 100,
    }
}

const KINDS: [&str; 7] = [
    "page", "login", "identify", "email", "server", "form", "checkout",
];
const KIND_L: [u64; 7] = [45, 15, 10, 15, 15, 0, 0];
const KIND_S: [u64; 7] = [40, 5, 10, 10, 10, 15, 10];
/// Which identifiers each kind carries: bit 0 anonymous id, bit 1 user id, bit 2 email.
const KIND_IDS: [u8; 7] = [0b001, 0b011, 0b110, 0b100, 0b010, 0b101, 0b111];

fn generate_default(params: &IdentityParams) -> Vec<IdentityRecord> {
    let persons: Vec<Person> = (0..params.persons)
        .map(|p| person(PERSON_SALT, params.seed, p))
        .collect();
    // seen(p) as bits: 0..4 devices, 4 user id, 5..8 emails.
    let mut seen = vec![0u8; persons.len()];
    let mut rng = SplitMix64::new(mix64(params.seed ^ RECORD_SALT));
    let mut out = Vec::with_capacity(usize::try_from(params.records).unwrap_or(0));
    for _ in 0..params.records {
        let u: [u64; 5] = std::array::from_fn(|_| rng.next_u64());
        let p = u[0] % params.persons.max(1);
        let Some(person) = persons.get(usize::try_from(p).unwrap_or(usize::MAX)) else {
            continue;
        };
        let login_only = person.flag < 30;
        let kind = pick(if login_only { &KIND_L } else { &KIND_S }, u[1] % 100);
        let (d, e, style) = (u[2] % person.n_devices, u[3] % person.n_emails, u[4] % 10);
        let carries = KIND_IDS.get(kind).copied().unwrap_or(0);
        let bit_a = 1u8 << d;
        let bit_e = 1u8 << (5 + e);
        let mut set = 0u8;
        if carries & 1 != 0 {
            set |= bit_a;
        }
        if carries & 2 != 0 {
            set |= 1 << 4;
        }
        if carries & 4 != 0 {
            set |= bit_e;
        }
        let seen_p = seen.get_mut(usize::try_from(p).unwrap_or(usize::MAX));
        let Some(seen_p) = seen_p else { continue };
        let before = set;
        let new_device = carries & 1 != 0 && *seen_p & bit_a == 0;
        if new_device || set & *seen_p == 0 {
            set |= 1 << 4;
        }
        if new_device && !login_only {
            set |= bit_e;
        }
        *seen_p |= set;
        let mut identifiers = SmallVec::new();
        if set & bit_a != 0 && carries & 1 != 0 {
            identifiers.push((IdKind::AnonymousId, format!("a{p}_{d}")));
        }
        if set & (1 << 4) != 0 {
            identifiers.push((IdKind::UserId, format!("u{p}")));
        }
        if set & bit_e != 0 {
            identifiers.push((IdKind::Email, email(p, e, style)));
        }
        out.push(IdentityRecord {
            person: p,
            kind: KINDS.get(kind).copied().unwrap_or("page"),
            promoted: set != before,
            identifiers,
        });
    }
    out
}

/// Which identifier an intro introduced.
#[derive(Clone, Copy)]
enum Intro {
    Device(u64),
    Email(u64),
}

#[derive(Clone, Default)]
struct MhState {
    k: u64,
    intros: Vec<Intro>,
    nd: u64,
    ne: u64,
    nl: u64,
}

fn generate_merge_heavy(params: &IdentityParams) -> Vec<IdentityRecord> {
    let persons: Vec<Person> = (0..params.persons)
        .map(|p| person(MH_PERSON_SALT, params.seed, p))
        .collect();
    let tier_weight = |flag: u64| {
        [0u64, 1, 8]
            .get(pick(&[25, 35, 40], flag))
            .copied()
            .unwrap_or(0)
    };
    let mut cumulative = Vec::with_capacity(persons.len());
    let mut total = 0u64;
    for person in &persons {
        total = total.wrapping_add(tier_weight(person.flag));
        cumulative.push(total);
    }
    let person_at = |r: u64| cumulative.partition_point(|&c| c <= r) as u64;
    let state = mix64(params.seed ^ MH_RECORD_SALT);
    let mut count = vec![0u64; persons.len()];
    for i in 0..params.records {
        let u = SplitMix64::nth(state, 5 * i);
        if let Some(c) =
            count.get_mut(usize::try_from(person_at(u % total.max(1))).unwrap_or(usize::MAX))
        {
            *c += 1;
        }
    }
    let mut states = vec![MhState::default(); persons.len()];
    let mut rng = SplitMix64::new(state);
    let mut out = Vec::with_capacity(usize::try_from(params.records).unwrap_or(0));
    for _ in 0..params.records {
        let u: [u64; 5] = std::array::from_fn(|_| rng.next_u64());
        let p = person_at(u[0] % total.max(1));
        let idx = usize::try_from(p).unwrap_or(usize::MAX);
        let (Some(person), Some(st), Some(&cnt)) =
            (persons.get(idx), states.get_mut(idx), count.get(idx))
        else {
            continue;
        };
        let m = if cnt == 1 {
            1
        } else {
            (person.n_devices + person.n_emails).min(cnt / 2)
        };
        let links = if cnt == 1 { 0 } else { m };
        let (s, c, x, style) = (u[1], u[2], u[3], u[4] % 10);
        let rem = cnt - st.k;
        let pending = (m - st.intros.len() as u64) + (links - st.nl);
        let slack = rem.saturating_sub(pending);
        let mut ids: SmallVec<[(IdKind, String); 3]> = SmallVec::new();
        let device = |d: u64| (IdKind::AnonymousId, format!("a{p}_{d}"));
        let mail = |e: u64| (IdKind::Email, email(p, e, style));
        let user = (IdKind::UserId, format!("u{p}"));
        let kind;
        if st.k >= 1 && s % rem < slack {
            let n_seen = st.intros.len() as u64 + u64::from(st.nl >= 1);
            let t = c % n_seen.max(1);
            match st.intros.get(usize::try_from(t).unwrap_or(usize::MAX)) {
                None => {
                    kind = "server";
                    ids.push(user);
                }
                Some(&intro) => {
                    let with_user = t < st.nl && x % 100 < 40;
                    let (first, kind_with, kind_alone) = match intro {
                        Intro::Device(d) => (device(d), "login", "page"),
                        Intro::Email(e) => (mail(e), "link", "crm"),
                    };
                    kind = if with_user { kind_with } else { kind_alone };
                    push_presented(&mut ids, first, with_user.then_some(user));
                }
            }
        } else if (st.intros.len() as u64) < m {
            let dr = person.n_devices - st.nd;
            let er = person.n_emails - st.ne;
            if c % (dr + er).max(1) < dr {
                kind = "page";
                ids.push(device(st.nd));
                st.intros.push(Intro::Device(st.nd));
                st.nd += 1;
            } else {
                kind = "crm";
                ids.push(mail(st.ne));
                st.intros.push(Intro::Email(st.ne));
                st.ne += 1;
            }
        } else {
            let intro = st
                .intros
                .get(usize::try_from(st.nl).unwrap_or(usize::MAX))
                .copied();
            st.nl += 1;
            let (first, k) = match intro {
                Some(Intro::Device(d)) => (device(d), "login"),
                Some(Intro::Email(e)) => (mail(e), "link"),
                None => (user.clone(), "server"),
            };
            kind = k;
            push_presented(&mut ids, first, Some(user));
        }
        st.k += 1;
        out.push(IdentityRecord {
            person: p,
            kind,
            promoted: false,
            identifiers: ids,
        });
    }
    out
}

/// Pushes an identifier and optionally the user id, in presentation order.
fn push_presented(
    ids: &mut SmallVec<[(IdKind, String); 3]>,
    first: (IdKind, String),
    user: Option<(IdKind, String)>,
) {
    ids.push(first);
    if let Some(u) = user {
        ids.push(u);
    }
    ids.sort_by_key(|(k, _)| *k);
}

/// The oracle values of IDENTITY.md §6 computed from an engine's partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityChecks {
    /// Live profiles.
    pub n_profiles: u64,
    /// Σ over profiles of their smallest record index, mod 2^64.
    pub sum_min_record_index: u64,
    /// Σ over records of (i + 1) · label(i), mod 2^64.
    pub label_checksum: u64,
}

impl IdentityChecks {
    /// Computes the checks over the first `records` records of `engine` (record i = index i).
    pub fn from_engine(engine: &Engine, records: u64) -> Self {
        let mut first = fast_map::<u32, u64>();
        let mut sum_min = 0u64;
        let mut checksum = 0u64;
        for i in 0..records {
            let Some(p) = engine.record_profile(RecordId(i)) else {
                continue;
            };
            let label = *first.entry(p.0).or_insert_with(|| {
                sum_min = sum_min.wrapping_add(i);
                i
            });
            checksum = checksum.wrapping_add((i + 1).wrapping_mul(label));
        }
        IdentityChecks {
            n_profiles: engine.profile_count() as u64,
            sum_min_record_index: sum_min,
            label_checksum: checksum,
        }
    }
}

#[cfg(test)]
mod tests;
