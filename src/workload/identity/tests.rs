use super::*;
use crate::schema::Schema;

fn ids(r: &IdentityRecord) -> Vec<(&str, &str)> {
    r.identifiers
        .iter()
        .map(|(k, v)| (k.name(), v.as_str()))
        .collect()
}

fn ingest_all(records: &[IdentityRecord]) -> Engine {
    let mut engine = Engine::new(Schema::retail_default());
    for (i, r) in records.iter().enumerate() {
        engine.ingest(&r.to_record(i as u64)).unwrap();
    }
    engine
}

#[test]
fn check_values_of_the_streams() {
    assert_eq!(mix64(42 ^ PERSON_SALT), 0x01B8_42DF_5306_3970);
    assert_eq!(mix64(mix64(42 ^ PERSON_SALT)), 0x1BD5_8854_B729_BDDA);
    assert_eq!(mix64(42 ^ RECORD_SALT), 0xF592_734E_A9CC_1AC4);
    assert_eq!(mix64(42 ^ MH_PERSON_SALT), 0x01CD_59DA_DC5E_3D55);
    assert_eq!(mix64(42 ^ MH_RECORD_SALT), 0x8D86_D94E_96EB_E458);
}

#[test]
fn golden_persons_and_records_default() {
    let p0 = person(PERSON_SALT, 42, 0);
    assert_eq!((p0.n_emails, p0.n_devices, p0.flag < 30), (2, 1, false));
    let p1 = person(PERSON_SALT, 42, 1);
    assert_eq!((p1.n_emails, p1.n_devices, p1.flag < 30), (1, 4, false));
    let params = IdentityParams {
        records: 100_008,
        ..IdentityParams::full(Variant::Default)
    };
    let records = generate(&params);
    let r = &records[0];
    assert_eq!((r.person, r.kind, r.promoted), (297_760, "page", true));
    assert_eq!(
        ids(r),
        [("anonymous_id", "a297760_2"), ("user_id", "u297760")]
    );
    let r = &records[2];
    assert_eq!(
        ids(r),
        [
            ("anonymous_id", "a4950_0"),
            ("user_id", "u4950"),
            ("email", "E4950_0@EXAMPLE.COM")
        ]
    );
    assert!(!records[1].promoted);
    let r = &records[100_006];
    assert_eq!((r.person, r.kind, r.promoted), (181_626, "email", false));
    assert_eq!(ids(r), [("email", "E181626_1@EXAMPLE.COM")]);
    let r = &records[100_007];
    assert_eq!(
        ids(r),
        [("user_id", "u160772"), ("email", " E160772_1@EXAMPLE.COM ")]
    );
}

#[test]
fn golden_records_merge_heavy() {
    let p0 = person(MH_PERSON_SALT, 42, 0);
    assert_eq!((p0.n_emails, p0.n_devices), (3, 4));
    let records = generate(&IdentityParams::full(Variant::MergeHeavy));
    let r = &records[1];
    assert_eq!((r.person, r.kind), (108_316, "crm"));
    assert_eq!(ids(r), [("email", " E108316_0@EXAMPLE.COM ")]);
    let r = &records[500_007];
    assert_eq!((r.person, r.kind), (217_384, "login"));
    assert_eq!(
        ids(r),
        [("anonymous_id", "a217384_1"), ("user_id", "u217384")]
    );
    let r = &records[969_488];
    assert_eq!((r.person, r.kind), (0, "link"));
    assert_eq!(ids(r), [("user_id", "u0"), ("email", "e0_0@example.com")]);
}

#[test]
fn small_oracle_default() {
    let params = IdentityParams::small(Variant::Default);
    let records = generate(&params);
    let promoted = records.iter().filter(|r| r.promoted).count();
    assert_eq!(promoted, 1_307);
    let rows: usize = records.iter().map(|r| r.identifiers.len()).sum();
    assert_eq!(rows, 6_104);
    let engine = ingest_all(&records);
    engine.internal_validate().unwrap();
    assert_eq!(
        IdentityChecks::from_engine(&engine, params.records),
        IdentityChecks {
            n_profiles: 946,
            sum_min_record_index: 805_049,
            label_checksum: 3_725_092_261
        }
    );
    assert_eq!(engine.merge_count(), 0, "the default stream never merges");
}

#[test]
fn small_oracle_merge_heavy() {
    let params = IdentityParams::small(Variant::MergeHeavy);
    let records = generate(&params);
    let rows: usize = records.iter().map(|r| r.identifiers.len()).sum();
    assert_eq!(rows, 4_271);
    let engine = ingest_all(&records);
    engine.internal_validate().unwrap();
    assert_eq!(
        IdentityChecks::from_engine(&engine, params.records),
        IdentityChecks {
            n_profiles: 585,
            sum_min_record_index: 414_889,
            label_checksum: 2_299_804_839
        }
    );
    assert_eq!(engine.merge_count(), 762);
}
