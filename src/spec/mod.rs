//! Segment-Spec messages in: `identify`, `track`, `page`, `screen`, `group` and `alias`
//! calls, as Segment, RudderStack, Jitsu and most analytics SDKs emit them, become
//! [`Record`](crate::Record)s (feature `spec`, on by default).
//!
//! A [`Mapping`] (serde, with a documented default) says which fields are identifiers,
//! which traits and event properties they fill and which event names are which kinds; a
//! [`SpecMapper`] resolves it against a schema once, and [`Engine::ingest_spec`] ingests one
//! message:
//!
//! ```
//! use audience::spec::{Mapping, SpecMapper};
//! use audience::{Currency, Engine, Money, Schema, Value};
//!
//! let schema = Schema::retail_default();
//! let mapper = SpecMapper::new(&schema, Mapping::default())?;
//! let mut engine = Engine::new(schema);
//! engine.ingest_spec(&mapper, r#"{"type": "track", "event": "Order Completed",
//!     "userId": "u1", "messageId": "m1", "timestamp": "2026-11-30T10:00:00Z",
//!     "properties": {"order_id": "o-1", "revenue": 12.99, "currency": "USD"}}"#)?;
//! let profile = engine.find("user_id", "u1")?.expect("linked");
//! let order = &engine.profile(profile)?.events[0];
//! assert_eq!(order.kind, "order_completed");
//! let amount = order.properties.iter().find(|(name, _)| name == "amount").map(|(_, v)| v);
//! assert_eq!(amount, Some(&Value::Money(Money::new(1_299, Currency::new("USD")?))));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What a message becomes:
//! - **Time.** `timestamp`, else `originalTimestamp`, else `receivedAt` (RFC 3339).
//!   `sentAt` is never the event time: it is when the client sent a batch, which may be
//!   hours after the events in it happened.
//! - **Identifiers.** `userId`, `anonymousId` (either may be `null`, or a number), the
//!   mapping's identifier traits (`traits.email`, `traits.phone`, …) from `traits` or
//!   `context.traits`, and an `alias` call's `previousId`. All of them go into one record,
//!   so they link under the schema's identity rules like any other record.
//! - **Traits.** From `traits` (top level first, then `context.traits`) and the mapping's
//!   `context` fields, typed by the schema: a money trait reads the number's text exactly.
//! - **Events.** `track` by name through the mapping (or a name that is itself an event
//!   kind), `page` and `screen` as the mapping's page and screen kinds, with their
//!   properties. Amounts (`revenue`, else `total`) become integer minor units from the
//!   number's text, never through `f64`, in `properties.currency` or the mapping's
//!   default; more decimals than the currency has is [`SpecProblem::BadAmount`] unless the
//!   mapping asks for [`Rounding::HalfEven`].
//! - **Consent.** `context.consent.categoryPreferences` and an `Unsubscribed` event become
//!   consent statements.
//! - **De-duplication.** `messageId` is the record's message id: a message seen before is
//!   reported as a duplicate and changes nothing.
//!
//! Every refusal is a [`SpecError`] with the message's `messageId` and what was wrong, and
//! leaves the engine as it was.

mod amount;
mod convert;
mod mapping;
mod message;
mod summary;

pub use amount::{AmountError, Rounding};
pub use convert::{MappingError, SpecError, SpecMapper, SpecProblem};
pub use mapping::{CategoryMapping, Mapping, UnknownEvents};
pub use summary::{ProfileSummary, summaries};

use crate::Engine;
use crate::engine::IngestReport;

impl Engine {
    /// Ingests one Segment-Spec message (a JSON object) through `mapper`.
    ///
    /// # Errors
    /// A [`SpecError`] for a message that cannot be mapped or whose record the engine
    /// refuses; the engine is then unchanged.
    pub fn ingest_spec(
        &mut self,
        mapper: &SpecMapper,
        line: &str,
    ) -> Result<IngestReport, SpecError> {
        let record = mapper.record(line)?;
        self.ingest(&record).map_err(|e| SpecError {
            message_id: record.message_id.clone(),
            problem: SpecProblem::Ingest(e),
        })
    }
}
