//! [`SqlLayout`]: the tables the generated SQL reads, and their names.
//!
//! | table | one row per | columns |
//! |---|---|---|
//! | `profiles` | live profile | `profile_id` (unsigned 64-bit), one column per trait that is not money: text → string, integer → 64-bit integer, boolean → boolean, timestamp → 64-bit milliseconds since the Unix epoch (UTC), text set → array of strings, sorted, without repeats; `NULL` when the profile has no value (ClickHouse arrays cannot be `NULL`: there an empty set and no set are one) |
//! | `trait_money` | money trait total of a profile | `profile_id`, `trait`, `minor` (64-bit minor units), `currency` (ISO 4217 code); a trait merged by `sum` has one row per currency, any other one row |
//! | `events` | event | `profile_id`, `kind`, `at` (milliseconds), `seq` (the event's rank in the profile's history: by time, then arrival), one column per property name (money: `<column>` minor units and `<column>_currency`); `NULL` when absent |
//! | `identifiers` | identifier | `profile_id`, `kind`, `value` (normalized) |
//! | `consent` | (profile, purpose, channel) | `profile_id`, `purpose`, `channel`, `granted`; a missing row means the purpose's default |
//! | `suppressions` | suppression | `profile_id`, `channel` (`NULL`: every channel); an identifier's suppression is written for the profile holding it |
//! | `rfm` | profile scored by a model's latest run | `profile_id`, `model`, `recency`, `frequency`, `monetary` (scores), `previous_recency`, `previous_frequency`, `previous_monetary` (the previous run's, `NULL` when not scored then) |
//! | `rfm_segments` | member of a named RFM segment | `profile_id`, `model`, `segment` |
//!
//! Table names and trait or property column names can be changed; the other column
//! names are fixed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The tables of the SQL layout (see the module documentation for their columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlTable {
    /// One row per live profile, with its traits.
    Profiles,
    /// One row per money trait total.
    TraitMoney,
    /// One row per event.
    Events,
    /// One row per identifier.
    Identifiers,
    /// Consent states that are not the default.
    Consent,
    /// Suppressions, by profile.
    Suppressions,
    /// Latest and previous RFM scores.
    Rfm,
    /// Named RFM segment memberships.
    RfmSegments,
}

impl SqlTable {
    /// Every table, in a fixed order.
    pub const ALL: [SqlTable; 8] = [
        SqlTable::Profiles,
        SqlTable::TraitMoney,
        SqlTable::Events,
        SqlTable::Identifiers,
        SqlTable::Consent,
        SqlTable::Suppressions,
        SqlTable::Rfm,
        SqlTable::RfmSegments,
    ];

    /// The table's default name.
    pub fn default_name(self) -> &'static str {
        match self {
            SqlTable::Profiles => "profiles",
            SqlTable::TraitMoney => "trait_money",
            SqlTable::Events => "events",
            SqlTable::Identifiers => "identifiers",
            SqlTable::Consent => "consent",
            SqlTable::Suppressions => "suppressions",
            SqlTable::Rfm => "rfm",
            SqlTable::RfmSegments => "rfm_segments",
        }
    }
}

/// Where the data lives: table names (default: [`SqlTable::default_name`]) and the
/// column of each trait and event property (default: its name).
///
/// ```
/// use audience::sql::{SqlLayout, SqlTable};
/// let layout = SqlLayout::default()
///     .table(SqlTable::Events, "analytics.events")
///     .column("country", "country_code");
/// assert_eq!(layout.table_name(SqlTable::Events), "analytics.events");
/// assert_eq!(layout.column_name("country"), "country_code");
/// assert_eq!(layout.column_name("plan"), "plan");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlLayout {
    /// Table names that differ from the default. A dotted name (`db.events`) is quoted
    /// part by part.
    #[serde(default)]
    pub tables: BTreeMap<SqlTable, String>,
    /// Trait or property name → column name, where they differ.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
}

impl SqlLayout {
    /// With `table` named `name`.
    pub fn table(mut self, table: SqlTable, name: &str) -> Self {
        self.tables.insert(table, name.to_string());
        self
    }

    /// With trait or property `name` in column `column`.
    pub fn column(mut self, name: &str, column: &str) -> Self {
        self.columns.insert(name.to_string(), column.to_string());
        self
    }

    /// The name of `table`.
    pub fn table_name(&self, table: SqlTable) -> &str {
        self.tables
            .get(&table)
            .map_or(table.default_name(), String::as_str)
    }

    /// The column of trait or property `name`.
    pub fn column_name<'a>(&'a self, name: &'a str) -> &'a str {
        self.columns.get(name).map_or(name, String::as_str)
    }
}
