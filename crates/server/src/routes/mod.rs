pub mod chat;
pub mod manage;
pub mod models;

use crate::error::GatewayError;
use axum::response::IntoResponse;
use rand::Rng;

pub async fn health() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}

pub async fn not_found() -> GatewayError {
    GatewayError::NotFound
}

pub fn random_alnum(n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let mut out = String::with_capacity(n);
    // Ten base-62 digits per 64-bit draw (62^10 < 2^64): one generator call per ten
    // characters instead of one per character. The last digit of each ten is slightly
    // biased; these are identifiers, not secrets (keys come from `auth::generate_key`).
    while out.len() < n {
        let mut x: u64 = rng.gen();
        for _ in 0..10.min(n - out.len()) {
            out.push(CHARS[(x % 62) as usize] as char);
            x /= 62;
        }
    }
    out
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `gen-<unix>-<20 alphanumerics>`, the shape OpenRouter's ids have.
pub fn new_generation_id() -> String {
    format!("gen-{}-{}", unix_now(), random_alnum(20))
}
