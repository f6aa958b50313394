//! When one machine is not enough: the same segment [`Plan`] as SQL for ClickHouse,
//! Spark SQL and DuckDB, over a documented table layout ([`SqlLayout`]), with the same
//! answers as the engine.
//!
//! [`Engine::to_sql`] writes a plan as two queries: the ids of the members, and their
//! count. Windows are relative to the engine clock (or a given instant,
//! [`Engine::to_sql_at`]); named segments become CTEs; sample buckets spell SplitMix64's
//! finalizer out in each dialect's wrapping 64-bit arithmetic. Text values are always
//! literals, escaped for the dialect; names are always quoted, and a name that cannot be
//! quoted safely is an error. What a dialect cannot express is an error naming it
//! ([`SqlError::Unsupported`]), never a query with other answers.
//!
//! [`Engine::sql_ddl`] writes the `CREATE TABLE` statements of the layout for a schema,
//! and [`Engine::write_sql_table`] writes the engine's own state in it, as JSON lines,
//! so the same data can be loaded anywhere and checked (`tests/sql/cross_check.py` does
//! so against DuckDB and chDB).
//!
//! ```
//! use audience::segment::{event, trait_};
//! use audience::sql::{Dialect, SqlLayout};
//! use audience::{Engine, Schema, Timestamp, Window};
//! let mut engine = Engine::new(Schema::retail_default());
//! engine.advance_time(Timestamp::from_secs(1_700_000_000)?)?;
//! let plan = engine.compile(
//!     &trait_("country").eq("DE").and(event("order_completed").in_window(Window::LastDays(90)).at_least(3)),
//! )?;
//! let sql = engine.to_sql(&plan, Dialect::DuckDb, &SqlLayout::default())?;
//! assert!(sql.count.starts_with("SELECT count(*)"));
//! assert!(sql.ids.contains("\"country\" = 'DE'"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod computed;
mod dialect;
mod layout;
mod tables;
mod translate;

pub use dialect::Dialect;
pub use layout::{SqlLayout, SqlTable};
pub use tables::{SqlColumn, SqlType};

use crate::engine::Engine;
use crate::segment::Plan;
use crate::time::Timestamp;

/// A plan as SQL: the members' ids (ascending), and their count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlQuery {
    /// `SELECT profile_id … ORDER BY profile_id`.
    pub ids: String,
    /// `SELECT count(*) AS n …`.
    pub count: String,
}

/// Why a plan, a layout or a table could not be written as SQL.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// The dialect has no way to express this part of the plan.
    #[error("{dialect} cannot express {what}", dialect = dialect.name())]
    Unsupported {
        /// What cannot be expressed.
        what: String,
        /// The dialect.
        dialect: Dialect,
    },
    /// A table or column name that cannot be quoted safely (empty, a control character,
    /// a quote or backslash).
    #[error("name {name:?} cannot be quoted safely")]
    UnsafeName {
        /// The name.
        name: String,
    },
    /// Two things of one table would have the same column.
    #[error("table {table:?} would have column {column:?} twice")]
    ColumnClash {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// The plan reads the clock and none is set or given.
    #[error("the plan reads the clock: set it with advance_time or give one")]
    ClockUnset,
    /// The plan names a segment that is no longer registered.
    #[error("the plan names segment {0}, which is no longer registered")]
    UnknownSegment(usize),
    /// Writing a table failed.
    #[error("writing table {table}: {message}")]
    Write {
        /// The table.
        table: &'static str,
        /// The kind of I/O error.
        kind: std::io::ErrorKind,
        /// The I/O error's message.
        message: String,
    },
    /// The plan does not belong to this engine's schema.
    #[error("the plan does not fit this engine: {0}")]
    Internal(String),
}

impl Engine {
    /// `plan` as SQL in `dialect` over `layout`, with windows relative to the engine clock.
    ///
    /// # Errors
    /// [`SqlError::Unsupported`] for what the dialect cannot express (a time-of-day
    /// habit; a sample keyed by an identifier kind outside ClickHouse),
    /// [`SqlError::UnsafeName`] and [`SqlError::ColumnClash`] for the layout's names,
    /// [`SqlError::ClockUnset`] when a window needs the clock.
    pub fn to_sql(
        &self,
        plan: &Plan,
        dialect: Dialect,
        layout: &SqlLayout,
    ) -> Result<SqlQuery, SqlError> {
        self.check_sql_layout(layout)?;
        translate::write(self, plan, dialect, layout, None)
    }

    /// As [`Engine::to_sql`], with windows relative to `now` instead of the engine clock.
    ///
    /// # Errors
    /// As [`Engine::to_sql`].
    pub fn to_sql_at(
        &self,
        plan: &Plan,
        dialect: Dialect,
        layout: &SqlLayout,
        now: Timestamp,
    ) -> Result<SqlQuery, SqlError> {
        self.check_sql_layout(layout)?;
        translate::write(self, plan, dialect, layout, Some(now))
    }
}
