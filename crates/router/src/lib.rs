//! The catalogue (providers, models, endpoints, prices) and the planner that turns a request
//! into the ordered list of endpoints to try.
//!
//! - [`auto`]: the auto router (`switchyard/auto`): one model per request by its needs and difficulty.
//! - [`config`]: the TOML shape of a catalogue, as operators write it.
//! - [`catalog`]: the validated, in-memory catalogue the hot path reads, and its public JSON.
//! - [`health`]: live latency / throughput / uptime per endpoint, and the circuit breaker.
//! - [`pricing`]: exact cost of a generation from an endpoint's prices.
//! - [`plan`]: model resolution and endpoint ordering.

pub mod auto;
pub mod catalog;
pub mod config;
pub mod health;
pub mod plan;
pub mod pricing;
pub mod sticky;

pub use catalog::{Catalog, Endpoint, ModelEntry, Provider, Secret};
pub use config::{CatalogConfig, ConfigError};
pub use health::HealthBook;
pub use plan::{plan, plan_embeddings, Plan, PlanContext, PlanError, SkipReason, Skipped};
pub use pricing::{Cost, Prices};
pub use sticky::StickyTable;

/// The default catalogue shipped with the binary: real providers, activated by their keys.
pub const DEFAULT_CATALOG: &str = include_str!("../../../catalog/default.toml");
/// The demo catalogue: simulated providers only, for `serve --demo`.
pub const DEMO_CATALOG: &str = include_str!("../../../catalog/demo.toml");
