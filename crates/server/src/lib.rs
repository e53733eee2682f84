//! The gateway as an axum application.
//!
//! - [`app`]: the router with its middleware, and `serve(listener, …)` (tests bind port 0
//!   and pass the listener in).
//! - [`state`]: `AppState`, composed of narrow handles: `RoutingState` (catalogue, health,
//!   sticky table, upstream client, routing settings, auto policy) and `BillingState`
//!   (accounts, ledger), plus what only the handlers need.
//! - [`routes`]: thin handlers: one generic inference handler (extract → decode → pipeline →
//!   render) for every chat-like dialect, embeddings, the model catalogue, the account API,
//!   health.
//! - [`dialects`]: one module per inbound API shape (`openai_chat`, `anthropic_messages`,
//!   `responses`, `completions`), each only conversions behind the `Dialect` trait: decode to
//!   the canonical request, render a whole answer, frame stream events, render errors.
//! - [`pipeline`]: the dialect-neutral pipeline: auto router, plan, reserve, attempt, settle;
//!   yields a whole `ChatResponse` or a stream of typed `Event`s, and writes no bytes.
//! - [`attempt`]: the attempt loop over the planned endpoints (fallback before the first token),
//!   on a `RoutingState`.
//! - [`stream`]: the streaming half of the pipeline (keep-alives, mid-stream failover, the
//!   settlement of a stream), run in a task that stops when the client goes away.
//! - [`forward`]: the request as one endpoint may see it (unsupported knobs dropped).
//! - [`shared`]: Redis, for reservations and rate limits shared by replicas.
//! - [`background`]: supervised background loops (restarted if they panic, shown in `/health`).
//! - [`settle`]: the one place a finished generation is priced and recorded, on a
//!   `BillingState`.
//! - [`accounts`]: keys, balances, reservations and rate limits, answered from memory.
//! - [`listener`]: the accept loop: connection cap, header-read and idle timeouts, the
//!   open-streams cap and the drain on shutdown.
//! - [`body`]: request bodies, read after the key check within a size cap and a deadline.
//! - [`auth`], [`config`], [`error`]: key format, the configuration file, the error envelope.

pub mod accounts;
pub mod app;
pub mod attempt;
pub mod auth;
pub mod background;
pub mod body;
pub mod config;
pub mod dialects;
pub mod error;
pub mod forward;
pub mod listener;
pub mod pipeline;
pub mod routes;
pub mod settle;
pub mod shared;
pub mod state;
pub mod stream;

pub use app::{build_router, serve};
pub use config::{Config, ConfigFile};
pub use error::GatewayError;
pub use state::{AppState, BillingState, RoutingState};
