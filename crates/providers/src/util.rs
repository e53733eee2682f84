use switchyard_api::chat::FinishReason;

pub(crate) fn join_url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// OpenAI's words, and the loose variants some compatible servers use.
pub(crate) fn openai_finish_reason(native: &str) -> FinishReason {
    match native {
        "length" | "max_tokens" => FinishReason::Length,
        "tool_calls" | "function_call" | "tool_use" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        "error" => FinishReason::Error,
        _ => FinishReason::Stop,
    }
}

/// The first 2 KB of an upstream error body, for logs and `metadata.raw`.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    match s.char_indices().nth(2048) {
        Some((i, _)) => s[..i].to_string(),
        None => s.into_owned(),
    }
}

/// A tool call's JSON `arguments` as a value, for protocols that take an object (an empty
/// string means no arguments). Bad JSON is the client's error, naming the message.
pub(crate) fn tool_arguments(
    i: usize,
    call: &switchyard_api::chat::ToolCall,
) -> Result<serde_json::Value, crate::ProviderError> {
    if call.function.arguments.trim().is_empty() {
        return Ok(serde_json::json!({}));
    }
    serde_json::from_str(&call.function.arguments).map_err(|e| {
        crate::ProviderError::Unsupported(format!(
            "messages[{i}].tool_calls: arguments of `{}` are not valid JSON: {e}",
            call.function.name
        ))
    })
}

/// The vectors of an embeddings answer in input order: `items` are (input index, values) as
/// the upstream sent them, checked to cover each of the `n` inputs exactly once with finite
/// values, since a vector given to the wrong input would be silently wrong for the client.
pub(crate) fn vectors_in_order(
    n: usize,
    items: impl IntoIterator<Item = (usize, Vec<f32>)>,
) -> Result<Vec<Vec<f32>>, crate::ProviderError> {
    use crate::ProviderError::Decode;
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; n];
    for (at, values) in items {
        if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
            return Err(Decode(format!(
                "the embedding of input {at} is empty or not finite"
            )));
        }
        let slot = slots.get_mut(at).ok_or_else(|| {
            Decode(format!(
                "an embedding for input {at}, but the request had {n} inputs"
            ))
        })?;
        if slot.replace(values).is_some() {
            return Err(Decode(format!("two embeddings for input {at}")));
        }
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(i, s)| s.ok_or_else(|| Decode(format!("no embedding for input {i}"))))
        .collect()
}
