//! What an endpoint is sent: the client's request minus the sampling parameters the endpoint
//! does not support (OpenRouter ignores those silently rather than failing the request), with
//! `user` hashed so an end user's id never leaves the gateway in clear.

use sha2::{Digest, Sha256};
use std::borrow::Cow;
use switchyard_api::chat::ChatRequest;
use switchyard_api::embeddings::EmbeddingsRequest;

/// Optional knobs that are dropped when the endpoint does not list them. Tools, response
/// formats and the like are not here: whether to route on them is the router's decision.
const DROPPABLE_TYPED: &[&str] = &[
    "top_k",
    "repetition_penalty",
    "frequency_penalty",
    "presence_penalty",
    "seed",
    "logprobs",
    "top_logprobs",
    "reasoning",
];
const DROPPABLE_EXTRA: &[&str] = &[
    "min_p",
    "top_a",
    "logit_bias",
    "reasoning_effort",
    "verbosity",
];

fn unsupported(req: &ChatRequest, supported: &[String]) -> Vec<&'static str> {
    let has = |p: &str| supported.iter().any(|s| s == p);
    let mut out = Vec::new();
    let present = |name: &str| match name {
        "top_k" => req.top_k.is_some(),
        "repetition_penalty" => req.repetition_penalty.is_some(),
        "frequency_penalty" => req.frequency_penalty.is_some(),
        "presence_penalty" => req.presence_penalty.is_some(),
        "seed" => req.seed.is_some(),
        "logprobs" => req.logprobs.is_some(),
        "top_logprobs" => req.top_logprobs.is_some(),
        "reasoning" => req.reasoning.is_some() || req.include_reasoning.is_some(),
        _ => false,
    };
    for p in DROPPABLE_TYPED {
        if present(p) && !has(p) {
            out.push(*p);
        }
    }
    for p in DROPPABLE_EXTRA {
        if req.extra.contains_key(*p) && !has(p) && !(*p == "reasoning_effort" && has("reasoning"))
        {
            out.push(*p);
        }
    }
    out
}

pub fn hash_user(user: &str) -> String {
    let digest = Sha256::digest(user.as_bytes());
    format!("user-{}", hex::encode(&digest[..16]))
}

/// The request as `supported` (an endpoint's `supported_parameters`) allows. Borrowed when
/// nothing has to change, which is the common case.
pub fn for_endpoint<'a>(req: &'a ChatRequest, supported: &[String]) -> Cow<'a, ChatRequest> {
    let drop = unsupported(req, supported);
    if drop.is_empty() && req.user.is_none() {
        return Cow::Borrowed(req);
    }
    let mut r = req.clone();
    for p in drop {
        match p {
            "top_k" => r.top_k = None,
            "repetition_penalty" => r.repetition_penalty = None,
            "frequency_penalty" => r.frequency_penalty = None,
            "presence_penalty" => r.presence_penalty = None,
            "seed" => r.seed = None,
            "logprobs" => r.logprobs = None,
            "top_logprobs" => r.top_logprobs = None,
            "reasoning" => {
                r.reasoning = None;
                r.include_reasoning = None;
            }
            other => {
                r.extra.remove(other);
            }
        }
    }
    r.user = r.user.as_deref().map(hash_user);
    Cow::Owned(r)
}

/// An embeddings request as an endpoint is sent it: `encoding_format` and `input_type` only
/// where the endpoint lists them (elsewhere floats come back, which the gateway encodes as
/// asked), `user` hashed, or dropped where not listed. `dimensions` is always sent: a vector
/// of another width than asked for would be wrong without saying so.
pub fn embeddings_for_endpoint<'a>(
    req: &'a EmbeddingsRequest,
    supported: &[String],
) -> Cow<'a, EmbeddingsRequest> {
    let has = |p: &str| supported.iter().any(|s| s == p);
    let drop_format = req.encoding_format.is_some() && !has("encoding_format");
    let drop_type = req.input_type.is_some() && !has("input_type");
    if !drop_format && !drop_type && req.user.is_none() {
        return Cow::Borrowed(req);
    }
    let mut r = req.clone();
    if drop_format {
        r.encoding_format = None;
    }
    if drop_type {
        r.input_type = None;
    }
    r.user = if has("user") {
        r.user.as_deref().map(hash_user)
    } else {
        None
    };
    Cow::Owned(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_api::chat::parse_chat_request;

    fn params(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn drops_only_what_the_endpoint_does_not_support() {
        let req = parse_chat_request(
            br#"{"model":"m","messages":[{"role":"user","content":"x"}],"top_k":5,"seed":1,
                "temperature":0.2,"min_p":0.1,"my_vendor_flag":true,"reasoning":{"effort":"low"}}"#,
        )
        .expect("valid");
        let out = for_endpoint(&req, &params(&["temperature", "seed"]));
        assert_eq!(out.top_k, None);
        assert_eq!(out.seed, Some(1));
        assert_eq!(out.temperature, Some(0.2));
        assert_eq!(out.reasoning, None);
        assert!(!out.extra.contains_key("min_p"));
        assert!(
            out.extra.contains_key("my_vendor_flag"),
            "unknown fields are not ours to drop"
        );

        let all = params(&["top_k", "seed", "temperature", "min_p", "reasoning"]);
        assert!(matches!(for_endpoint(&req, &all), Cow::Borrowed(_)));
    }

    #[test]
    fn embeddings_keep_dimensions_and_drop_what_the_endpoint_lacks() {
        let req = switchyard_api::embeddings::parse_embeddings_request(
            br#"{"model":"m","input":"x","dimensions":8,"encoding_format":"base64",
                "input_type":"search_query","user":"alice@example.com"}"#,
        )
        .expect("valid");
        let bare = embeddings_for_endpoint(&req, &[]);
        assert_eq!(bare.dimensions, Some(8));
        assert_eq!(
            (&bare.encoding_format, &bare.input_type, &bare.user),
            (&None, &None, &None)
        );
        let full = embeddings_for_endpoint(
            &req,
            &params(&["dimensions", "encoding_format", "input_type", "user"]),
        );
        assert_eq!(full.encoding_format, req.encoding_format);
        assert_eq!(full.input_type, req.input_type);
        assert!(full
            .user
            .as_deref()
            .is_some_and(|u| u.starts_with("user-") && !u.contains("alice")));
        let plain =
            switchyard_api::embeddings::parse_embeddings_request(br#"{"model":"m","input":"x"}"#)
                .expect("valid");
        assert!(matches!(
            embeddings_for_endpoint(&plain, &[]),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn user_is_hashed_stably() {
        let req = parse_chat_request(br#"{"model":"m","messages":[{"role":"user","content":"x"}],"user":"alice@example.com"}"#)
            .expect("valid");
        let a = for_endpoint(&req, &[]).user.clone().unwrap_or_default();
        let b = for_endpoint(&req, &[]).user.clone().unwrap_or_default();
        assert_eq!(a, b);
        assert!(a.starts_with("user-") && !a.contains("alice"));
    }
}
