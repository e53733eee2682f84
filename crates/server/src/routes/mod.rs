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
    (0..n)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
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
