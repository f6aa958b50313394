//! A compiled [`Plan`] written as SQL over the [`SqlLayout`]: each node becomes a
//! condition on the profile row `p` that is never `NULL`, each event condition a
//! subquery over the events that returns profile ids, and each named segment a CTE.

use crate::engine::Engine;
use crate::ids::{EventKindId, TraitId};
use crate::money::Currency;
use crate::record::Value;
use crate::rfm::Direction;
use crate::schema::{PropertyType, TraitType};
use crate::segment::Plan;
use crate::segment::compile::{CTest, Filter, Node};
use crate::segment::eval_row::passes_sum;
use crate::sql::dialect::Dialect;
use crate::sql::layout::{SqlLayout, SqlTable};
use crate::sql::tables::dimension_column;
use crate::sql::{SqlError, SqlQuery};
use crate::time::{Timestamp, Window};

/// Below every valid time: "no such event" in a `max` over times.
pub(crate) const NO_TIME: i64 = -(1 << 62);

/// Where a money value's currency is: known from the schema, or in a column.
#[derive(Clone, Copy)]
pub(crate) enum CurrencyOf<'a> {
    /// Not money.
    None,
    /// Every value is in this currency.
    Fixed(Currency),
    /// The currency is in this column.
    Column(&'a str),
}

pub(crate) struct Writer<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) d: Dialect,
    pub(crate) layout: &'a SqlLayout,
    pub(crate) now: Option<Timestamp>,
    /// Named segments written so far, in dependency order: (position, CTE).
    ctes: Vec<(usize, String)>,
}

/// Writes `plan` at clock `now` (the engine's when `None`).
pub(crate) fn write(
    engine: &Engine,
    plan: &Plan,
    d: Dialect,
    layout: &SqlLayout,
    now: Option<Timestamp>,
) -> Result<SqlQuery, SqlError> {
    let mut w = Writer {
        engine,
        d,
        layout,
        now: now.or(engine.now()),
        ctes: Vec::new(),
    };
    let cond = w.cond(&plan.root)?;
    let profiles = w.table(SqlTable::Profiles)?;
    let with = if w.ctes.is_empty() {
        String::new()
    } else {
        let ctes: Vec<String> = w
            .ctes
            .iter()
            .map(|(i, body)| format!("seg_{i} AS ({body})"))
            .collect();
        format!("WITH {} ", ctes.join(", "))
    };
    Ok(SqlQuery {
        ids: format!(
            "{with}SELECT p.profile_id FROM {profiles} AS p WHERE {cond} ORDER BY p.profile_id"
        ),
        count: format!("{with}SELECT count(*) AS n FROM {profiles} AS p WHERE {cond}"),
    })
}

fn and(parts: Vec<String>) -> String {
    match parts.len() {
        0 => "(1 = 1)".into(),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => format!("({})", parts.join(" AND ")),
    }
}

fn or(parts: Vec<String>) -> String {
    match parts.len() {
        0 => "(1 = 0)".into(),
        1 => parts.into_iter().next().unwrap_or_default(),
        _ => format!("({})", parts.join(" OR ")),
    }
}

/// `p` is among the profile ids `query` returns.
fn member(query: &str) -> String {
    format!("p.profile_id IN ({query})")
}

fn non_member(query: &str) -> String {
    format!("p.profile_id NOT IN ({query})")
}

impl Writer<'_> {
    /// A quoted table name (a dotted name quoted part by part).
    pub(crate) fn table(&self, t: SqlTable) -> Result<String, SqlError> {
        let parts: Result<Vec<String>, SqlError> = self
            .layout
            .table_name(t)
            .split('.')
            .map(|part| self.d.ident(part))
            .collect();
        Ok(parts?.join("."))
    }

    /// The quoted column of trait or property `name`.
    pub(crate) fn column(&self, name: &str) -> Result<String, SqlError> {
        self.d.ident(self.layout.column_name(name))
    }

    /// The quoted currency column of money property or trait `name`.
    pub(crate) fn currency_column(&self, name: &str) -> Result<String, SqlError> {
        self.d
            .ident(&format!("{}_currency", self.layout.column_name(name)))
    }

    pub(crate) fn now(&self) -> Result<i64, SqlError> {
        self.now.map(|t| t.0).ok_or(SqlError::ClockUnset)
    }

    pub(crate) fn text(&self, s: &str) -> String {
        self.d.text(s)
    }

    /// A literal of a non-money value.
    pub(crate) fn literal(&self, v: &Value) -> String {
        match v {
            Value::Text(s) => self.text(s),
            Value::Integer(n) => self.d.int(*n),
            Value::Boolean(b) => if *b { "TRUE" } else { "FALSE" }.into(),
            Value::Timestamp(t) => self.d.int(t.0),
            Value::Money(m) => self.d.int(m.minor),
            Value::TextSet(items) => {
                let mut items = items.clone();
                items.sort_unstable();
                items.dedup();
                let lits: Vec<String> = items.iter().map(|s| self.text(s)).collect();
                self.d.array(&lits)
            }
        }
    }

    fn cond(&mut self, node: &Node) -> Result<String, SqlError> {
        Ok(match node {
            Node::All => "(1 = 1)".into(),
            Node::None => "(1 = 0)".into(),
            Node::And(children) => and(children
                .iter()
                .map(|c| self.cond(c))
                .collect::<Result<_, _>>()?),
            Node::Or(children) => or(children
                .iter()
                .map(|c| self.cond(c))
                .collect::<Result<_, _>>()?),
            Node::Not(child) => format!("(NOT {})", self.cond(child)?),
            Node::Trait { id, test } => self.trait_cond(*id, test)?,
            Node::Computed { index, test } => self.computed_cond(*index, test)?,
            Node::Event {
                filter,
                window,
                at_least,
                at_most,
                sum,
            } => {
                let events = self.table(SqlTable::Events)?;
                let matching = and(vec![self.filter(filter, "e")?, self.window(*window, "e")?]);
                let mut having = Vec::new();
                if *at_least > 0 {
                    having.push(format!("count(*) >= {at_least}"));
                }
                if let Some(m) = at_most {
                    having.push(format!("count(*) <= {m}"));
                }
                if let Some(s) = sum {
                    let amount = self.amount(filter.kind, s.property, s.currency, "e")?;
                    let total = format!("sum({})", self.d.wide(&amount));
                    having.push(self.test(&total, CurrencyOf::None, &s.test)?);
                }
                let having = if having.is_empty() {
                    String::new()
                } else {
                    format!(" HAVING {}", and(having))
                };
                let found = member(&format!(
                    "SELECT e.profile_id FROM {events} AS e WHERE {matching} GROUP BY e.profile_id{having}"
                ));
                // A profile with no matching event has count 0 and sum 0.
                let none_passes =
                    *at_least == 0 && sum.as_ref().is_none_or(|s| passes_sum(&s.test, 0));
                if none_passes {
                    or(vec![
                        found,
                        non_member(&format!(
                            "SELECT e.profile_id FROM {events} AS e WHERE {matching}"
                        )),
                    ])
                } else {
                    found
                }
            }
            Node::NoneSince {
                first,
                window,
                then,
            } => {
                let events = self.table(SqlTable::Events)?;
                let now = self.now()?;
                let f = and(vec![self.filter(first, "e")?, self.window(*window, "e")?]);
                let t = self.filter(then, "e")?;
                let last_first = format!("max(CASE WHEN {f} THEN e.at ELSE {NO_TIME} END)");
                let last_then = format!("max(CASE WHEN {t} THEN e.at ELSE {NO_TIME} END)");
                member(&format!(
                    "SELECT e.profile_id FROM {events} AS e WHERE e.at <= {} AND ({f} OR {t}) \
                     GROUP BY e.profile_id HAVING {last_first} > {NO_TIME} AND {last_then} < {last_first}",
                    self.d.int(now)
                ))
            }
            Node::Then {
                first,
                window,
                then,
                within_ms,
            } => {
                let events = self.table(SqlTable::Events)?;
                let now = self.d.int(self.now()?);
                let conds = and(vec![
                    self.filter(first, "a")?,
                    self.window(*window, "a")?,
                    self.filter(then, "b")?,
                    "b.seq > a.seq".into(),
                    format!("b.at <= {now}"),
                    format!("b.at - a.at <= {}", self.d.int(*within_ms)),
                ]);
                member(&format!(
                    "SELECT a.profile_id FROM {events} AS a INNER JOIN {events} AS b \
                     ON a.profile_id = b.profile_id WHERE {conds}"
                ))
            }
            Node::RfmScore {
                model,
                dimension,
                min,
                max,
            } => {
                let rfm = self.table(SqlTable::Rfm)?;
                let model = self.model_name(*model)?;
                let col = dimension_column(*dimension);
                member(&format!(
                    "SELECT profile_id FROM {rfm} WHERE model = {} AND {col} >= {min} AND {col} <= {max}",
                    self.text(&model)
                ))
            }
            Node::RfmSegment { segment, .. } => {
                let table = self.table(SqlTable::RfmSegments)?;
                let def = self
                    .engine
                    .schema
                    .def()
                    .rfm_segments
                    .get(*segment)
                    .ok_or_else(|| SqlError::Internal("unknown RFM segment".into()))?;
                member(&format!(
                    "SELECT profile_id FROM {table} WHERE model = {} AND segment = {}",
                    self.text(&def.model),
                    self.text(&def.name)
                ))
            }
            Node::RfmTrend {
                model,
                dimension,
                direction,
            } => {
                let rfm = self.table(SqlTable::Rfm)?;
                let model = self.model_name(*model)?;
                let col = dimension_column(*dimension);
                let op = match direction {
                    Direction::Up => ">",
                    Direction::Flat => "=",
                    Direction::Down => "<",
                };
                member(&format!(
                    "SELECT profile_id FROM {rfm} WHERE model = {} AND previous_{col} IS NOT NULL AND {col} {op} previous_{col}",
                    self.text(&model)
                ))
            }
            Node::Consent { purpose, channel } => {
                let table = self.table(SqlTable::Consent)?;
                let schema = &self.engine.schema;
                let p = schema
                    .purpose(*purpose)
                    .ok_or_else(|| SqlError::Internal("unknown purpose".into()))?;
                let c = schema
                    .channel(*channel)
                    .ok_or_else(|| SqlError::Internal("unknown channel".into()))?;
                let rows = format!(
                    "SELECT profile_id FROM {table} WHERE purpose = {} AND channel = {} AND ",
                    self.text(&p.name),
                    self.text(&c.name)
                );
                if p.default == crate::schema::ConsentDefault::OptOut {
                    non_member(&format!("{rows}NOT granted"))
                } else {
                    member(&format!("{rows}granted"))
                }
            }
            Node::Suppressed { channel } => {
                let table = self.table(SqlTable::Suppressions)?;
                match channel {
                    None => member(&format!("SELECT profile_id FROM {table}")),
                    Some(c) => {
                        let name = &self
                            .engine
                            .schema
                            .channel(*c)
                            .ok_or_else(|| SqlError::Internal("unknown channel".into()))?
                            .name;
                        member(&format!(
                            "SELECT profile_id FROM {table} WHERE channel IS NULL OR channel = {}",
                            self.text(name)
                        ))
                    }
                }
            }
            Node::Segment(i) => {
                self.segment_cte(*i)?;
                member(&format!("SELECT profile_id FROM seg_{i}"))
            }
            Node::Materialized(i) => {
                let leaf = self
                    .engine
                    .segments
                    .materialized
                    .get(*i)
                    .map(|m| m.leaf.clone())
                    .ok_or_else(|| SqlError::Internal("unknown materialized condition".into()))?;
                self.cond(&leaf)?
            }
            Node::Profiles(set) => {
                // The live profiles the set's ids resolve to, as literals.
                let ids = self.engine.resolve_set(set);
                if ids.is_empty() {
                    "(1 = 0)".into()
                } else {
                    let list: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
                    format!("p.profile_id IN ({})", list.join(", "))
                }
            }
            Node::Sample {
                seed,
                from,
                to,
                key,
            } => {
                let source = match key {
                    None => {
                        let profiles = self.table(SqlTable::Profiles)?;
                        let k = match self.d {
                            Dialect::DuckDb => "CAST(profile_id AS UBIGINT)",
                            Dialect::ClickHouse => "toUInt64(profile_id)",
                            Dialect::SparkSql => "CAST(profile_id AS BIGINT)",
                        };
                        format!("SELECT profile_id, {k} AS k FROM {profiles}")
                    }
                    Some(kind) => {
                        let key = self.d.identifier_key("v")?;
                        let table = self.table(SqlTable::Identifiers)?;
                        let name = &self
                            .engine
                            .schema
                            .kind(*kind)
                            .ok_or_else(|| SqlError::Internal("unknown identifier kind".into()))?
                            .name;
                        format!(
                            "SELECT profile_id, {key} AS k FROM (SELECT profile_id, min(value) AS v FROM {table} \
                             WHERE kind = {} GROUP BY profile_id) AS i",
                            self.text(name)
                        )
                    }
                };
                member(&format!(
                    "SELECT profile_id FROM ({}) AS s WHERE bucket >= {from} AND bucket < {to}",
                    self.d.bucket_query(&source, *seed)
                ))
            }
        })
    }

    /// Writes named segment `i` (and those it names) as CTEs, once.
    fn segment_cte(&mut self, i: usize) -> Result<(), SqlError> {
        if self.ctes.iter().any(|(j, _)| *j == i) {
            return Ok(());
        }
        let root = self
            .engine
            .segments
            .get(i)
            .map(|s| s.plan.root.clone())
            .ok_or(SqlError::UnknownSegment(i))?;
        let cond = self.cond(&root)?;
        let profiles = self.table(SqlTable::Profiles)?;
        self.ctes.push((
            i,
            format!("SELECT p.profile_id FROM {profiles} AS p WHERE {cond}"),
        ));
        Ok(())
    }

    fn model_name(&self, model: usize) -> Result<String, SqlError> {
        self.engine
            .schema
            .rfm_model(model)
            .map(|m| m.name.clone())
            .ok_or_else(|| SqlError::Internal("unknown RFM model".into()))
    }

    fn trait_cond(&self, id: TraitId, test: &CTest) -> Result<String, SqlError> {
        let def = self
            .engine
            .schema
            .trait_def(id)
            .ok_or_else(|| SqlError::Internal("unknown trait".into()))?;
        if def.ty == TraitType::Money {
            let table = self.table(SqlTable::TraitMoney)?;
            let rows = format!(
                "SELECT profile_id FROM {table} WHERE {} = {}",
                self.d.ident("trait")?,
                self.text(&def.name)
            );
            return Ok(match test {
                CTest::Exists => member(&rows),
                CTest::Missing => non_member(&rows),
                t => member(&format!(
                    "{rows} AND {}",
                    self.test("minor", CurrencyOf::Column("currency"), t)?
                )),
            });
        }
        let col = format!("p.{}", self.column(&def.name)?);
        if def.ty == TraitType::TextSet {
            // ClickHouse arrays cannot be NULL: a missing set reads as an empty one.
            let (exists, missing) = if self.d == Dialect::ClickHouse {
                (format!("notEmpty({col})"), format!("empty({col})"))
            } else {
                (format!("({col} IS NOT NULL)"), format!("({col} IS NULL)"))
            };
            return Ok(match test {
                CTest::Exists => exists,
                CTest::Missing => missing,
                CTest::Contains(item) => {
                    format!(
                        "coalesce({}, FALSE)",
                        self.d.array_has(&col, &self.text(item))
                    )
                }
                CTest::Eq(v) => format!(
                    "coalesce({} = {}, FALSE)",
                    self.d.array_sorted(&col),
                    self.literal(v)
                ),
                CTest::In(vs) => or(vs
                    .iter()
                    .map(|v| {
                        format!(
                            "coalesce({} = {}, FALSE)",
                            self.d.array_sorted(&col),
                            self.literal(v)
                        )
                    })
                    .collect()),
                _ => "(1 = 0)".into(),
            });
        }
        self.test(&col, CurrencyOf::None, test)
    }

    /// Whether the value in column `col` passes `test`; never `NULL`.
    pub(crate) fn test(
        &self,
        col: &str,
        currency: CurrencyOf<'_>,
        test: &CTest,
    ) -> Result<String, SqlError> {
        // A money bound applies only to values of its currency.
        let same_currency = |v: &Value| -> Option<String> {
            match (v, currency) {
                (Value::Money(m), CurrencyOf::Fixed(c)) => {
                    (m.currency != c).then(|| "(1 = 0)".to_string())
                }
                (Value::Money(m), CurrencyOf::Column(c)) => {
                    Some(format!("{c} = {}", self.text(m.currency.code())))
                }
                _ => None,
            }
        };
        let compare = |op: &str, v: &Value| -> String {
            let base = format!("{col} {op} {}", self.literal(v));
            match same_currency(v) {
                Some(c) => format!("({c} AND {base})"),
                None => base,
            }
        };
        Ok(match test {
            CTest::Exists => format!("({col} IS NOT NULL)"),
            CTest::Missing => format!("({col} IS NULL)"),
            CTest::Eq(v) => format!("coalesce({}, FALSE)", compare("=", v)),
            CTest::In(vs) => {
                if matches!(currency, CurrencyOf::None)
                    || vs.iter().all(|v| !matches!(v, Value::Money(_)))
                {
                    if vs.is_empty() {
                        "(1 = 0)".into()
                    } else {
                        let lits: Vec<String> = vs.iter().map(|v| self.literal(v)).collect();
                        format!("coalesce({col} IN ({}), FALSE)", lits.join(", "))
                    }
                } else {
                    or(vs
                        .iter()
                        .map(|v| format!("coalesce({}, FALSE)", compare("=", v)))
                        .collect())
                }
            }
            CTest::Range { min, max } => {
                let mut parts = Vec::new();
                if let Some((v, inclusive)) = min {
                    parts.push(compare(if *inclusive { ">=" } else { ">" }, v));
                }
                if let Some((v, inclusive)) = max {
                    parts.push(compare(if *inclusive { "<=" } else { "<" }, v));
                }
                if parts.is_empty() {
                    format!("({col} IS NOT NULL)")
                } else {
                    format!("coalesce({}, FALSE)", and(parts))
                }
            }
            CTest::Prefix(prefix) => format!(
                "coalesce({}, FALSE)",
                self.d.starts_with(col, &self.text(prefix))
            ),
            CTest::Contains(_) => "(1 = 0)".into(),
        })
    }

    /// The name, type and column of property `pos` of event kind `kind`.
    pub(crate) fn property(
        &self,
        kind: EventKindId,
        pos: u16,
    ) -> Result<(String, PropertyType), SqlError> {
        let def = self
            .engine
            .schema
            .event_kind(kind)
            .and_then(|k| k.properties.get(usize::from(pos)))
            .ok_or_else(|| SqlError::Internal("unknown property".into()))?;
        Ok((def.name.clone(), def.ty))
    }

    pub(crate) fn kind_name(&self, kind: EventKindId) -> Result<String, SqlError> {
        self.engine
            .schema
            .event_kind(kind)
            .map(|k| k.name.clone())
            .ok_or_else(|| SqlError::Internal("unknown event kind".into()))
    }

    /// Whether event `alias` is of `kind` and its property `pos` is one of `values`.
    pub(crate) fn property_in(
        &self,
        kind: EventKindId,
        pos: u16,
        values: &[Value],
        alias: &str,
    ) -> Result<String, SqlError> {
        let (name, ty) = self.property(kind, pos)?;
        let col = format!("{alias}.{}", self.column(&name)?);
        if values.is_empty() {
            return Ok("(1 = 0)".into());
        }
        Ok(if ty == PropertyType::Money {
            let cur = format!("{alias}.{}", self.currency_column(&name)?);
            or(values
                .iter()
                .map(|v| match v {
                    Value::Money(m) => format!(
                        "({col} = {} AND {cur} = {})",
                        self.d.int(m.minor),
                        self.text(m.currency.code())
                    ),
                    _ => "(1 = 0)".into(),
                })
                .collect())
        } else {
            let lits: Vec<String> = values.iter().map(|v| self.literal(v)).collect();
            format!("{col} IN ({})", lits.join(", "))
        })
    }

    /// Whether event `alias` matches `filter`.
    pub(crate) fn filter(&self, filter: &Filter, alias: &str) -> Result<String, SqlError> {
        let mut parts = vec![format!(
            "{alias}.kind = {}",
            self.text(&self.kind_name(filter.kind)?)
        )];
        for (pos, values) in &filter.conditions {
            parts.push(self.property_in(filter.kind, *pos, values, alias)?);
        }
        Ok(and(parts))
    }

    /// Whether event `alias` lies in `window` at the clock (never after it).
    pub(crate) fn window(&self, window: Window, alias: &str) -> Result<String, SqlError> {
        let now = self.now.ok_or(SqlError::ClockUnset)?;
        let mut parts = vec![format!("{alias}.at <= {}", self.d.int(now.0))];
        match window {
            Window::Between { from, to } => {
                parts.push(format!("{alias}.at >= {}", self.d.int(from.0)));
                parts.push(format!("{alias}.at < {}", self.d.int(to.0)));
            }
            w => {
                if let Some(start) = w.start(now) {
                    parts.push(format!("{alias}.at >= {}", self.d.int(start.0)));
                }
            }
        }
        Ok(and(parts))
    }

    /// The amount property `pos` of event `alias` contributes to a sum: an integer, or
    /// the minor units of an amount in `currency` (anything else 0).
    pub(crate) fn amount(
        &self,
        kind: EventKindId,
        pos: u16,
        currency: Option<Currency>,
        alias: &str,
    ) -> Result<String, SqlError> {
        let (name, ty) = self.property(kind, pos)?;
        let col = format!("{alias}.{}", self.column(&name)?);
        Ok(match (ty, currency) {
            (PropertyType::Money, Some(c)) => format!(
                "CASE WHEN {alias}.{} = {} THEN {col} ELSE 0 END",
                self.currency_column(&name)?,
                self.text(c.code())
            ),
            (PropertyType::Integer, _) => format!("coalesce({col}, 0)"),
            _ => "0".into(),
        })
    }
}
