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

/// Parses a request body as `T`, naming the exact field at fault (`messages[0].role: unknown
/// variant …`), and refuses anything after the one JSON value (`{…} and then some` is not a
/// request). Every dialect's parser starts here.
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            format!("invalid request body: {inner}")
        } else {
            format!("invalid value for `{path}`: {inner}")
        }
    })?;
    de.end().map_err(|e| format!("invalid request body: {e}"))?;
    Ok(value)
}
