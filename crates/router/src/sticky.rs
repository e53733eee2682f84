//! Sticky routing for prompt caching: follow-up requests of one conversation stay on the
//! endpoint that served it (while it offers cheaper cache reads), for 10 minutes of
//! inactivity, so the provider's prompt cache is actually hit.

use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::Mutex;
use std::time::Duration;
use switchyard_api::chat::{ChatRequest, Content, Message, Role};
use tokio::time::Instant;

pub const STICKY_TTL: Duration = Duration::from_secs(600);
const MAX_ENTRIES: usize = 100_000;

/// The conversation a request belongs to: `session_id`, the `x-session-id` header,
/// `prompt_cache_key`, or else a hash of the first system and first non-system message.
///
/// The hash reads the messages' text where it lies (no copy), with a hasher that takes
/// words at a time: a 300k-token prompt is hashed in well under a millisecond. It need only
/// be stable within the process (the table is not shared), and is no security boundary.
pub fn conversation_key(req: &ChatRequest, header: Option<&str>) -> Option<String> {
    if let Some(s) = req
        .session_id
        .as_deref()
        .or(header)
        .filter(|s| !s.is_empty())
    {
        return Some(format!("s:{s}"));
    }
    if let Some(k) = req.extra.get("prompt_cache_key").and_then(|v| v.as_str()) {
        return Some(format!("k:{k}"));
    }
    let system = req
        .messages
        .iter()
        .find(|m| matches!(m.role, Role::System | Role::Developer));
    let first = req
        .messages
        .iter()
        .find(|m| !matches!(m.role, Role::System | Role::Developer))?;
    let mut h = rustc_hash::FxHasher::default();
    if let Some(m) = system {
        hash_text(&mut h, m);
    }
    h.write_u8(0x1f);
    hash_text(&mut h, first);
    Some(format!("h:{:016x}", h.finish()))
}

/// The message's text, part after part. (Chunked writes hash differently from one joined
/// write: a conversation is recognised by the same text in the same shape, which is what a
/// client sends on every turn.)
fn hash_text(h: &mut impl Hasher, m: &Message) {
    match &m.content {
        None => {}
        Some(Content::Text(t)) => h.write(t.as_bytes()),
        Some(Content::Parts(parts)) => {
            for t in parts.iter().filter_map(|p| p.text.as_deref()) {
                h.write(t.as_bytes());
            }
        }
    }
}

/// (model, conversation) → (endpoint index, last use).
#[derive(Debug, Default)]
pub struct StickyTable {
    map: Mutex<HashMap<(String, String), (usize, Instant)>>,
}

impl StickyTable {
    pub fn get(&self, model: &str, key: &str) -> Option<usize> {
        let now = Instant::now();
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&(model.to_string(), key.to_string()))
            .filter(|(_, at)| now.duration_since(*at) < STICKY_TTL)
            .map(|(ep, _)| *ep)
    }

    pub fn put(&self, model: &str, key: &str, endpoint: usize) {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, (_, at)| now.duration_since(*at) < STICKY_TTL);
        }
        map.insert((model.to_string(), key.to_string()), (endpoint, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_api::chat::parse_chat_request;

    #[test]
    fn keys_prefer_explicit_sessions_then_hash_the_opening() {
        let a = parse_chat_request(
            br#"{"messages":[{"role":"system","content":"S"},{"role":"user","content":"Q1"}]}"#,
        )
        .expect("valid");
        let b = parse_chat_request(
            br#"{"messages":[{"role":"system","content":"S"},{"role":"user","content":"Q1"},
                {"role":"assistant","content":"A"},{"role":"user","content":"Q2"}]}"#,
        )
        .expect("valid");
        assert_eq!(
            conversation_key(&a, None),
            conversation_key(&b, None),
            "same conversation"
        );
        let c = parse_chat_request(
            br#"{"messages":[{"role":"user","content":"other"}],"session_id":"abc"}"#,
        )
        .expect("valid");
        assert_eq!(conversation_key(&c, Some("hdr")).as_deref(), Some("s:abc"));
        let d = parse_chat_request(
            br#"{"messages":[{"role":"user","content":"x"}],"prompt_cache_key":"pk"}"#,
        )
        .expect("valid");
        assert_eq!(conversation_key(&d, None).as_deref(), Some("k:pk"));
        assert_eq!(conversation_key(&d, Some("hdr")).as_deref(), Some("s:hdr"));
        // Another opening is another conversation.
        let e = parse_chat_request(
            br#"{"messages":[{"role":"system","content":"S"},{"role":"user","content":"Q2"}]}"#,
        )
        .expect("valid");
        assert_ne!(conversation_key(&a, None), conversation_key(&e, None));
    }

    #[tokio::test(start_paused = true)]
    async fn entries_expire_after_ten_idle_minutes() {
        let t = StickyTable::default();
        t.put("m", "k", 3);
        assert_eq!(t.get("m", "k"), Some(3));
        assert_eq!(t.get("other", "k"), None);
        tokio::time::advance(Duration::from_secs(599)).await;
        t.put("m", "k", 3);
        tokio::time::advance(Duration::from_secs(599)).await;
        assert_eq!(t.get("m", "k"), Some(3), "use refreshes it");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(t.get("m", "k"), None);
    }
}
