use crate::app::AppState;
use crate::error::GatewayError;
use crate::routes::ApiPath;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

pub async fn list(State(st): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        st.models_json.clone(),
    )
        .into_response()
}

pub async fn endpoints(
    State(st): State<AppState>,
    ApiPath((author, slug)): ApiPath<(String, String)>,
) -> Result<Response, GatewayError> {
    let id = format!("{author}/{slug}");
    let model = st.catalog.model(&id).ok_or_else(|| {
        GatewayError::Plan(switchyard_router::PlanError::UnknownModel(id.clone()))
    })?;
    Ok(axum::Json(
        model.endpoints_api(&|i| st.health.get(i).map(|h| h.stats()).unwrap_or_default()),
    )
    .into_response())
}
