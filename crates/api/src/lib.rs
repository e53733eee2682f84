//! Wire types only: no I/O. Everything a client or an upstream puts on the wire is typed here,
//! so that adapters convert between typed structs rather than loose JSON.
//!
//! - [`chat`]: OpenAI Chat Completions with OpenRouter's extensions (the canonical form).
//! - [`completions`]: legacy `POST /completions` (a prompt in, text out).
//! - [`embeddings`]: `POST /embeddings`, OpenAI's shape with OpenRouter's `provider`.
//! - [`models`]: the catalogue as `GET /models` and `GET /models/{author}/{slug}/endpoints` show it.
//! - [`error`]: the error envelope.
//! - [`money`]: exact amounts of USD.
//! - [`routing`]: the `provider` preferences object.

pub mod anthropic;
pub mod chat;
pub mod completions;
pub mod embeddings;
pub mod error;
pub mod models;
pub mod money;
pub mod responses;
pub mod routing;

pub use money::{DecimalString, Money};
