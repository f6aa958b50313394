//! Computed traits: values derived from a profile's events (counts and sums in windows,
//! first and last values, favourites, habits), declared in the schema and compiled here.
//!
//! ```
//! use audience::Window;
//! use audience::schema::{Computation, ComputedDef, EventFilter, Field};
//! let orders_90d = ComputedDef::new("orders_90d", EventFilter::kind("order_completed"), Computation::Count)
//!     .window(Window::LastDays(90));
//! let favourite = ComputedDef::new("favourite_kind", EventFilter::any(), Computation::MostFrequent { field: Field::Kind });
//! # let _ = (orders_90d, favourite);
//! ```

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::error::{ComputedProblem, SchemaError};
use crate::hash::FastMap;
use crate::ids::{EventKindId, TraitId};
use crate::money::Currency;
use crate::record::Value;
use crate::schema::{PropertyType, SchemaDef, TraitType};
use crate::time::Window;

/// Which events a computed trait reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFilter {
    /// Event kinds; empty means every kind.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Conditions on properties, all of which must hold.
    #[serde(default, rename = "where")]
    pub conditions: Vec<PropertyCondition>,
}

impl EventFilter {
    /// Every event.
    pub fn any() -> Self {
        EventFilter::default()
    }

    /// Events of one kind.
    pub fn kind(kind: &str) -> Self {
        EventFilter {
            kinds: vec![kind.to_string()],
            conditions: Vec::new(),
        }
    }

    /// Adds a condition: the event has `property` with one of `values`.
    pub fn with(mut self, property: &str, values: Vec<Value>) -> Self {
        self.conditions.push(PropertyCondition {
            property: property.to_string(),
            values,
        });
        self
    }
}

/// An event property equal to one of a set of values (`category in ["jazz", "soul"]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyCondition {
    /// The property.
    pub property: String,
    /// The accepted values.
    pub values: Vec<Value>,
}

/// What a favourite, first/last value or distinct count looks at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The event kind's name.
    Kind,
    /// A property's value.
    Property(String),
}

/// How a computed trait turns the matching events of its window into a value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Computation {
    /// Number of events.
    Count,
    /// Sum of an integer or money property (0 with no events).
    Sum {
        /// The property.
        property: String,
    },
    /// Sum of `property` over the matching events minus the sum of `subtract_property`
    /// over the events `subtract` matches in the same window: net revenue is orders minus
    /// refunds.
    Net {
        /// The property added.
        property: String,
        /// The events subtracted.
        subtract: EventFilter,
        /// The property subtracted.
        subtract_property: String,
    },
    /// Smallest value of an integer or money property.
    Min {
        /// The property.
        property: String,
    },
    /// Largest value of an integer or money property.
    Max {
        /// The property.
        property: String,
    },
    /// Mean of an integer or money property, rounded to the nearest integer (minor unit),
    /// halves away from zero.
    Average {
        /// The property.
        property: String,
    },
    /// The value of the earliest event that has the field.
    FirstValue {
        /// What to read.
        field: Field,
    },
    /// The value of the latest event that has the field.
    LastValue {
        /// What to read.
        field: Field,
    },
    /// The time of the earliest event.
    FirstTime,
    /// The time of the latest event.
    LastTime,
    /// Whole days from the latest event to now.
    DaysSince,
    /// The most frequent value; ties go to the value seen most recently, then to the
    /// smallest value.
    MostFrequent {
        /// What to count.
        field: Field,
    },
    /// Number of distinct values.
    DistinctCount {
        /// What to count.
        field: Field,
    },
    /// Events by part of day (night 0–6 h, morning 6–12 h, afternoon 12–18 h, evening
    /// 18–24 h) in the time zone held by `time_zone_trait` (an IANA name such as
    /// `Europe/Paris`), or UTC when the profile has none.
    Habit {
        /// A text trait holding the profile's IANA time zone.
        #[serde(default)]
        time_zone_trait: Option<String>,
    },
}

/// A computed trait: a name, the events it reads, a window and a computation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputedDef {
    /// The name, unique among traits and computed traits.
    pub name: String,
    /// The events it reads.
    #[serde(default)]
    pub events: EventFilter,
    /// The window, relative to the engine clock (default: ever).
    #[serde(default = "ever")]
    pub window: Window,
    /// The computation.
    pub computation: Computation,
    /// The currency of money computations; events in another currency are refused.
    #[serde(default)]
    pub currency: Option<Currency>,
}

fn ever() -> Window {
    Window::Ever
}

impl ComputedDef {
    /// A computed trait over all time.
    pub fn new(name: &str, events: EventFilter, computation: Computation) -> Self {
        ComputedDef {
            name: name.to_string(),
            events,
            window: Window::Ever,
            computation,
            currency: None,
        }
    }

    /// Sets the window.
    pub fn window(mut self, window: Window) -> Self {
        self.window = window;
        self
    }

    /// Sets the currency of a money computation.
    pub fn currency(mut self, currency: Currency) -> Self {
        self.currency = Some(currency);
        self
    }
}

/// What a compiled computed trait does with the events it reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Count,
    Sum,
    Min,
    Max,
    Average,
    FirstValue,
    LastValue,
    FirstTime,
    LastTime,
    DaysSince,
    MostFrequent,
    DistinctCount,
    Habit,
}

/// One way an event kind feeds a computed trait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Term {
    /// The property read, by position (`None`: the kind itself, or nothing to read).
    pub(crate) property: Option<u16>,
    /// Conditions: (property position, accepted values).
    pub(crate) conditions: SmallVec<[(u16, Vec<Value>); 1]>,
    /// Whether the value is subtracted (the `subtract` side of `Net`).
    pub(crate) negate: bool,
}

/// A computed trait resolved against the schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ComputedRule {
    pub(crate) op: Op,
    pub(crate) window: Window,
    /// Per event kind (by id): the terms it feeds.
    pub(crate) terms: Vec<SmallVec<[Term; 1]>>,
    /// Whether the values read are money (then `currency` is set).
    pub(crate) money: bool,
    pub(crate) currency: Option<Currency>,
    /// Habit: the trait holding the time zone.
    pub(crate) time_zone: Option<TraitId>,
    /// The type of the property read (`None`: the event kind, or nothing).
    pub(crate) field_type: Option<PropertyType>,
}

impl ComputedRule {
    /// The terms event kind `kind` feeds.
    pub(crate) fn terms(&self, kind: EventKindId) -> &[Term] {
        self.terms.get(kind.index()).map_or(&[], |t| t.as_slice())
    }
}

fn problem(name: &str, problem: ComputedProblem) -> SchemaError {
    SchemaError::Computed {
        name: name.to_string(),
        problem,
    }
}

/// What one computed trait's compilation collects.
struct Resolution<'a> {
    def: &'a SchemaDef,
    kinds: &'a FastMap<String, u16>,
    name: &'a str,
    terms: Vec<SmallVec<[Term; 1]>>,
    types: Vec<PropertyType>,
}

/// Resolves one filter into terms per kind.
fn resolve_filter(
    r: &mut Resolution<'_>,
    filter: &EventFilter,
    field: Option<&Field>,
    negate: bool,
) -> Result<(), SchemaError> {
    let (def, kinds, name) = (r.def, r.kinds, r.name);
    let (terms, types) = (&mut r.terms, &mut r.types);
    let mut chosen: Vec<usize> = Vec::new();
    for k in &filter.kinds {
        let id = kinds
            .get(k)
            .ok_or_else(|| problem(name, ComputedProblem::UnknownEventKind(k.clone())))?;
        chosen.push(usize::from(*id));
    }
    let all = chosen.is_empty();
    if all {
        chosen = (0..def.event_kinds.len()).collect();
    }
    for index in chosen {
        let Some(kind) = def.event_kinds.get(index) else {
            continue;
        };
        let position = |property: &str| -> Option<(u16, PropertyType)> {
            let i = kind.properties.iter().position(|p| p.name == property)?;
            Some((u16::try_from(i).ok()?, kind.properties.get(i)?.ty))
        };
        let missing = |property: &str| {
            problem(
                name,
                ComputedProblem::UnknownProperty {
                    kind: kind.name.clone(),
                    property: property.to_string(),
                },
            )
        };
        let property = match field {
            None | Some(Field::Kind) => None,
            Some(Field::Property(p)) => match position(p) {
                Some((pos, ty)) => {
                    types.push(ty);
                    Some(pos)
                }
                // With every kind selected, kinds without the property simply do not feed it.
                None if all => continue,
                None => return Err(missing(p)),
            },
        };
        let mut conditions = SmallVec::new();
        let mut usable = true;
        for c in &filter.conditions {
            match position(&c.property) {
                Some((pos, ty)) => {
                    if let Some(v) = c.values.iter().find(|v| !fits(v, ty)) {
                        return Err(problem(
                            name,
                            ComputedProblem::ConditionType {
                                property: c.property.clone(),
                                expected: ty.name(),
                                got: v.trait_type().name(),
                            },
                        ));
                    }
                    conditions.push((pos, c.values.clone()));
                }
                None if all => usable = false,
                None => return Err(missing(&c.property)),
            }
        }
        if let (true, Some(slot)) = (usable, terms.get_mut(index)) {
            slot.push(Term {
                property,
                conditions,
                negate,
            });
        }
    }
    Ok(())
}

fn fits(value: &Value, ty: PropertyType) -> bool {
    matches!(
        (value, ty),
        (Value::Text(_), PropertyType::Text)
            | (Value::Integer(_), PropertyType::Integer)
            | (Value::Money(_), PropertyType::Money)
            | (Value::Boolean(_), PropertyType::Boolean)
    )
}

/// Compiles every computed trait of `def`.
pub(crate) fn compile(
    def: &SchemaDef,
    kinds: &FastMap<String, u16>,
    traits: &FastMap<String, u16>,
) -> Result<Vec<ComputedRule>, SchemaError> {
    let mut rules = Vec::with_capacity(def.computed.len());
    for c in &def.computed {
        let name = c.name.as_str();
        if traits.contains_key(name) {
            return Err(SchemaError::DuplicateName {
                what: "trait or computed trait",
                name: name.to_string(),
            });
        }
        c.window
            .validate()
            .map_err(|_| problem(name, ComputedProblem::EmptyWindow))?;
        let mut r = Resolution {
            def,
            kinds,
            name,
            terms: vec![SmallVec::new(); def.event_kinds.len()],
            types: Vec::new(),
        };
        let (op, field, numeric) = match &c.computation {
            Computation::Count => (Op::Count, None, false),
            Computation::Sum { property } | Computation::Net { property, .. } => {
                (Op::Sum, Some(Field::Property(property.clone())), true)
            }
            Computation::Min { property } => {
                (Op::Min, Some(Field::Property(property.clone())), true)
            }
            Computation::Max { property } => {
                (Op::Max, Some(Field::Property(property.clone())), true)
            }
            Computation::Average { property } => {
                (Op::Average, Some(Field::Property(property.clone())), true)
            }
            Computation::FirstValue { field } => (Op::FirstValue, Some(field.clone()), false),
            Computation::LastValue { field } => (Op::LastValue, Some(field.clone()), false),
            Computation::FirstTime => (Op::FirstTime, None, false),
            Computation::LastTime => (Op::LastTime, None, false),
            Computation::DaysSince => (Op::DaysSince, None, false),
            Computation::MostFrequent { field } => (Op::MostFrequent, Some(field.clone()), false),
            Computation::DistinctCount { field } => (Op::DistinctCount, Some(field.clone()), false),
            Computation::Habit { .. } => (Op::Habit, None, false),
        };
        resolve_filter(&mut r, &c.events, field.as_ref(), false)?;
        if let Computation::Net {
            subtract,
            subtract_property,
            ..
        } = &c.computation
        {
            let field = Field::Property(subtract_property.clone());
            resolve_filter(&mut r, subtract, Some(&field), true)?;
        }
        let Resolution {
            terms, mut types, ..
        } = r;
        types.sort_unstable_by_key(|t| t.name());
        types.dedup();
        if types.len() > 1 {
            return Err(problem(name, ComputedProblem::MixedTypes));
        }
        let money = types.first() == Some(&PropertyType::Money);
        if numeric {
            match types.first() {
                Some(PropertyType::Integer | PropertyType::Money) => {}
                Some(other) => {
                    return Err(problem(
                        name,
                        ComputedProblem::NotNumeric { got: other.name() },
                    ));
                }
                None => return Err(problem(name, ComputedProblem::NoEvents)),
            }
        }
        if money && c.currency.is_none() {
            return Err(problem(name, ComputedProblem::MissingCurrency));
        }
        if !money && c.currency.is_some() {
            return Err(problem(name, ComputedProblem::CurrencyWithoutMoney));
        }
        let time_zone = match &c.computation {
            Computation::Habit {
                time_zone_trait: Some(t),
            } => {
                let id = traits
                    .get(t)
                    .ok_or_else(|| problem(name, ComputedProblem::UnknownTrait(t.clone())))?;
                let is_text = def
                    .traits
                    .get(usize::from(*id))
                    .is_some_and(|d| d.ty == TraitType::Text);
                if !is_text {
                    return Err(problem(name, ComputedProblem::TimeZoneNotText(t.clone())));
                }
                Some(TraitId(*id))
            }
            _ => None,
        };
        rules.push(ComputedRule {
            op,
            window: c.window,
            terms,
            money,
            currency: c.currency,
            time_zone,
            field_type: match field {
                Some(Field::Property(_)) => types.first().copied(),
                _ => None,
            },
        });
    }
    Ok(rules)
}
