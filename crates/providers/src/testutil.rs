//! Helpers for the fixture-driven unit tests.

use crate::sse::SseDecoder;
use crate::{Decoder, ProviderError, StreamEvent};
use std::path::PathBuf;

pub struct Cassette {
    pub request_body: String,
    pub response_body: String,
}

/// Loads a go-vcr cassette recorded against api.openai.com (fixtures/openai__NAME.yaml).
pub fn cassette(name: &str) -> Cassette {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(format!("openai__{name}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let inter = &doc["interactions"][0];
    Cassette {
        request_body: inter["request"]["body"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        response_body: inter["response"]["body"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    }
}

/// A vercel/ai `*.chunks.txt` fixture (one JSON payload per line) as SSE; Anthropic's needs
/// the `event:` line too, OpenAI-compatible ones end with `[DONE]`.
pub fn chunks_as_sse(chunks: &str, with_event_names: bool) -> String {
    let mut out = String::new();
    for line in chunks.lines().filter(|l| !l.trim().is_empty()) {
        if with_event_names {
            let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            out.push_str(&format!("event: {}\n", v["type"].as_str().unwrap_or("")));
        }
        out.push_str(&format!("data: {line}\n\n"));
    }
    if !with_event_names {
        out.push_str("data: [DONE]\n\n");
    }
    out
}

/// Runs a decoder over a whole SSE transcript, fed in small uneven pieces.
pub fn run_decoder(d: &mut dyn Decoder, sse: &str) -> Result<Vec<StreamEvent>, ProviderError> {
    let mut sse_dec = SseDecoder::new();
    let mut out = Vec::new();
    let mut events = Vec::new();
    for piece in sse.as_bytes().chunks(37) {
        events.clear();
        sse_dec.push(piece, &mut events)?;
        for ev in &events {
            if d.is_done() {
                break;
            }
            out.extend(d.event(ev)?);
        }
    }
    if let Some(ev) = sse_dec.finish()? {
        out.extend(d.event(&ev)?);
    }
    Ok(out)
}

/// A small JSON Schema checker, enough for the providers' published request schemas:
/// `$ref`, `type` (incl. arrays of types), `properties`, `required`,
/// `additionalProperties: false`, `enum`, `const`, `items`, `anyOf` / `oneOf` / `allOf`,
/// `minimum`. Returns the paths that do not conform.
pub struct SchemaSet {
    pub schemas: serde_json::Map<String, serde_json::Value>,
}

impl SchemaSet {
    pub fn validate(&self, root: &str, v: &serde_json::Value) -> Vec<String> {
        let mut errs = Vec::new();
        let schema = serde_json::json!({"$ref": format!("#/components/schemas/{root}")});
        self.check(&schema, v, "$", &mut errs);
        errs
    }

    fn check(
        &self,
        s: &serde_json::Value,
        v: &serde_json::Value,
        at: &str,
        errs: &mut Vec<String>,
    ) {
        use serde_json::Value;
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let name = r.rsplit('/').next().unwrap_or_default();
            match self.schemas.get(name) {
                Some(target) => self.check(target, v, at, errs),
                None => errs.push(format!("{at}: unknown schema {name}")),
            }
            return;
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(opts) = s.get(key).and_then(Value::as_array) {
                let ok = opts.iter().any(|o| {
                    let mut e = Vec::new();
                    self.check(o, v, at, &mut e);
                    e.is_empty()
                });
                if !ok {
                    // Report the closest alternative: the one with the fewest complaints.
                    let best = opts
                        .iter()
                        .map(|o| {
                            let mut e = Vec::new();
                            self.check(o, v, at, &mut e);
                            e
                        })
                        .min_by_key(|e| e.len())
                        .unwrap_or_default();
                    errs.push(format!(
                        "{at}: matches no {key} alternative ({})",
                        best.join("; ")
                    ));
                }
            }
        }
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for o in all {
                self.check(o, v, at, errs);
            }
        }
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Value::String(x) => vec![x.as_str()],
                Value::Array(xs) => xs.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            let fits = |ty: &str| match ty {
                "object" => v.is_object(),
                "array" => v.is_array(),
                "string" => v.is_string(),
                "integer" => v.is_i64() || v.is_u64(),
                "number" => v.is_number(),
                "boolean" => v.is_boolean(),
                "null" => v.is_null(),
                _ => true,
            };
            if !types.is_empty() && !types.iter().any(|t| fits(t)) {
                errs.push(format!("{at}: expected {types:?}, got {v}"));
                return;
            }
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array) {
            if !e.contains(v) {
                errs.push(format!("{at}: {v} not in {e:?}"));
            }
        }
        if let Some(c) = s.get("const") {
            if c != v {
                errs.push(format!("{at}: {v} is not {c}"));
            }
        }
        if let (Some(min), Some(n)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64()) {
            if n < min {
                errs.push(format!("{at}: {n} < {min}"));
            }
        }
        if let Value::Object(obj) = v {
            let props = s.get("properties").and_then(Value::as_object);
            for req in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(k) = req.as_str() {
                    if !obj.contains_key(k) {
                        errs.push(format!("{at}: missing required `{k}`"));
                    }
                }
            }
            for (k, val) in obj {
                match props.and_then(|p| p.get(k)) {
                    Some(ps) => self.check(ps, val, &format!("{at}.{k}"), errs),
                    None => {
                        if s.get("additionalProperties") == Some(&Value::Bool(false)) {
                            errs.push(format!("{at}: unknown field `{k}`"));
                        }
                    }
                }
            }
        }
        if let (Value::Array(items), Some(is)) = (v, s.get("items")) {
            for (i, item) in items.iter().enumerate() {
                self.check(is, item, &format!("{at}[{i}]"), errs);
            }
        }
    }
}

/// Field names (as proto3 JSON, lowerCamelCase) and their types, per proto message.
pub struct ProtoSet {
    pub messages: std::collections::HashMap<String, std::collections::HashMap<String, String>>,
}

fn lower_camel(snake: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in snake.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

impl ProtoSet {
    pub fn parse(sources: &[&str]) -> ProtoSet {
        let mut messages = std::collections::HashMap::new();
        for src in sources {
            let mut stack: Vec<(String, usize)> = Vec::new();
            let mut depth = 0usize;
            for raw in src.lines() {
                let line = raw.split("//").next().unwrap_or_default().trim();
                if let Some(rest) = line.strip_prefix("message ") {
                    let name = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    stack.push((name.clone(), depth));
                    messages
                        .entry(name)
                        .or_insert_with(std::collections::HashMap::new);
                } else if let (Some((msg, _)), false) = (
                    stack.last(),
                    line.starts_with("enum ")
                        || line.starts_with("oneof ")
                        || line.starts_with("reserved"),
                ) {
                    let words: Vec<&str> = line.split_whitespace().collect();
                    let words: Vec<&str> = words
                        .into_iter()
                        .filter(|w| *w != "repeated" && *w != "optional")
                        .collect();
                    if words.len() >= 4
                        && words[2] == "="
                        && words[1]
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    {
                        let ty = words[0].rsplit('.').next().unwrap_or_default().to_string();
                        if let Some(fields) = messages.get_mut(msg) {
                            fields.insert(lower_camel(words[1]), ty);
                        }
                    }
                }
                depth += line.matches('{').count();
                depth = depth.saturating_sub(line.matches('}').count());
                while stack.last().is_some_and(|(_, d)| depth <= *d) {
                    stack.pop();
                }
            }
        }
        ProtoSet { messages }
    }

    /// Paths in `v` that are not fields of `message` (recursing into message-typed fields;
    /// `Value` / `Struct` fields are free-form).
    pub fn unknown_fields(&self, message: &str, v: &serde_json::Value, at: &str) -> Vec<String> {
        let mut out = Vec::new();
        let Some(fields) = self.messages.get(message) else {
            return out;
        };
        match v {
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    out.extend(self.unknown_fields(message, item, &format!("{at}[{i}]")));
                }
            }
            serde_json::Value::Object(obj) => {
                for (k, val) in obj {
                    match fields.get(k) {
                        None => out.push(format!("{at}.{k} is not a field of {message}")),
                        Some(ty) if self.messages.contains_key(ty) => {
                            out.extend(self.unknown_fields(ty, val, &format!("{at}.{k}")))
                        }
                        Some(_) => {}
                    }
                }
            }
            _ => {}
        }
        out
    }
}
