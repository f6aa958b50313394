//! Events: stored in time order, joined by merges, validated against the schema.

use audience::{Engine, EventInput, IngestError, Value};

use crate::common::{eur, rec, retail, t};

#[test]
fn late_records_go_in_place_and_merges_join_histories() {
    let mut e = retail();
    let a = e
        .ingest(
            &rec(100, "web")
                .identifier("anonymous_id", "d1")
                .event(EventInput::new("page_view", t(100)).property("url", "/jazz"))
                .event(EventInput::new("add_to_cart", t(110)).property("price", eur(1_299)))
                .build(),
        )
        .unwrap();
    // A late record with an older event.
    e.ingest(
        &rec(50, "web")
            .identifier("anonymous_id", "d1")
            .event(EventInput::new("page_view", t(50)))
            .build(),
    )
    .unwrap();
    let b = e
        .ingest(
            &rec(105, "crm")
                .identifier("email", "ann@x.com")
                .event(EventInput::new("email_open", t(105)).property("campaign", "spring"))
                .build(),
        )
        .unwrap();
    e.ingest(
        &rec(200, "app")
            .identifier("anonymous_id", "d1")
            .identifier("email", "ann@x.com")
            .build(),
    )
    .unwrap();
    e.internal_validate().unwrap();
    assert_eq!(e.resolve(b.profile).unwrap(), a.profile);
    let view = e.profile(a.profile).unwrap();
    let kinds: Vec<(&str, i64)> = view
        .events
        .iter()
        .map(|ev| (ev.kind.as_str(), ev.at.as_millis() / 1000 - 1_704_067_200))
        .collect();
    assert_eq!(
        kinds,
        [
            ("page_view", 50),
            ("page_view", 100),
            ("email_open", 105),
            ("add_to_cart", 110)
        ]
    );
    assert_eq!(
        view.events[2].properties,
        vec![("campaign".to_string(), Value::from("spring"))]
    );
    assert_eq!(
        view.events[3].properties,
        vec![("price".to_string(), Value::Money(eur(1_299)))]
    );
}

fn rejected(event: EventInput) -> IngestError {
    let mut e = retail();
    e.ingest(&rec(0, "web").identifier("anonymous_id", "d").build())
        .unwrap();
    let before = e.clone();
    let err = e
        .ingest(
            &rec(1, "web")
                .identifier("anonymous_id", "d")
                .event(event)
                .build(),
        )
        .unwrap_err();
    assert_eq!(e, before);
    err
}

#[test]
fn bad_events_are_typed_errors() {
    assert_eq!(
        rejected(EventInput::new("teleport", t(1))),
        IngestError::UnknownEventKind {
            index: 0,
            kind: "teleport".into()
        }
    );
    assert!(matches!(
        rejected(EventInput::new("page_view", t(1)).property("colour", "red")),
        IngestError::UnknownProperty { event: 0, .. }
    ));
    assert_eq!(
        rejected(EventInput::new("order_completed", t(1)).property("amount", 12)),
        IngestError::PropertyType {
            event: 0,
            name: "amount".into(),
            expected: "money",
            got: "integer"
        }
    );
    assert_eq!(
        rejected(EventInput::new("order_completed", t(1)).property("amount", eur(-5))),
        IngestError::Negative {
            event: 0,
            name: "amount".into()
        }
    );
    assert!(matches!(
        rejected(
            EventInput::new("page_view", t(1))
                .property("url", "/a")
                .property("url", "/b")
        ),
        IngestError::DuplicateProperty { .. }
    ));
}

#[test]
fn events_round_trip_through_json() {
    let r = rec(0, "web")
        .identifier("user_id", "u")
        .event(EventInput::new("order_completed", t(0)).property("amount", eur(5)))
        .build();
    let json = serde_json::to_string(&r).unwrap();
    let back: audience::Record = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    let eur = audience::Currency::new("EUR").unwrap();
    let mut engine = Engine::new(audience::Schema::retail_default_in(eur));
    engine.ingest(&back).unwrap();
    engine.internal_validate().unwrap();
    // The USD default refuses euro orders rather than mix currencies in RFM.
    let mut usd = Engine::new(audience::Schema::retail_default());
    assert!(matches!(
        usd.ingest(&back),
        Err(IngestError::RfmCurrencyMismatch { .. })
    ));
}
