//! The catalogue: models, their endpoints, the providers behind them.

use crate::error::GatewayError;
use crate::routes::chat::caller;
use crate::routes::ApiPath;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use switchyard_api::models::{Count, ModelCount, ProviderInfo, PublicEndpoint};

#[derive(Serialize)]
pub struct Data<T: Serialize> {
    data: T,
}

/// `GET /models`, rendered once at start.
pub async fn list(State(st): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        st.models_json.clone(),
    )
        .into_response()
}

/// `GET /models/user`: the models the calling key may use once its account's data policy is
/// applied. Accounts have no data policy yet (no provider allow or deny list, no
/// data-collection or ZDR setting), so that is every model: `GET /models`, behind the key
/// check.
pub async fn user(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = caller(&st, &headers) {
        return e.into_response();
    }
    list(State(st)).await
}

/// `GET /models/count`: how many models `GET /models` lists.
pub async fn count(State(st): State<AppState>) -> Json<ModelCount> {
    Json(ModelCount {
        data: Count {
            count: st.models_count,
        },
    })
}

pub async fn endpoints(
    State(st): State<AppState>,
    ApiPath((author, slug)): ApiPath<(String, String)>,
) -> Result<Response, GatewayError> {
    let id = format!("{author}/{slug}");
    let model = st.routing.catalog.model(&id).ok_or_else(|| {
        GatewayError::Plan(switchyard_router::PlanError::UnknownModel(id.clone()))
    })?;
    Ok(axum::Json(model.endpoints_api(&|i| {
        st.routing
            .health
            .get(i)
            .map(|h| h.stats())
            .unwrap_or_default()
    }))
    .into_response())
}

/// `GET /providers`: the active providers, in catalogue order.
pub async fn providers(State(st): State<AppState>) -> Json<Data<Vec<ProviderInfo>>> {
    let data = st
        .routing
        .catalog
        .providers()
        .iter()
        .map(|p| ProviderInfo {
            name: p.name.clone(),
            slug: p.slug.clone(),
            privacy_policy_url: None,
            terms_of_service_url: None,
            status_page_url: None,
            headquarters: None,
            datacenters: None,
        })
        .collect();
    Json(Data { data })
}

/// `GET /endpoints/zdr`: every endpoint whose provider is configured for zero data retention
/// (`zdr = true`), the ones `provider.zdr: true` routes to.
pub async fn zdr(State(st): State<AppState>) -> Json<Data<Vec<PublicEndpoint>>> {
    let mut data = Vec::new();
    for m in st.routing.catalog.models() {
        for e in m.endpoints.iter().filter(|e| e.provider.zdr) {
            let stats = st
                .routing
                .health
                .get(e.index)
                .map(|h| h.stats())
                .unwrap_or_default();
            data.push(m.public_endpoint(e, &stats));
        }
    }
    Json(Data { data })
}
