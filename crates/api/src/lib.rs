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

/// A string or a list: the two forms several wire fields take (Anthropic's message content
/// and system prompt, the Responses API's `input` and message content), as `text` or `list`
/// of it. Written out rather than `#[serde(untagged)]`, which would answer a bad element deep
/// in a list with "did not match any variant" instead of naming the element and its field.
pub(crate) fn text_or_list<'de, D, T, O>(
    d: D,
    expecting: &'static str,
    text: fn(String) -> O,
    list: fn(Vec<T>) -> O,
) -> Result<O, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    use serde::de::{Error, SeqAccess, Visitor};
    struct V<T, O> {
        expecting: &'static str,
        text: fn(String) -> O,
        list: fn(Vec<T>) -> O,
    }
    impl<'de, T: serde::Deserialize<'de>, O> Visitor<'de> for V<T, O> {
        type Value = O;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: Error>(self, s: &str) -> Result<O, E> {
            Ok((self.text)(s.to_string()))
        }
        fn visit_string<E: Error>(self, s: String) -> Result<O, E> {
            Ok((self.text)(s))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<O, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(256));
            while let Some(item) = seq.next_element()? {
                items.push(item);
            }
            Ok((self.list)(items))
        }
    }
    d.deserialize_any(V {
        expecting,
        text,
        list,
    })
}
