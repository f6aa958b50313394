//! [`Expr`]: the segment language, a serde AST with no references into the engine.
//!
//! In JSON an expression is tagged by its kind; optional fields may be left out (they
//! are written out in full, so any serde format, self-describing or not, reads them
//! back):
//!
//! ```
//! use audience::segment::{Expr, Test, event, trait_};
//! use audience::Window;
//! let json = r#"{"and": [
//!     {"trait": {"name": "country", "test": {"eq": {"text": "DE"}}}},
//!     {"event": {"kind": "order_completed", "window": {"last_days": 90}, "at_least": 3}}
//! ]}"#;
//! let parsed: Expr = serde_json::from_str(json)?;
//! let built = trait_("country").eq("DE").and(event("order_completed").in_window(Window::LastDays(90)).at_least(3));
//! assert_eq!(parsed, built);
//! # Ok::<(), serde_json::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::record::Value;
use crate::rfm::{Dimension, Direction};
use crate::schema::PropertyCondition;
use crate::time::Window;

/// A test on one value (a trait's current value, a computed trait, a sum).
///
/// Comparisons need a value of the tested value's type; `between` is inclusive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Test {
    /// Equal to the value.
    Eq(Value),
    /// Equal to one of the values (at least one).
    In(Vec<Value>),
    /// Less than.
    Lt(Value),
    /// At most.
    Le(Value),
    /// Greater than.
    Gt(Value),
    /// At least.
    Ge(Value),
    /// Within `min..=max`.
    Between {
        /// Least value.
        min: Value,
        /// Greatest value.
        max: Value,
    },
    /// A text that starts with the prefix.
    Prefix(String),
    /// A text set that contains the text.
    Contains(String),
    /// Has a value.
    Exists,
    /// Has no value.
    Missing,
}

/// Which events: a kind and conditions on its properties.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    /// The event kind.
    pub kind: String,
    /// Conditions on properties, all of which must hold (`category in ["jazz"]`).
    #[serde(default, rename = "where")]
    pub conditions: Vec<PropertyCondition>,
}

/// "Did K (where …) in the window, at least / at most k times, with a sum of a property
/// passing a test". With no bounds it means "at least once".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventCond {
    /// The event kind.
    pub kind: String,
    /// Conditions on properties.
    #[serde(default, rename = "where")]
    pub conditions: Vec<PropertyCondition>,
    /// The window (default: ever).
    #[serde(default = "ever")]
    pub window: Window,
    /// At least this many matching events (default 1 when no other bound is given).
    #[serde(default)]
    pub at_least: Option<u64>,
    /// At most this many matching events.
    #[serde(default)]
    pub at_most: Option<u64>,
    /// The sum of an integer or money property over the matching events passes a test.
    #[serde(default)]
    pub sum: Option<SumTest>,
}

fn ever() -> Window {
    Window::Ever
}

/// A test on the sum of a property over the matching events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SumTest {
    /// The integer or money property.
    pub property: String,
    /// The test (a comparison with an integer or money value).
    pub test: Test,
}

/// A sequence of two events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Sequence {
    /// Did `first` in the window, and no `then` at or after the last such `first` — the
    /// abandoned-cart shape ("a cart this week and no order since").
    NoneSince {
        /// The event that must have happened.
        first: EventSpec,
        /// Where the last `first` must lie.
        window: Window,
        /// The event that must not have followed.
        then: EventSpec,
    },
    /// Did `first` in the window, then `then` (a later event) within `within_days` days of it.
    Then {
        /// The first event.
        first: EventSpec,
        /// Where `first` must lie.
        window: Window,
        /// The event that followed.
        then: EventSpec,
        /// The most days between the two.
        within_days: u32,
    },
}

/// A condition on RFM scores.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RfmCond {
    /// The latest run's score of `dimension` lies in `min..=max`.
    Score {
        /// The model.
        model: String,
        /// The dimension.
        dimension: Dimension,
        /// Least score.
        min: u8,
        /// Greatest score.
        max: u8,
    },
    /// A member of the model's named RFM segment.
    Segment {
        /// The model.
        model: String,
        /// The segment's name.
        name: String,
    },
    /// The score of `dimension` moved this way between the previous and the latest run.
    Trend {
        /// The model.
        model: String,
        /// The dimension.
        dimension: Dimension,
        /// The direction.
        direction: Direction,
    },
}

/// A deterministic sample: profiles whose bucket `mix64(key ^ seed) % 100` lies in
/// `from..to`. The key is the profile id (stable for the survivor of a merge), or with
/// `key_kind` the smallest value of that identifier kind on the profile: a canonical
/// decimal `u64` is the key itself, any other value its xxHash64 (seed 0).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleCond {
    /// The seed.
    pub seed: u64,
    /// First bucket (0..=100).
    pub from: u8,
    /// End bucket, exclusive (0..=100, at least `from`).
    pub to: u8,
    /// The identifier kind whose smallest value is the key (default: the profile id).
    #[serde(default)]
    pub key_kind: Option<String>,
}

/// Which profiles a segment holds. Data, never code: names are resolved and types checked
/// when it is compiled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Expr {
    /// Every live profile.
    All,
    /// No profile.
    None,
    /// All of the children (`All` when empty).
    And(Vec<Expr>),
    /// Any of the children (`None` when empty).
    Or(Vec<Expr>),
    /// Live profiles not in the child.
    Not(Box<Expr>),
    /// A test on a trait's current value.
    Trait {
        /// The trait.
        name: String,
        /// The test.
        test: Test,
    },
    /// A test on a computed trait's current value.
    Computed {
        /// The computed trait.
        name: String,
        /// The test.
        test: Test,
    },
    /// A condition on events.
    Event(EventCond),
    /// A condition on two events in order.
    Sequence(Sequence),
    /// A condition on RFM scores.
    Rfm(RfmCond),
    /// Consent for a purpose on a channel is granted (see [`crate::privacy`] for how the
    /// state follows from the statements, the default and merges).
    Consent {
        /// The purpose.
        purpose: String,
        /// The channel.
        channel: String,
    },
    /// The profile has a suppression on the channel (or on every channel): on the
    /// profile itself or on one of its identifiers. With no channel: any suppression.
    /// Activation is finer: a suppressed identifier only withholds that address.
    Suppressed {
        /// The channel; `None` for any.
        #[serde(default)]
        channel: Option<String>,
    },
    /// A member of a named segment.
    Segment(String),
    /// A deterministic sample.
    Sample(SampleCond),
    /// A fixed set of profiles (a static segment, e.g. an imported audience): a profile
    /// is a member when its id, or the id of a profile merged into it, is in the set.
    /// Every id must have been handed out when the expression is compiled.
    Profiles(crate::segment::portable::ProfileSet),
}

impl Expr {
    /// `self AND other` (flattening nested `And`s).
    pub fn and(self, other: Expr) -> Expr {
        match self {
            Expr::And(mut children) => {
                children.push(other);
                Expr::And(children)
            }
            first => Expr::And(vec![first, other]),
        }
    }

    /// `self OR other` (flattening nested `Or`s).
    pub fn or(self, other: Expr) -> Expr {
        match self {
            Expr::Or(mut children) => {
                children.push(other);
                Expr::Or(children)
            }
            first => Expr::Or(vec![first, other]),
        }
    }

    /// `NOT self`.
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }
}

/// Starts a trait condition: `trait_("country").eq("DE")`.
pub fn trait_(name: &str) -> TraitBuilder {
    TraitBuilder {
        name: name.to_string(),
        computed: false,
    }
}

/// Starts a computed-trait condition: `computed("orders_90d").ge(3)`.
pub fn computed(name: &str) -> TraitBuilder {
    TraitBuilder {
        name: name.to_string(),
        computed: true,
    }
}

/// Half-built trait or computed-trait condition.
#[derive(Clone, Debug)]
pub struct TraitBuilder {
    name: String,
    computed: bool,
}

impl TraitBuilder {
    /// The condition with `test`.
    pub fn test(self, test: Test) -> Expr {
        if self.computed {
            Expr::Computed {
                name: self.name,
                test,
            }
        } else {
            Expr::Trait {
                name: self.name,
                test,
            }
        }
    }

    /// Equal to `v`.
    pub fn eq(self, v: impl Into<Value>) -> Expr {
        self.test(Test::Eq(v.into()))
    }

    /// One of `vs`.
    pub fn is_in<V: Into<Value>>(self, vs: impl IntoIterator<Item = V>) -> Expr {
        self.test(Test::In(vs.into_iter().map(Into::into).collect()))
    }

    /// Less than `v`.
    pub fn lt(self, v: impl Into<Value>) -> Expr {
        self.test(Test::Lt(v.into()))
    }

    /// At most `v`.
    pub fn le(self, v: impl Into<Value>) -> Expr {
        self.test(Test::Le(v.into()))
    }

    /// Greater than `v`.
    pub fn gt(self, v: impl Into<Value>) -> Expr {
        self.test(Test::Gt(v.into()))
    }

    /// At least `v`.
    pub fn ge(self, v: impl Into<Value>) -> Expr {
        self.test(Test::Ge(v.into()))
    }

    /// Within `min..=max`.
    pub fn between(self, min: impl Into<Value>, max: impl Into<Value>) -> Expr {
        self.test(Test::Between {
            min: min.into(),
            max: max.into(),
        })
    }

    /// A text starting with `prefix`.
    pub fn prefix(self, prefix: &str) -> Expr {
        self.test(Test::Prefix(prefix.to_string()))
    }

    /// A text set containing `item`.
    pub fn contains(self, item: &str) -> Expr {
        self.test(Test::Contains(item.to_string()))
    }

    /// Has a value.
    pub fn exists(self) -> Expr {
        self.test(Test::Exists)
    }

    /// Has no value.
    pub fn missing(self) -> Expr {
        self.test(Test::Missing)
    }
}

/// Starts an event condition: `event("order_completed").in_window(Window::LastDays(90)).at_least(3)`.
pub fn event(kind: &str) -> EventCond {
    EventCond {
        kind: kind.to_string(),
        conditions: Vec::new(),
        window: Window::Ever,
        at_least: None,
        at_most: None,
        sum: None,
    }
}

impl EventCond {
    /// Only events whose `property` is one of `values`.
    pub fn with(mut self, property: &str, values: Vec<Value>) -> Self {
        self.conditions.push(PropertyCondition {
            property: property.to_string(),
            values,
        });
        self
    }

    /// Only events in `window`.
    pub fn in_window(mut self, window: Window) -> Self {
        self.window = window;
        self
    }

    /// At least `k` matching events.
    pub fn at_least(mut self, k: u64) -> Expr {
        self.at_least = Some(k);
        Expr::Event(self)
    }

    /// At most `k` matching events (0: did not).
    pub fn at_most(mut self, k: u64) -> Expr {
        self.at_most = Some(k);
        Expr::Event(self)
    }

    /// At least one matching event.
    pub fn happened(self) -> Expr {
        Expr::Event(self)
    }

    /// The sum of `property` over the matching events passes `test`.
    pub fn sum(mut self, property: &str, test: Test) -> Expr {
        self.sum = Some(SumTest {
            property: property.to_string(),
            test,
        });
        Expr::Event(self)
    }
}

/// A deterministic `from..to` percent sample keyed by profile id.
pub fn sample(seed: u64, from: u8, to: u8) -> Expr {
    Expr::Sample(SampleCond {
        seed,
        from,
        to,
        key_kind: None,
    })
}

/// Consent for `purpose` on `channel` is granted.
pub fn consent(purpose: &str, channel: &str) -> Expr {
    Expr::Consent {
        purpose: purpose.to_string(),
        channel: channel.to_string(),
    }
}

/// A suppression applies on `channel` (or on every channel).
pub fn suppressed(channel: &str) -> Expr {
    Expr::Suppressed {
        channel: Some(channel.to_string()),
    }
}

/// Some suppression applies, on any channel.
pub fn suppressed_anywhere() -> Expr {
    Expr::Suppressed { channel: None }
}

/// Membership of the named segment `name`.
pub fn segment(name: &str) -> Expr {
    Expr::Segment(name.to_string())
}
