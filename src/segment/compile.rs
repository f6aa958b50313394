//! [`Plan`]: an [`Expr`] compiled against the schema and the named segments — names
//! resolved to ids, values checked against types, bounds enforced — then simplified.

use crate::error::{CompileError, CompileProblem};
use crate::ids::{ChannelId, EventKindId, KindId, PurposeId, TraitId};
use crate::record::Value;
use crate::rfm::{Dimension, Direction};
use crate::schema::{Op, PropertyType, Schema, TraitType};
use crate::segment::expr::{EventSpec, Expr, RfmCond, Sequence, Test};
use crate::time::Window;

/// Deepest nesting an expression may have by default ([`crate::EngineConfig::max_expr_depth`]).
pub const MAX_DEPTH: usize = 64;
/// Most nodes (conditions plus `in` values) an expression may have by default
/// ([`crate::EngineConfig::max_expr_nodes`]).
pub const MAX_NODES: usize = 10_000;

/// A compiled test: values checked against the tested type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CTest {
    Eq(Value),
    /// Sorted, without repeats.
    In(Vec<Value>),
    /// Within bounds (each inclusive or exclusive, or open).
    Range {
        min: Option<(Value, bool)>,
        max: Option<(Value, bool)>,
    },
    Prefix(String),
    Contains(String),
    Exists,
    Missing,
}

/// Which events: a kind and property conditions (by property position).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Filter {
    pub(crate) kind: EventKindId,
    /// (position, accepted values sorted).
    pub(crate) conditions: Vec<(u16, Vec<Value>)>,
}

/// A test on the sum of a property over matching events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SumPlan {
    /// Property position.
    pub(crate) property: u16,
    /// The currency summed (money: only amounts in the test's currency count).
    pub(crate) currency: Option<crate::money::Currency>,
    pub(crate) test: CTest,
}

/// A node of a compiled plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    All,
    None,
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Trait {
        id: TraitId,
        test: CTest,
    },
    Computed {
        index: usize,
        test: CTest,
    },
    Event {
        filter: Filter,
        window: Window,
        at_least: u64,
        at_most: Option<u64>,
        sum: Option<SumPlan>,
    },
    NoneSince {
        first: Filter,
        window: Window,
        then: Filter,
    },
    Then {
        first: Filter,
        window: Window,
        then: Filter,
        within_ms: i64,
    },
    RfmScore {
        model: usize,
        dimension: Dimension,
        min: u8,
        max: u8,
    },
    RfmSegment {
        model: usize,
        /// Position in the schema's RFM segment list.
        segment: usize,
    },
    RfmTrend {
        model: usize,
        dimension: Dimension,
        direction: Direction,
    },
    /// Consent for the purpose on the channel is granted.
    Consent {
        purpose: PurposeId,
        channel: ChannelId,
    },
    /// A suppression applies on the channel (`None`: on any).
    Suppressed {
        channel: Option<ChannelId>,
    },
    Segment(usize),
    /// A materialized event or sequence condition, by position in the segment store.
    Materialized(usize),
    Sample {
        seed: u64,
        from: u8,
        to: u8,
        key: Option<KindId>,
    },
    /// A fixed set of profile ids (members: the live profiles holding one of them).
    Profiles(std::sync::Arc<roaring::RoaringBitmap>),
}

impl Node {
    /// Whether the node reads the clock (windows, days since, …).
    pub(crate) fn reads_clock(&self) -> bool {
        match self {
            Node::And(c) | Node::Or(c) => c.iter().any(Node::reads_clock),
            Node::Not(c) => c.reads_clock(),
            Node::Computed { .. }
            | Node::Event { .. }
            | Node::NoneSince { .. }
            | Node::Then { .. }
            | Node::Materialized(_) => true,
            _ => false,
        }
    }
}

/// A compiled segment expression: compile once, evaluate many times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub(crate) root: Node,
}

impl Plan {
    /// Whether evaluating it needs the clock: it has a window, a computed trait or a
    /// materialized condition of its own (segments it names are not looked into).
    pub fn reads_clock(&self) -> bool {
        self.root.reads_clock()
    }
}

/// What compiling needs besides the schema: the names of the segments defined so far and
/// the materialized leaves a plan can read instead of scanning.
pub(crate) struct Scope<'a> {
    pub(crate) schema: &'a Schema,
    /// By segment position; `None` for unregistered ones.
    pub(crate) segments: &'a [Option<String>],
    pub(crate) materialized: &'a [Option<Node>],
    /// How many profile ids have been handed out (a fixed set may hold no other).
    pub(crate) profile_slots: usize,
    /// The bounds the expression must keep.
    pub(crate) limits: Limits,
}

/// The bounds an expression must keep ([`crate::EngineConfig`]'s `max_expr_depth`,
/// `max_expr_nodes`, `max_in_values` and `max_text_bytes`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) depth: usize,
    pub(crate) nodes: usize,
    pub(crate) in_values: usize,
    pub(crate) text_bytes: usize,
}

impl Limits {
    pub(crate) fn of(config: &crate::EngineConfig) -> Limits {
        Limits {
            depth: config.max_expr_depth,
            nodes: config.max_expr_nodes,
            in_values: config.max_in_values,
            text_bytes: config.max_text_bytes,
        }
    }

    fn values(&self, values: &[Value]) -> Result<(), CompileProblem> {
        if values.len() > self.in_values {
            return Err(CompileProblem::TooManyValues {
                len: values.len(),
                max: self.in_values,
            });
        }
        values.iter().try_for_each(|v| self.value(v))
    }

    fn value(&self, v: &Value) -> Result<(), CompileProblem> {
        match v {
            Value::Text(s) => self.text(s),
            Value::TextSet(items) => {
                if items.len() > self.in_values {
                    return Err(CompileProblem::TooManyValues {
                        len: items.len(),
                        max: self.in_values,
                    });
                }
                items.iter().try_for_each(|s| self.text(s))
            }
            _ => Ok(()),
        }
    }

    fn text(&self, s: &str) -> Result<(), CompileProblem> {
        if s.len() > self.text_bytes {
            return Err(CompileProblem::TextTooLong {
                len: s.len(),
                max: self.text_bytes,
            });
        }
        Ok(())
    }

    fn test(&self, test: &Test) -> Result<(), CompileProblem> {
        match test {
            Test::Eq(v) | Test::Lt(v) | Test::Le(v) | Test::Gt(v) | Test::Ge(v) => self.value(v),
            Test::In(vs) => self.values(vs),
            Test::Between { min, max } => self.value(min).and(self.value(max)),
            Test::Prefix(s) | Test::Contains(s) => self.text(s),
            Test::Exists | Test::Missing => Ok(()),
        }
    }

    fn conditions(
        &self,
        conditions: &[crate::schema::PropertyCondition],
    ) -> Result<(), CompileProblem> {
        conditions.iter().try_for_each(|c| self.values(&c.values))
    }

    /// The values and texts of one expression node, not its children.
    fn node(&self, e: &Expr) -> Result<(), CompileProblem> {
        match e {
            Expr::Trait { test, .. } | Expr::Computed { test, .. } => self.test(test),
            Expr::Event(ev) => {
                self.conditions(&ev.conditions)?;
                ev.sum.as_ref().map_or(Ok(()), |s| self.test(&s.test))
            }
            Expr::Sequence(
                Sequence::NoneSince { first, then, .. } | Sequence::Then { first, then, .. },
            ) => {
                self.conditions(&first.conditions)?;
                self.conditions(&then.conditions)
            }
            _ => Ok(()),
        }
    }
}

/// Checks the expression's size, depth, value lists and texts without recursion, so a
/// hostile expression cannot overflow the stack before it is refused.
fn check_bounds(expr: &Expr, limits: &Limits) -> Result<(), CompileError> {
    let mut stack = vec![(expr, 1usize)];
    let mut nodes = 0usize;
    while let Some((e, depth)) = stack.pop() {
        if depth > limits.depth {
            return Err(at_root(CompileProblem::TooDeep { max: limits.depth }));
        }
        nodes += 1 + match e {
            Expr::Trait { test, .. } | Expr::Computed { test, .. } => test_size(test),
            Expr::Event(ev) => ev.conditions.iter().map(|c| c.values.len()).sum(),
            _ => 0,
        };
        if nodes > limits.nodes {
            return Err(at_root(CompileProblem::TooLarge { max: limits.nodes }));
        }
        limits.node(e).map_err(at_root)?;
        match e {
            Expr::And(children) | Expr::Or(children) => {
                stack.extend(children.iter().map(|c| (c, depth + 1)));
            }
            Expr::Not(child) => stack.push((child, depth + 1)),
            _ => {}
        }
    }
    Ok(())
}

fn test_size(test: &Test) -> usize {
    match test {
        Test::In(values) => values.len(),
        _ => 0,
    }
}

fn at_root(problem: CompileProblem) -> CompileError {
    CompileError {
        path: "$".into(),
        problem,
    }
}

/// Compiles `expr`.
pub(crate) fn compile(expr: &Expr, scope: &Scope<'_>) -> Result<Plan, CompileError> {
    check_bounds(expr, &scope.limits)?;
    let root = Compiler { scope }.node(expr, "$")?;
    let mut root = crate::segment::simplify::simplify(root);
    use_materialized(&mut root, scope.materialized);
    Ok(Plan { root })
}

/// Replaces every leaf equal to a materialized one by a reference to it.
pub(crate) fn use_materialized(node: &mut Node, materialized: &[Option<Node>]) {
    match node {
        Node::And(children) | Node::Or(children) => {
            for c in children {
                use_materialized(c, materialized);
            }
        }
        Node::Not(child) => use_materialized(child, materialized),
        leaf => {
            if let Some(i) = materialized.iter().position(|m| m.as_ref() == Some(leaf)) {
                *leaf = Node::Materialized(i);
            }
        }
    }
}

/// The leaves of `node` that are not materialized yet but could be.
pub(crate) fn unmaterialized<'a>(node: &'a Node, out: &mut Vec<&'a Node>) {
    match node {
        Node::And(children) | Node::Or(children) => {
            for c in children {
                unmaterialized(c, out);
            }
        }
        Node::Not(child) => unmaterialized(child, out),
        leaf if crate::segment::materialize::materializable(leaf) && !out.contains(&leaf) => {
            out.push(leaf);
        }
        _ => {}
    }
}

struct Compiler<'a> {
    scope: &'a Scope<'a>,
}

fn fail(path: &str, problem: CompileProblem) -> CompileError {
    CompileError {
        path: path.to_string(),
        problem,
    }
}

impl Compiler<'_> {
    fn channel(&self, name: &str, path: &str) -> Result<ChannelId, CompileError> {
        self.scope
            .schema
            .channel_id(name)
            .ok_or_else(|| fail(path, CompileProblem::UnknownChannel(name.to_string())))
    }

    fn node(&self, expr: &Expr, path: &str) -> Result<Node, CompileError> {
        let schema = self.scope.schema;
        Ok(match expr {
            Expr::All => Node::All,
            Expr::None => Node::None,
            Expr::And(children) => Node::And(self.children(children, path, "and")?),
            Expr::Or(children) => Node::Or(self.children(children, path, "or")?),
            Expr::Not(child) => Node::Not(Box::new(self.node(child, &format!("{path}.not"))?)),
            Expr::Trait { name, test } => {
                let path = format!("{path}.trait({name})");
                let id = schema
                    .trait_id(name)
                    .ok_or_else(|| fail(&path, CompileProblem::UnknownTrait(name.clone())))?;
                let ty = schema.trait_def(id).map_or(TraitType::Text, |d| d.ty);
                Node::Trait {
                    id,
                    test: compile_test(test, ty, &path)?,
                }
            }
            Expr::Computed { name, test } => {
                let path = format!("{path}.computed({name})");
                let id = schema
                    .computed_id(name)
                    .ok_or_else(|| fail(&path, CompileProblem::UnknownComputed(name.clone())))?;
                let ty = schema
                    .computed_rules()
                    .get(id.index())
                    .map_or(TraitType::Integer, computed_type);
                Node::Computed {
                    index: id.index(),
                    test: compile_test(test, ty, &path)?,
                }
            }
            Expr::Event(ev) => {
                let path = format!("{path}.event({})", ev.kind);
                let spec = EventSpec {
                    kind: ev.kind.clone(),
                    conditions: ev.conditions.clone(),
                };
                let filter = self.filter(&spec, &path)?;
                check_window(ev.window, &path)?;
                let sum = match &ev.sum {
                    None => None,
                    Some(s) => {
                        let (pos, ty) =
                            self.property(&spec.kind, filter.kind, &s.property, &path)?;
                        let ty = match ty {
                            PropertyType::Integer => TraitType::Integer,
                            PropertyType::Money => TraitType::Money,
                            other => {
                                return Err(fail(
                                    &path,
                                    CompileProblem::Unsupported {
                                        test: "sum",
                                        ty: other.name(),
                                    },
                                ));
                            }
                        };
                        let path = format!("{path}.sum");
                        let test = compile_test(&s.test, ty, &path)?;
                        Some(SumPlan {
                            property: pos,
                            currency: test_currency(&test, &path)?,
                            test,
                        })
                    }
                };
                let at_least = ev
                    .at_least
                    .unwrap_or(u64::from(ev.at_most.is_none() && ev.sum.is_none()));
                Node::Event {
                    filter,
                    window: ev.window,
                    at_least,
                    at_most: ev.at_most,
                    sum,
                }
            }
            Expr::Sequence(Sequence::NoneSince {
                first,
                window,
                then,
            }) => {
                let path = format!("{path}.none_since");
                check_window(*window, &path)?;
                Node::NoneSince {
                    first: self.filter(first, &format!("{path}.first"))?,
                    window: *window,
                    then: self.filter(then, &format!("{path}.then"))?,
                }
            }
            Expr::Sequence(Sequence::Then {
                first,
                window,
                then,
                within_days,
            }) => {
                let path = format!("{path}.then");
                check_window(*window, &path)?;
                Node::Then {
                    first: self.filter(first, &format!("{path}.first"))?,
                    window: *window,
                    then: self.filter(then, &format!("{path}.then"))?,
                    within_ms: i64::from(*within_days) * crate::time::MILLIS_PER_DAY,
                }
            }
            Expr::Rfm(cond) => self.rfm(cond, &format!("{path}.rfm"))?,
            Expr::Consent { purpose, channel } => {
                let path = format!("{path}.consent({purpose}, {channel})");
                Node::Consent {
                    purpose: schema.purpose_id(purpose).ok_or_else(|| {
                        fail(&path, CompileProblem::UnknownPurpose(purpose.clone()))
                    })?,
                    channel: self.channel(channel, &path)?,
                }
            }
            Expr::Suppressed { channel } => {
                let path = format!("{path}.suppressed");
                Node::Suppressed {
                    channel: match channel {
                        Some(c) => Some(self.channel(c, &path)?),
                        None => None,
                    },
                }
            }
            Expr::Segment(name) => {
                let path = format!("{path}.segment({name})");
                let i = self
                    .scope
                    .segments
                    .iter()
                    .position(|s| s.as_deref() == Some(name.as_str()))
                    .ok_or_else(|| fail(&path, CompileProblem::UnknownSegment(name.clone())))?;
                Node::Segment(i)
            }
            Expr::Sample(s) => {
                let path = format!("{path}.sample");
                if s.from > s.to || s.to > 100 {
                    return Err(fail(
                        &path,
                        CompileProblem::SampleRange {
                            from: s.from,
                            to: s.to,
                        },
                    ));
                }
                let key = match &s.key_kind {
                    None => None,
                    Some(k) => Some(schema.kind_id(k).ok_or_else(|| {
                        fail(&path, CompileProblem::UnknownIdentifierKind(k.clone()))
                    })?),
                };
                Node::Sample {
                    seed: s.seed,
                    from: s.from,
                    to: s.to,
                    key,
                }
            }
            Expr::Profiles(set) => {
                if let Some(max) = set.0.max()
                    && usize::try_from(max).map_or(true, |m| m >= self.scope.profile_slots)
                {
                    return Err(fail(
                        &format!("{path}.profiles"),
                        CompileProblem::UnknownProfile(max),
                    ));
                }
                Node::Profiles(std::sync::Arc::new(set.0.clone()))
            }
        })
    }

    fn children(&self, children: &[Expr], path: &str, op: &str) -> Result<Vec<Node>, CompileError> {
        children
            .iter()
            .enumerate()
            .map(|(i, c)| self.node(c, &format!("{path}.{op}[{i}]")))
            .collect()
    }

    fn property(
        &self,
        kind_name: &str,
        kind: EventKindId,
        property: &str,
        path: &str,
    ) -> Result<(u16, PropertyType), CompileError> {
        let unknown = || {
            fail(
                path,
                CompileProblem::UnknownProperty {
                    kind: kind_name.to_string(),
                    property: property.to_string(),
                },
            )
        };
        let def = self.scope.schema.event_kind(kind).ok_or_else(unknown)?;
        let (pos, p) = def
            .properties
            .iter()
            .enumerate()
            .find(|(_, p)| p.name == property)
            .ok_or_else(unknown)?;
        Ok((u16::try_from(pos).map_err(|_| unknown())?, p.ty))
    }

    fn filter(&self, spec: &EventSpec, path: &str) -> Result<Filter, CompileError> {
        let kind = self
            .scope
            .schema
            .event_kind_id(&spec.kind)
            .ok_or_else(|| fail(path, CompileProblem::UnknownEventKind(spec.kind.clone())))?;
        let mut conditions = Vec::with_capacity(spec.conditions.len());
        for c in &spec.conditions {
            let (pos, ty) = self.property(&spec.kind, kind, &c.property, path)?;
            let path = format!("{path}.where({})", c.property);
            if c.values.is_empty() {
                return Err(fail(&path, CompileProblem::EmptyIn));
            }
            for v in &c.values {
                let fits = matches!(
                    (ty, v),
                    (PropertyType::Text, Value::Text(_))
                        | (PropertyType::Integer, Value::Integer(_))
                        | (PropertyType::Money, Value::Money(_))
                        | (PropertyType::Boolean, Value::Boolean(_))
                );
                if !fits {
                    return Err(fail(
                        &path,
                        CompileProblem::TypeMismatch {
                            expected: ty.name(),
                            got: v.trait_type().name(),
                        },
                    ));
                }
            }
            let mut values = c.values.clone();
            values.sort_unstable();
            values.dedup();
            conditions.push((pos, values));
        }
        Ok(Filter { kind, conditions })
    }

    fn rfm(&self, cond: &RfmCond, path: &str) -> Result<Node, CompileError> {
        let schema = self.scope.schema;
        let model_index = |model: &str| {
            schema
                .rfm_index(model)
                .ok_or_else(|| fail(path, CompileProblem::UnknownRfmModel(model.to_string())))
        };
        Ok(match cond {
            RfmCond::Score {
                model,
                dimension,
                min,
                max,
            } => {
                if *min < 1 || *max > 10 || min > max {
                    return Err(fail(
                        path,
                        CompileProblem::ScoreRange {
                            min: *min,
                            max: *max,
                        },
                    ));
                }
                Node::RfmScore {
                    model: model_index(model)?,
                    dimension: *dimension,
                    min: *min,
                    max: *max,
                }
            }
            RfmCond::Segment { model, name } => {
                let m = model_index(model)?;
                let segment = schema
                    .def()
                    .rfm_segments
                    .iter()
                    .position(|s| s.model == *model && s.name == *name)
                    .ok_or_else(|| {
                        fail(
                            path,
                            CompileProblem::UnknownRfmSegment {
                                model: model.clone(),
                                name: name.clone(),
                            },
                        )
                    })?;
                Node::RfmSegment { model: m, segment }
            }
            RfmCond::Trend {
                model,
                dimension,
                direction,
            } => Node::RfmTrend {
                model: model_index(model)?,
                dimension: *dimension,
                direction: *direction,
            },
        })
    }
}

/// The one currency of a test's money values (`None` for integers).
fn test_currency(test: &CTest, path: &str) -> Result<Option<crate::money::Currency>, CompileError> {
    let values: Vec<&Value> = match test {
        CTest::Eq(v) => vec![v],
        CTest::In(vs) => vs.iter().collect(),
        CTest::Range { min, max } => min.iter().chain(max.iter()).map(|(v, _)| v).collect(),
        _ => Vec::new(),
    };
    let mut currencies = values.iter().filter_map(|v| match v {
        Value::Money(m) => Some(m.currency),
        _ => None,
    });
    let first = currencies.next();
    if currencies.any(|c| Some(c) != first) {
        return Err(fail(
            path,
            CompileProblem::TypeMismatch {
                expected: "money in one currency",
                got: "money in several currencies",
            },
        ));
    }
    Ok(first)
}

fn check_window(window: Window, path: &str) -> Result<(), CompileError> {
    window
        .validate()
        .map_err(|_| fail(path, CompileProblem::EmptyWindow))
}

/// The type of a computed trait's values, as tests see them (counts and days are integers,
/// a habit is the name of its dominant part of the day).
fn computed_type(rule: &crate::schema::ComputedRule) -> TraitType {
    match rule.op {
        Op::Count | Op::DistinctCount | Op::DaysSince => TraitType::Integer,
        Op::Sum | Op::Min | Op::Max | Op::Average if rule.money => TraitType::Money,
        Op::Sum | Op::Min | Op::Max | Op::Average => TraitType::Integer,
        Op::FirstTime | Op::LastTime => TraitType::Timestamp,
        Op::Habit => TraitType::Text,
        Op::FirstValue | Op::LastValue | Op::MostFrequent => match rule.field_type {
            Some(PropertyType::Integer) => TraitType::Integer,
            Some(PropertyType::Money) => TraitType::Money,
            Some(PropertyType::Boolean) => TraitType::Boolean,
            Some(PropertyType::Text) | None => TraitType::Text,
        },
    }
}

/// Compiles a test on values of type `ty`.
fn compile_test(test: &Test, ty: TraitType, path: &str) -> Result<CTest, CompileError> {
    let check = |v: &Value| -> Result<Value, CompileError> {
        // A text set is compared by `contains` or by equality with a set.
        if v.trait_type() == ty {
            Ok(v.clone())
        } else {
            Err(fail(
                path,
                CompileProblem::TypeMismatch {
                    expected: ty.name(),
                    got: v.trait_type().name(),
                },
            ))
        }
    };
    let ordered = |name: &'static str| -> Result<(), CompileError> {
        if matches!(ty, TraitType::Boolean | TraitType::TextSet) {
            Err(fail(
                path,
                CompileProblem::Unsupported {
                    test: name,
                    ty: ty.name(),
                },
            ))
        } else {
            Ok(())
        }
    };
    Ok(match test {
        Test::Eq(v) => CTest::Eq(check(v)?),
        Test::In(values) => {
            if values.is_empty() {
                return Err(fail(path, CompileProblem::EmptyIn));
            }
            let mut vs = values.iter().map(check).collect::<Result<Vec<_>, _>>()?;
            vs.sort_unstable();
            vs.dedup();
            CTest::In(vs)
        }
        Test::Lt(v) | Test::Le(v) | Test::Gt(v) | Test::Ge(v) => {
            ordered("a comparison")?;
            let v = check(v)?;
            match test {
                Test::Lt(_) => CTest::Range {
                    min: None,
                    max: Some((v, false)),
                },
                Test::Le(_) => CTest::Range {
                    min: None,
                    max: Some((v, true)),
                },
                Test::Gt(_) => CTest::Range {
                    min: Some((v, false)),
                    max: None,
                },
                _ => CTest::Range {
                    min: Some((v, true)),
                    max: None,
                },
            }
        }
        Test::Between { min, max } => {
            ordered("between")?;
            CTest::Range {
                min: Some((check(min)?, true)),
                max: Some((check(max)?, true)),
            }
        }
        Test::Prefix(p) => {
            if ty != TraitType::Text {
                return Err(fail(
                    path,
                    CompileProblem::Unsupported {
                        test: "prefix",
                        ty: ty.name(),
                    },
                ));
            }
            CTest::Prefix(p.clone())
        }
        Test::Contains(item) => {
            if ty != TraitType::TextSet {
                return Err(fail(
                    path,
                    CompileProblem::Unsupported {
                        test: "contains",
                        ty: ty.name(),
                    },
                ));
            }
            CTest::Contains(item.clone())
        }
        Test::Exists => CTest::Exists,
        Test::Missing => CTest::Missing,
    })
}
