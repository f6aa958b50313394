//! Every bad input of the identity issue: a typed error or a documented drop, never a
//! panic, and the engine unchanged where it errors.

use audience::{Engine, IngestError, Record, Timestamp, Value};

use crate::common::{limited_schema, rec, retail};

/// Ingests `r` into an engine with some history and asserts it fails without change.
fn assert_rejected(mut e: Engine, r: &Record) -> IngestError {
    e.ingest(
        &rec(0, "web")
            .identifier("anonymous_id", "seed")
            .trait_value("points", 1)
            .build(),
    )
    .ok();
    let before = e.clone();
    let err = e.ingest(r).unwrap_err();
    assert_eq!(
        e, before,
        "a rejected record must leave the engine unchanged"
    );
    assert!(!err.to_string().is_empty());
    err
}

#[test]
fn empty_record() {
    let err = assert_rejected(retail(), &rec(1, "web").build());
    assert!(matches!(err, IngestError::NoUsableIdentifier { ref dropped } if dropped.is_empty()));
}

#[test]
fn only_blocked_identifiers() {
    let r = rec(1, "web")
        .identifier("email", "TEST@test.com")
        .identifier("anonymous_id", "undefined")
        .build();
    let err = assert_rejected(retail(), &r);
    let IngestError::NoUsableIdentifier { dropped } = err else {
        panic!("{err:?}")
    };
    assert_eq!(dropped.len(), 2);
    assert!(dropped.iter().all(|d| d.2 == audience::DropReason::Blocked));
}

#[test]
fn unknown_kind_source_and_trait() {
    let err = assert_rejected(retail(), &rec(1, "web").identifier("fax", "1").build());
    assert_eq!(
        err,
        IngestError::UnknownIdentifierKind {
            index: 0,
            kind: "fax".into()
        }
    );
    let err = assert_rejected(retail(), &rec(1, "fax").identifier("user_id", "1").build());
    assert_eq!(err, IngestError::UnknownSource("fax".into()));
    let r = rec(1, "web")
        .identifier("user_id", "1")
        .trait_value("shoe_size", 42)
        .build();
    let err = assert_rejected(retail(), &r);
    assert_eq!(
        err,
        IngestError::UnknownTrait {
            index: 0,
            name: "shoe_size".into()
        }
    );
}

#[cfg(feature = "phone")]
#[test]
fn unparseable_phone_is_dropped_and_reported() {
    let mut e = retail();
    let r = e
        .ingest(
            &rec(1, "web")
                .identifier("phone", "not a phone")
                .identifier("user_id", "u")
                .build(),
        )
        .unwrap();
    assert_eq!(r.dropped.len(), 1);
    assert_eq!(r.dropped[0].reason, audience::DropReason::Unparseable);
    assert_eq!(r.dropped[0].value, "not a phone");
    let err = assert_rejected(retail(), &rec(1, "web").identifier("phone", "12").build());
    assert!(matches!(err, IngestError::NoUsableIdentifier { .. }));
}

#[test]
fn ten_thousand_identifiers() {
    let mut b = rec(1, "web");
    for i in 0..10_000 {
        b = b.identifier("anonymous_id", format!("d{i}"));
    }
    let err = assert_rejected(retail(), &b.build());
    assert_eq!(
        err,
        IngestError::TooMany {
            field: "identifiers".into(),
            len: 10_000,
            max: 64
        }
    );
}

#[test]
fn trait_of_the_wrong_type() {
    let r = rec(1, "web")
        .identifier("user_id", "u")
        .trait_value("age", "forty")
        .build();
    let err = assert_rejected(retail(), &r);
    assert_eq!(
        err,
        IngestError::TraitType {
            index: 0,
            name: "age".into(),
            expected: "integer",
            got: "text"
        }
    );
}

#[test]
fn timestamp_in_year_10000() {
    assert!(Timestamp::from_secs(253_402_300_800).is_err());
    let json = r#"{"timestamp": 253402300800000, "source": "web",
                   "identifiers": [{"kind": "user_id", "value": "u"}]}"#;
    let err = serde_json::from_str::<Record>(json).unwrap_err();
    assert!(err.to_string().contains("outside years 1..=9999"), "{err}");
}

#[test]
fn one_mebibyte_string() {
    let big = "x".repeat(1 << 20);
    let r = rec(1, "web")
        .identifier("user_id", "u")
        .trait_value("city", big.as_str())
        .build();
    let err = assert_rejected(retail(), &r);
    assert_eq!(
        err,
        IngestError::TooLong {
            field: "traits[0]".into(),
            len: 1 << 20,
            max: 4096
        }
    );
    let err = assert_rejected(retail(), &rec(1, "web").identifier("user_id", big).build());
    assert!(matches!(err, IngestError::TooLong { ref field, .. } if field == "identifiers[0]"));
}

#[test]
fn sum_overflow_rejects_the_record() {
    let mut e = Engine::new(limited_schema());
    e.ingest(
        &rec(0, "web")
            .identifier("anonymous_id", "a")
            .trait_value("points", i64::MAX)
            .build(),
    )
    .unwrap();
    e.ingest(
        &rec(0, "web")
            .identifier("anonymous_id", "b")
            .trait_value("points", 1)
            .build(),
    )
    .unwrap();
    let before = e.clone();
    // Merging the two profiles would overflow their sum.
    let r = rec(1, "web")
        .identifier("anonymous_id", "a")
        .identifier("anonymous_id", "b")
        .build();
    let err = e.ingest(&r).unwrap_err();
    assert_eq!(
        err,
        IngestError::SumOverflow {
            name: "points".into(),
            currency: None
        }
    );
    assert_eq!(e, before);
    // And so would a direct observation.
    let r = rec(1, "web")
        .identifier("anonymous_id", "a")
        .trait_value("points", 1)
        .build();
    assert!(matches!(e.ingest(&r), Err(IngestError::SumOverflow { .. })));
    assert_eq!(e, before);
    let money = audience::Money::new(i64::MAX, audience::Currency::new("EUR").unwrap());
    let r = rec(1, "web")
        .identifier("anonymous_id", "a")
        .trait_value("spend", money)
        .build();
    e.ingest(&r).unwrap();
    let r = rec(2, "web")
        .identifier("anonymous_id", "a")
        .trait_value("spend", Value::Money(money))
        .build();
    let err = e.ingest(&r).unwrap_err();
    assert!(matches!(
        err,
        IngestError::SumOverflow {
            currency: Some(_),
            ..
        }
    ));
}

#[test]
fn oversized_text_set_and_message_id() {
    let set = Value::TextSet((0..2000).map(|i| i.to_string()).collect());
    let r = rec(1, "web")
        .identifier("user_id", "u")
        .trait_value("interests", set)
        .build();
    assert!(matches!(
        assert_rejected(retail(), &r),
        IngestError::TooMany { .. }
    ));
    let r = rec(1, "web")
        .message_id("m".repeat(5000))
        .identifier("user_id", "u")
        .build();
    let err = assert_rejected(retail(), &r);
    assert!(matches!(err, IngestError::TooLong { ref field, .. } if field == "message_id"));
}
