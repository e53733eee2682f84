//! What a request needs, split by concern so that each part of the pipeline takes only its
//! own handle and can be built and tested without the HTTP app:
//!
//! - [`RoutingState`]: the catalogue, endpoint health, sticky conversations, the upstream
//!   client, the routing settings and the auto router's policy. The attempt loop
//!   ([`crate::attempt`]) and the streaming driver take it.
//! - [`BillingState`]: accounts (keys, balances, reservations, rate limits) and the ledger.
//!   Settlement ([`crate::settle`]) and the streaming driver take it.
//! - [`AppState`]: both handles, plus what only the handlers in [`crate::routes`] need (the
//!   server settings, the admin key, the rendered model lists, the stream lifecycle, the
//!   background loops). Cheap to clone: one `Arc`.

use crate::accounts::Accounts;
use crate::background::Background;
use crate::config::{Config, RoutingSection, ServerSection};
use crate::error::GatewayError;
use crate::settle::Ledger;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use switchyard_api::models::ModelList;
use switchyard_providers::UpstreamClient;
use switchyard_router::auto::AutoPolicy;
use switchyard_router::{Catalog, HealthBook, PlanContext, StickyTable};

/// Where a request can go and how: read-only on the hot path but for health and stickiness.
pub struct RoutingState {
    pub catalog: Catalog,
    pub health: HealthBook,
    pub sticky: StickyTable,
    pub client: UpstreamClient,
    pub settings: RoutingSection,
    pub auto: AutoPolicy,
}

impl RoutingState {
    /// A fresh health book (one entry per endpoint of `catalog`) and an empty sticky table.
    pub fn new(
        catalog: Catalog,
        client: UpstreamClient,
        settings: RoutingSection,
        auto: AutoPolicy,
    ) -> RoutingState {
        let health = HealthBook::new(
            catalog.endpoint_count(),
            Duration::from_millis(settings.probe_interval_ms),
        );
        RoutingState {
            catalog,
            health,
            sticky: StickyTable::default(),
            client,
            settings,
            auto,
        }
    }

    pub fn plan_context(&self) -> PlanContext<'_> {
        PlanContext {
            catalog: &self.catalog,
            health: &self.health,
            sticky: &self.sticky,
        }
    }
}

/// Who may spend what, and the durable record of what was spent.
pub struct BillingState {
    pub accounts: Arc<Accounts>,
    pub ledger: Ledger,
}

impl BillingState {
    /// Loads keys and balances from `store` and starts the ledger writer and the refresher
    /// under `background`.
    pub async fn load(
        store: switchyard_store::Store,
        shared: Option<crate::shared::Shared>,
        background: &Background,
        ledger_wait: Duration,
    ) -> Result<BillingState, GatewayError> {
        let accounts = Arc::new(Accounts::load(store.clone(), shared).await?);
        accounts.spawn_refresher(background);
        let ledger = Ledger::spawn(store, background, ledger_wait);
        Ok(BillingState { accounts, ledger })
    }
}

/// Everything a request needs, shared and read-only on the hot path.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub routing: Arc<RoutingState>,
    pub billing: Arc<BillingState>,
    /// The supervised background loops, for `/health`.
    pub background: Arc<Background>,
    /// SHA-256 of `SWITCHYARD_ADMIN_KEY`, which may call `/admin/*`.
    pub admin_key: Option<[u8; 32]>,
    pub settings: ServerSection,
    /// `GET /models` (chat models) never changes while running, so it is rendered once.
    pub models_json: Bytes,
    /// How many models it lists, for `GET /models/count`.
    pub models_count: usize,
    /// `GET /embeddings/models`, likewise.
    pub embedding_models_json: Bytes,
    /// The open-streams cap and the drain signal shared with the accept loop.
    pub lifecycle: crate::listener::Lifecycle,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Loads keys and balances from `store` and starts the ledger writer and the refresher.
    pub async fn new(
        config: Config,
        store: switchyard_store::Store,
        admin_key: Option<&str>,
    ) -> Result<AppState, GatewayError> {
        Self::with_shared(config, store, admin_key, None).await
    }

    /// As `new`, with Redis shared between replicas.
    pub async fn with_shared(
        config: Config,
        store: switchyard_store::Store,
        admin_key: Option<&str>,
        shared: Option<crate::shared::Shared>,
    ) -> Result<AppState, GatewayError> {
        let background = Arc::new(Background::default());
        let billing = BillingState::load(
            store,
            shared,
            &background,
            Duration::from_millis(config.server.ledger_wait_ms),
        )
        .await?;
        let client = UpstreamClient::new(
            config.server.timeouts(),
            config.server.limits(),
            config.catalog.secrets(),
        )
        .map_err(|e| GatewayError::Internal(e.to_string()))?;
        let (embedding, chat): (Vec<_>, Vec<_>) = config
            .catalog
            .models()
            .iter()
            .partition(|m| m.is_embedding());
        let mut data: Vec<_> = chat.iter().map(|m| m.to_api()).collect();
        if !data.is_empty() {
            data.push(auto_model());
        }
        let list = ModelList::whole(data);
        let models_count = list.total_count;
        let models_json = serde_json::to_vec(&list)
            .map_err(|e| GatewayError::Internal(e.to_string()))?
            .into();
        let embedding_models_json = serde_json::to_vec(&ModelList::whole(
            embedding.iter().map(|m| m.to_api()).collect(),
        ))
        .map_err(|e| GatewayError::Internal(e.to_string()))?
        .into();
        let routing = RoutingState::new(config.catalog, client, config.routing, config.auto);
        Ok(AppState(Arc::new(Inner {
            lifecycle: crate::listener::Lifecycle::new(config.server.max_open_streams),
            routing: Arc::new(routing),
            billing: Arc::new(billing),
            background,
            admin_key: admin_key
                .filter(|k| !k.is_empty())
                .map(crate::auth::hash_key),
            settings: config.server,
            models_json,
            models_count,
            embedding_models_json,
        })))
    }
}

/// `switchyard/auto` in the catalogue, priced like OpenRouter's router models (-1: the price
/// is that of the model chosen).
fn auto_model() -> switchyard_api::models::Model {
    use switchyard_api::models::{Architecture, Model, ModelLinks, Pricing, TopProvider};
    use switchyard_api::{DecimalString, Money};
    let unknown = DecimalString(Money::parse("-1").unwrap_or_default());
    Model {
        id: "switchyard/auto".into(),
        canonical_slug: "switchyard/auto".into(),
        name: "Switchyard: Auto Router".into(),
        created: 0,
        description: "Picks a model per request by its needs (tools, images, context) and difficulty, within the operator's list and price ceiling. Alias: openrouter/auto.".into(),
        context_length: None,
        architecture: Architecture {
            modality: "text+image->text".into(),
            input_modalities: vec!["text".into(), "image".into()],
            output_modalities: vec!["text".into()],
            tokenizer: "Router".into(),
            instruct_type: None,
        },
        pricing: Pricing {
            prompt: unknown,
            completion: unknown,
            ..Default::default()
        },
        top_provider: TopProvider {
            context_length: None,
            max_completion_tokens: None,
            is_moderated: false,
        },
        per_request_limits: None,
        default_parameters: None,
        supported_voices: None,
        supported_parameters: vec![],
        links: ModelLinks {
            details: "/api/v1/models/switchyard/auto/endpoints".into(),
        },
    }
}
