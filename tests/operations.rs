//! Operations: paging through profiles and segment members, and `stats`.

use audience::segment::trait_;
use audience::{EventInput, MAX_PAGE_LIMIT, PageError, ProfileId, SegmentError, SegmentId};
use proptest::prelude::*;

use crate::common::{rec, retail};

/// An engine with `n` people (anonymous ids a0..), every third in DE, and `merges` later
/// records that join person i with person i+1 by email.
fn engine(n: usize, merges: &[usize]) -> audience::Engine {
    let mut e = retail();
    for i in 0..n {
        let country = if i % 3 == 0 { "DE" } else { "FR" };
        e.ingest(
            &rec(i as i64, "web")
                .identifier("anonymous_id", format!("a{i}"))
                .identifier("email", format!("p{i}@example.com"))
                .trait_value("country", country)
                .event(EventInput::new("page_view", crate::common::t(i as i64)))
                .build(),
        )
        .unwrap();
    }
    for (k, &i) in merges.iter().enumerate() {
        let i = i % n.max(1);
        let j = (i + 1) % n.max(1);
        e.ingest(
            &rec((n + k) as i64, "crm")
                .identifier("email", format!("p{i}@example.com"))
                .identifier("email", format!("p{j}@example.com"))
                .build(),
        )
        .unwrap();
    }
    e
}

/// Every page from the start, concatenated, checking each page's bounds.
fn all_pages(
    mut next: impl FnMut(Option<ProfileId>) -> audience::Page,
    limit: usize,
) -> Vec<ProfileId> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = next(after);
        assert!(page.ids.len() <= limit);
        assert!(page.ids.windows(2).all(|w| w[0] < w[1]));
        if let (Some(a), Some(first)) = (after, page.ids.first()) {
            assert!(*first > a);
        }
        out.extend(&page.ids);
        match page.next {
            Some(n) => {
                assert_eq!(Some(&n), page.ids.last());
                assert_eq!(page.ids.len(), limit, "only a full page has a next one");
                after = Some(n);
            }
            None => return out,
        }
    }
}

#[test]
fn pages_walk_profiles_and_members_in_id_order() {
    let e = {
        let mut e = engine(10, &[0, 4, 5]);
        e.register_segment("de", trait_("country").eq("DE"))
            .unwrap();
        e
    };
    let live: Vec<ProfileId> = e.profile_ids().collect();
    assert_eq!(live.len(), 7);
    for limit in [1, 2, 3, 7, 8, MAX_PAGE_LIMIT] {
        assert_eq!(
            all_pages(|a| e.profiles_page(a, limit).unwrap(), limit),
            live
        );
    }
    let seg = e.segment_id("de").unwrap();
    let members: Vec<ProfileId> = e
        .segment_members(seg)
        .unwrap()
        .iter()
        .map(ProfileId)
        .collect();
    assert!(!members.is_empty());
    for limit in [1, 2, 5] {
        assert_eq!(
            all_pages(|a| e.members_page(seg, a, limit).unwrap(), limit),
            members
        );
    }
    // `after` need not be a member or live.
    let after_first = e.members_page(seg, Some(members[0]), 100).unwrap();
    assert_eq!(after_first.ids, members[1..]);
    let past_end = e.profiles_page(Some(ProfileId(u32::MAX)), 10).unwrap();
    assert_eq!((past_end.ids.len(), past_end.next), (0, None));
}

#[test]
fn bad_page_requests_are_typed_errors() {
    let mut e = engine(3, &[]);
    let seg = e
        .register_segment("de", trait_("country").eq("DE"))
        .unwrap();
    assert_eq!(e.profiles_page(None, 0), Err(PageError::ZeroLimit));
    assert_eq!(e.members_page(seg, None, 0), Err(PageError::ZeroLimit));
    assert_eq!(
        e.profiles_page(None, MAX_PAGE_LIMIT + 1),
        Err(PageError::LimitTooLarge {
            limit: MAX_PAGE_LIMIT + 1,
            max: MAX_PAGE_LIMIT
        })
    );
    let unknown = SegmentId(99);
    assert_eq!(
        e.members_page(unknown, None, 10),
        Err(PageError::Segment(SegmentError::UnknownId(unknown)))
    );
    assert!(
        e.profiles_page(None, 0)
            .unwrap_err()
            .to_string()
            .contains("limit of 0")
    );
}

#[test]
fn stats_count_what_is_held() {
    let mut e = engine(6, &[1]);
    let de = e
        .register_segment("de", trait_("country").eq("DE"))
        .unwrap();
    let s = e.stats();
    assert_eq!(s.profiles, 5);
    assert_eq!(s.profile_ids_used, 6);
    assert_eq!(s.records, 7);
    assert_eq!(s.identifiers, 12);
    assert_eq!(s.identifiers_by_kind["anonymous_id"], 6);
    assert_eq!(s.identifiers_by_kind["email"], 6);
    assert_eq!(s.identifiers_by_kind["phone"], 0);
    assert_eq!(s.events, 6);
    assert_eq!(s.events_by_kind["page_view"], 6);
    assert_eq!(s.events_by_kind["order_completed"], 0);
    assert_eq!(s.merges, 1);
    assert_eq!(s.segments.len(), 1);
    assert_eq!((s.segments[0].id, s.segments[0].name.as_str()), (de, "de"));
    assert_eq!(s.segments[0].members, e.segment_count(de).unwrap());
    let m = s.memory;
    let parts = m.record_log
        + m.identity
        + m.profiles
        + m.dedup
        + m.texts
        + m.rfm
        + m.segments
        + m.trait_indexes
        + m.privacy_index
        + m.due
        + m.merge_log;
    assert_eq!(parts, m.total);
    assert_eq!(m.total, e.heap_bytes());
    assert!(m.profiles > 0 && m.identity > 0 && m.record_log > 0);
    // Serde, for dashboards.
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<audience::Stats>(&json).unwrap(), s);
    // Erased people leave the counts.
    let p = e.find("anonymous_id", "a0").unwrap().unwrap();
    e.erase(
        audience::Subject::Profile(p),
        audience::ErasureOptions::default(),
    )
    .unwrap();
    let after = e.stats();
    assert_eq!(after.profiles, 4);
    assert_eq!(after.identifiers_by_kind["anonymous_id"], 5);
    assert_eq!(after.events, 5);
}

proptest! {
    #[test]
    fn pages_concatenate_to_everything(
        n in 1usize..40,
        merges in proptest::collection::vec(0usize..40, 0..20),
        limit in 1usize..12,
    ) {
        let mut e = engine(n, &merges);
        let seg = e.register_segment("de", trait_("country").eq("DE")).unwrap();
        let live: Vec<ProfileId> = e.profile_ids().collect();
        prop_assert_eq!(all_pages(|a| e.profiles_page(a, limit).unwrap(), limit), live);
        let members: Vec<ProfileId> =
            e.segment_members(seg).unwrap().iter().map(ProfileId).collect();
        prop_assert_eq!(all_pages(|a| e.members_page(seg, a, limit).unwrap(), limit), members);
        let s = e.stats();
        prop_assert_eq!(s.profiles, e.profile_count());
        prop_assert_eq!(s.identifiers_by_kind.values().sum::<usize>(), s.identifiers);
        prop_assert_eq!(s.events_by_kind.values().sum::<usize>(), s.events);
        prop_assert_eq!(s.events, n);
    }
}
