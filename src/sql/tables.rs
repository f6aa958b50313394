//! The layout's tables for a schema ([`Engine::sql_columns`], [`Engine::sql_ddl`]) and the
//! engine's state written in it as JSON lines ([`Engine::write_sql_table`]).

use std::io::Write;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};

use crate::engine::Engine;
use crate::event::store::PropValue;
use crate::ids::{ChannelId, PurposeId};
use crate::record::Value;
use crate::rfm::Dimension;
use crate::schema::{ConsentDefault, PropertyType, TraitType};
use crate::segment::eval_row::{Current, current};
use crate::sql::SqlError;
use crate::sql::dialect::Dialect;
use crate::sql::layout::{SqlLayout, SqlTable};

/// The type of a layout column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlType {
    /// Unsigned 64-bit integer (profile ids).
    UInt64,
    /// Signed 64-bit integer (integers, minor units, milliseconds, scores).
    Int64,
    /// UTF-8 text.
    Text,
    /// True or false.
    Boolean,
    /// An array of texts.
    TextArray,
}

impl SqlType {
    fn ddl(self, d: Dialect) -> &'static str {
        match (d, self) {
            (Dialect::DuckDb, SqlType::UInt64) => "UBIGINT",
            (Dialect::DuckDb, SqlType::Int64) => "BIGINT",
            (Dialect::DuckDb, SqlType::Text) => "VARCHAR",
            (Dialect::DuckDb, SqlType::Boolean) => "BOOLEAN",
            (Dialect::DuckDb, SqlType::TextArray) => "VARCHAR[]",
            (Dialect::ClickHouse, SqlType::UInt64) => "UInt64",
            (Dialect::ClickHouse, SqlType::Int64) => "Nullable(Int64)",
            (Dialect::ClickHouse, SqlType::Text) => "Nullable(String)",
            (Dialect::ClickHouse, SqlType::Boolean) => "Nullable(Bool)",
            (Dialect::ClickHouse, SqlType::TextArray) => "Array(String)",
            (Dialect::SparkSql, SqlType::UInt64 | SqlType::Int64) => "BIGINT",
            (Dialect::SparkSql, SqlType::Text) => "STRING",
            (Dialect::SparkSql, SqlType::Boolean) => "BOOLEAN",
            (Dialect::SparkSql, SqlType::TextArray) => "ARRAY<STRING>",
        }
    }
}

/// A column of a layout table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlColumn {
    /// The column's name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: SqlType,
}

fn col(name: &str, ty: SqlType) -> SqlColumn {
    SqlColumn {
        name: name.to_string(),
        ty,
    }
}

fn fixed(table: SqlTable) -> Vec<SqlColumn> {
    use SqlType::{Boolean, Int64, Text, UInt64};
    let id = col("profile_id", UInt64);
    match table {
        SqlTable::Profiles => vec![id],
        SqlTable::TraitMoney => vec![
            id,
            col("trait", Text),
            col("minor", Int64),
            col("currency", Text),
        ],
        SqlTable::Events => vec![id, col("kind", Text), col("at", Int64), col("seq", Int64)],
        SqlTable::Identifiers => vec![id, col("kind", Text), col("value", Text)],
        SqlTable::Consent => vec![
            id,
            col("purpose", Text),
            col("channel", Text),
            col("granted", Boolean),
        ],
        SqlTable::Suppressions => vec![id, col("channel", Text)],
        SqlTable::Rfm => {
            let mut c = vec![id, col("model", Text)];
            for prefix in ["", "previous_"] {
                for d in ["recency", "frequency", "monetary"] {
                    c.push(col(&format!("{prefix}{d}"), Int64));
                }
            }
            c
        }
        SqlTable::RfmSegments => vec![id, col("model", Text), col("segment", Text)],
    }
}

/// The `rfm` column of a dimension's score.
pub(crate) fn dimension_column(d: Dimension) -> &'static str {
    match d {
        Dimension::Recency => "recency",
        Dimension::Frequency => "frequency",
        Dimension::Monetary => "monetary",
    }
}

impl Engine {
    /// The columns of `table` in `layout` for this engine's schema.
    ///
    /// # Errors
    /// [`SqlError::ColumnClash`] when two traits or properties (or one and a fixed
    /// column) would share a column, or a property name has two types.
    pub fn sql_columns(
        &self,
        table: SqlTable,
        layout: &SqlLayout,
    ) -> Result<Vec<SqlColumn>, SqlError> {
        let mut cols = fixed(table);
        let def = self.schema.def();
        match table {
            SqlTable::Profiles => {
                for t in &def.traits {
                    let ty = match t.ty {
                        TraitType::Money => continue,
                        TraitType::Text => SqlType::Text,
                        TraitType::Integer | TraitType::Timestamp => SqlType::Int64,
                        TraitType::Boolean => SqlType::Boolean,
                        TraitType::TextSet => SqlType::TextArray,
                    };
                    cols.push(col(layout.column_name(&t.name), ty));
                }
            }
            SqlTable::Events => {
                let mut seen: Vec<(&str, PropertyType)> = Vec::new();
                for p in def.event_kinds.iter().flat_map(|k| &k.properties) {
                    match seen.iter().find(|(n, _)| *n == p.name) {
                        Some((_, ty)) if *ty == p.ty => continue,
                        Some(_) => {
                            return Err(SqlError::ColumnClash {
                                table: layout.table_name(table).to_string(),
                                column: layout.column_name(&p.name).to_string(),
                            });
                        }
                        None => seen.push((&p.name, p.ty)),
                    }
                    let name = layout.column_name(&p.name);
                    match p.ty {
                        PropertyType::Text => cols.push(col(name, SqlType::Text)),
                        PropertyType::Integer => cols.push(col(name, SqlType::Int64)),
                        PropertyType::Boolean => cols.push(col(name, SqlType::Boolean)),
                        PropertyType::Money => {
                            cols.push(col(name, SqlType::Int64));
                            cols.push(col(&format!("{name}_currency"), SqlType::Text));
                        }
                    }
                }
            }
            _ => {}
        }
        for (i, c) in cols.iter().enumerate() {
            if cols.iter().skip(i + 1).any(|o| o.name == c.name) {
                return Err(SqlError::ColumnClash {
                    table: layout.table_name(table).to_string(),
                    column: c.name.clone(),
                });
            }
        }
        Ok(cols)
    }

    /// Checks every table and column name of `layout` for this schema.
    pub(crate) fn check_sql_layout(&self, layout: &SqlLayout) -> Result<(), SqlError> {
        for table in SqlTable::ALL {
            for part in layout.table_name(table).split('.') {
                Dialect::DuckDb.ident(part)?;
                Dialect::ClickHouse.ident(part)?;
            }
            for c in self.sql_columns(table, layout)? {
                Dialect::DuckDb.ident(&c.name)?;
                Dialect::ClickHouse.ident(&c.name)?;
            }
        }
        Ok(())
    }

    /// `CREATE TABLE` statements of every table of `layout` for this schema, in
    /// `dialect` (ClickHouse tables use the `MergeTree` engine ordered by profile id).
    ///
    /// ```
    /// use audience::sql::{Dialect, SqlLayout};
    /// use audience::{Engine, Schema};
    /// let engine = Engine::new(Schema::retail_default());
    /// let ddl = engine.sql_ddl(Dialect::DuckDb, &SqlLayout::default())?;
    /// assert!(ddl.contains("CREATE TABLE \"events\" (\"profile_id\" UBIGINT NOT NULL, \"kind\" VARCHAR"));
    /// # Ok::<(), audience::sql::SqlError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Engine::sql_columns`], and [`SqlError::UnsafeName`].
    pub fn sql_ddl(&self, dialect: Dialect, layout: &SqlLayout) -> Result<String, SqlError> {
        let mut out = String::new();
        for table in SqlTable::ALL {
            let name: Result<Vec<String>, SqlError> = layout
                .table_name(table)
                .split('.')
                .map(|p| dialect.ident(p))
                .collect();
            let cols: Result<Vec<String>, SqlError> = self
                .sql_columns(table, layout)?
                .iter()
                .map(|c| {
                    let not_null = if c.name == "profile_id" && dialect != Dialect::ClickHouse {
                        " NOT NULL"
                    } else {
                        ""
                    };
                    Ok(format!(
                        "{} {}{not_null}",
                        dialect.ident(&c.name)?,
                        c.ty.ddl(dialect)
                    ))
                })
                .collect();
            let engine = if dialect == Dialect::ClickHouse {
                " ENGINE = MergeTree ORDER BY profile_id"
            } else {
                ""
            };
            out.push_str(&format!(
                "CREATE TABLE {} ({}){engine};\n",
                name?.join("."),
                cols?.join(", ")
            ));
        }
        Ok(out)
    }

    /// Writes the engine's state as rows of `table` in `layout`, one JSON object per
    /// line; returns the number of rows. Profiles in id order, events in each profile's
    /// history order.
    ///
    /// ```
    /// use audience::sql::{SqlLayout, SqlTable};
    /// use audience::{Engine, Record, Schema, Timestamp};
    /// let mut engine = Engine::new(Schema::retail_default());
    /// let t = Timestamp::from_secs(1_700_000_000)?;
    /// engine.ingest(&Record::builder(t, "web").identifier("user_id", "ann").trait_value("country", "DE").build())?;
    /// let mut out = Vec::new();
    /// let rows = engine.write_sql_table(SqlTable::Identifiers, &SqlLayout::default(), &mut out)?;
    /// assert_eq!(rows, 1);
    /// assert_eq!(String::from_utf8(out)?, "{\"kind\":\"user_id\",\"profile_id\":0,\"value\":\"ann\"}\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`SqlError::Write`] when `out` fails; as [`Engine::sql_columns`] for the layout.
    pub fn write_sql_table(
        &self,
        table: SqlTable,
        layout: &SqlLayout,
        out: &mut impl Write,
    ) -> Result<u64, SqlError> {
        self.check_sql_layout(layout)?;
        let mut rows = 0u64;
        let mut emit = |row: Map<String, Json>| -> Result<(), SqlError> {
            let fail = |e: std::io::Error| SqlError::Write {
                table: table.default_name(),
                kind: e.kind(),
                message: e.to_string(),
            };
            serde_json::to_writer(&mut *out, &row).map_err(|e| fail(e.into()))?;
            out.write_all(b"\n").map_err(fail)?;
            rows += 1;
            Ok(())
        };
        let schema = &self.schema;
        let def = schema.def();
        for (p, profile) in self.profiles.iter_live() {
            let id = json!(p.0);
            let row = |pairs: Vec<(&str, Json)>| {
                let mut m = Map::new();
                m.insert("profile_id".into(), id.clone());
                for (k, v) in pairs {
                    m.insert(k.to_string(), v);
                }
                m
            };
            match table {
                SqlTable::Profiles => {
                    let mut m = row(vec![]);
                    for (i, t) in def.traits.iter().enumerate() {
                        if t.ty == TraitType::Money {
                            continue;
                        }
                        let tid = crate::ids::TraitId(u16::try_from(i).unwrap_or(u16::MAX));
                        let v = match current(profile, tid) {
                            None | Some(Current::Money(_)) => Json::Null,
                            Some(Current::Int(n)) => json!(n),
                            Some(Current::Set(set)) => json!(set),
                            Some(Current::One(v)) => value_json(v),
                        };
                        m.insert(layout.column_name(&t.name).to_string(), v);
                    }
                    emit(m)?;
                }
                SqlTable::TraitMoney => {
                    for (i, t) in def.traits.iter().enumerate() {
                        if t.ty != TraitType::Money {
                            continue;
                        }
                        let tid = crate::ids::TraitId(u16::try_from(i).unwrap_or(u16::MAX));
                        let totals: Vec<crate::money::Money> = match current(profile, tid) {
                            Some(Current::Money(totals)) => totals.to_vec(),
                            Some(Current::One(Value::Money(m))) => vec![*m],
                            _ => continue,
                        };
                        for m in totals {
                            emit(row(vec![
                                ("trait", json!(t.name)),
                                ("minor", json!(m.minor)),
                                ("currency", json!(m.currency.code())),
                            ]))?;
                        }
                    }
                }
                SqlTable::Events => {
                    for (seq, e) in profile.events.iter().enumerate() {
                        let Some(kind) = schema.event_kind(e.kind()) else {
                            continue;
                        };
                        let mut m = row(vec![
                            ("kind", json!(kind.name)),
                            ("at", json!(e.at().0)),
                            ("seq", json!(seq)),
                        ]);
                        for (pos, v) in e.props() {
                            let Some(prop) = kind.properties.get(usize::from(pos)) else {
                                continue;
                            };
                            let name = layout.column_name(&prop.name);
                            let v = match v {
                                PropValue::Text(t) => json!(self.texts.get(t)),
                                PropValue::Integer(n) => json!(n),
                                PropValue::Boolean(b) => json!(b),
                                PropValue::Money(money) => {
                                    m.insert(
                                        format!("{name}_currency"),
                                        json!(money.currency.code()),
                                    );
                                    json!(money.minor)
                                }
                            };
                            m.insert(name.to_string(), v);
                        }
                        emit(m)?;
                    }
                }
                SqlTable::Identifiers => {
                    let mut ids: Vec<(&str, &str)> = profile
                        .identifiers
                        .iter()
                        .filter_map(|l| {
                            let e = self.graph.entry(l.ident)?;
                            Some((schema.kind(e.kind)?.name.as_str(), &*e.value))
                        })
                        .collect();
                    ids.sort_unstable();
                    for (kind, value) in ids {
                        emit(row(vec![("kind", json!(kind)), ("value", json!(value))]))?;
                    }
                }
                SqlTable::Consent => {
                    if profile.privacy.is_none() {
                        continue;
                    }
                    for (pi, purpose) in def.purposes.iter().enumerate() {
                        let default = purpose.default == ConsentDefault::OptOut;
                        for (ci, channel) in def.channels.iter().enumerate() {
                            let (granted, _) = self.consent_of(
                                profile,
                                PurposeId(u16::try_from(pi).unwrap_or(u16::MAX)),
                                ChannelId(u16::try_from(ci).unwrap_or(u16::MAX)),
                            );
                            if granted != default {
                                emit(row(vec![
                                    ("purpose", json!(purpose.name)),
                                    ("channel", json!(channel.name)),
                                    ("granted", json!(granted)),
                                ]))?;
                            }
                        }
                    }
                }
                SqlTable::Suppressions => {
                    let own = profile.privacy.iter().flat_map(|p| p.suppressions.iter());
                    let held = self.identifier_suppressions(profile).map(|(_, _, s)| s);
                    let mut channels: Vec<Option<&str>> = own
                        .chain(held)
                        .map(|s| {
                            s.channel
                                .and_then(|c| schema.channel(c))
                                .map(|c| c.name.as_str())
                        })
                        .collect();
                    channels.sort_unstable();
                    channels.dedup();
                    for c in channels {
                        emit(row(vec![("channel", json!(c))]))?;
                    }
                }
                SqlTable::Rfm => {
                    for (mi, model) in def.rfm_models.iter().enumerate() {
                        let Some(now) = self.run_score(mi, false, p) else {
                            continue;
                        };
                        let before = self.run_score(mi, true, p);
                        let mut pairs = vec![("model", json!(model.name))];
                        for d in Dimension::ALL {
                            pairs.push((dimension_column(d), json!(now.score(d))));
                        }
                        let mut m = row(pairs);
                        for d in Dimension::ALL {
                            m.insert(
                                format!("previous_{}", dimension_column(d)),
                                before.map_or(Json::Null, |b| json!(b.score(d))),
                            );
                        }
                        emit(m)?;
                    }
                }
                SqlTable::RfmSegments => {
                    for seg in &def.rfm_segments {
                        let Some(mi) = schema.rfm_index(&seg.model) else {
                            continue;
                        };
                        let holds = self.run_score(mi, false, p).is_some()
                            && self.resolve_segment(seg).is_some_and(|r| self.holds(&r, p));
                        if holds {
                            emit(row(vec![
                                ("model", json!(seg.model)),
                                ("segment", json!(seg.name)),
                            ]))?;
                        }
                    }
                }
            }
        }
        Ok(rows)
    }
}

fn value_json(v: &Value) -> Json {
    match v {
        Value::Text(s) => json!(s),
        Value::Integer(n) => json!(n),
        Value::Boolean(b) => json!(b),
        Value::Timestamp(t) => json!(t.0),
        Value::Money(m) => json!(m.minor),
        Value::TextSet(items) => {
            let mut items = items.clone();
            items.sort_unstable();
            items.dedup();
            json!(items)
        }
    }
}
