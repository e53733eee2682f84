//! `POST /embeddings`: OpenAI's shape with OpenRouter's `provider` and `usage.cost`. A whole
//! answer only, so no framer: decode and render.

use crate::error::GatewayError;
use crate::pipeline::Embedded;
use switchyard_api::embeddings::{
    parse_embeddings_request, EmbeddingObject, EmbeddingsRequest, EmbeddingsResponse,
    EmbeddingsUsage, EncodingFormat, Vector,
};

pub fn decode(body: &[u8]) -> Result<EmbeddingsRequest, GatewayError> {
    parse_embeddings_request(body).map_err(GatewayError::BadRequest)
}

/// The answer in the encoding the client asked for (floats, or base64 of little-endian f32s).
pub fn render(e: Embedded, format: Option<EncodingFormat>) -> EmbeddingsResponse {
    EmbeddingsResponse {
        object: "list".into(),
        data: e
            .vectors
            .into_iter()
            .enumerate()
            .map(|(index, values)| EmbeddingObject {
                object: "embedding".into(),
                embedding: Vector::new(values, format),
                index,
            })
            .collect(),
        model: e.model,
        id: Some(e.id),
        provider: Some(e.provider),
        usage: EmbeddingsUsage {
            prompt_tokens: e.usage.prompt_tokens,
            total_tokens: e.usage.prompt_tokens,
            cost: e.usage.cost,
            cost_details: e.usage.cost_details,
            is_byok: e.usage.is_byok,
        },
    }
}
