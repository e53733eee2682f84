//! The configuration file: `[server]` settings plus the catalogue (`[[providers]]`,
//! `[[models]]`). Unknown fields are errors naming the field.

use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;
use switchyard_providers::{Limits, Timeouts};
use switchyard_router::auto::AutoPolicy;
use switchyard_router::config::{ModelConfig, ProviderConfig};
use switchyard_router::{Catalog, CatalogConfig, ConfigError, DEFAULT_CATALOG, DEMO_CATALOG};

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub routing: RoutingSection,
    /// Include the shipped catalogue of real providers (each active only when its key is set).
    #[serde(default = "yes")]
    pub default_catalog: bool,
    #[serde(default)]
    pub providers: Vec<ProviderConfig>,
    #[serde(default)]
    pub models: Vec<ModelConfig>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on; `--listen` overrides it.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_body_limit")]
    pub max_body_bytes: usize,
    #[serde(default = "default_connect_ms")]
    pub connect_timeout_ms: u64,
    /// Until the provider's response headers (non-streamed: the whole answer).
    #[serde(default = "default_first_byte_ms")]
    pub first_byte_timeout_ms: u64,
    /// Longest silence allowed inside a streamed answer.
    #[serde(default = "default_between_chunks_ms")]
    pub between_chunks_timeout_ms: u64,
    /// Interval of `: OPENROUTER PROCESSING` comments on a quiet stream.
    #[serde(default = "default_keepalive_ms")]
    pub keepalive_ms: u64,
    /// How long a finished request waits for its generation record to become durable before
    /// it is refused with 503 (default 5 s). While the ledger cannot commit, no new billable
    /// request is admitted.
    #[serde(default = "default_ledger_wait_ms")]
    pub ledger_wait_ms: u64,
    // Connection hardening: every limit below is what one client (keyed or not) can hold of
    // the gateway, so each has a finite default.
    /// How long a client has to send a request's complete headers: from the connection's
    /// acceptance for its first request, from the first byte of each later request on a
    /// kept-alive connection. Past it the connection is closed without an answer (a slowloris
    /// client sending a header a byte at a time). Default 10 s.
    #[serde(default = "default_header_read_ms")]
    pub header_read_timeout_ms: u64,
    /// How long a kept-alive connection may sit idle between the end of one response and the
    /// first byte of the next request before it is closed. Default 60 s.
    #[serde(default = "default_idle_ms")]
    pub idle_timeout_ms: u64,
    /// Time allowed to receive a request body, on top of `body_min_bytes_per_sec`. The body
    /// is read only once the key has been accepted; a body not received in time is answered
    /// 408 and the connection closed. Default 30 s.
    #[serde(default = "default_body_timeout_ms")]
    pub body_timeout_ms: u64,
    /// Slowest body upload accepted: each byte received extends the body's deadline by
    /// `1 / body_min_bytes_per_sec` seconds, so a body of `n` bytes must arrive within
    /// `body_timeout_ms + n / body_min_bytes_per_sec`. 0: the whole body within
    /// `body_timeout_ms`, whatever its size. Default 16384 (16 KiB/s: the default 20 MiB
    /// limit in about 21 minutes at worst).
    #[serde(default = "default_body_min_rate")]
    pub body_min_bytes_per_sec: u64,
    /// Most client connections open at once. Beyond it a new connection is answered
    /// `503` (the error envelope, `Retry-After: 1`) and closed at once. Keep it below the
    /// process's open-file limit (`ulimit -n`), leaving room for upstream connections and the
    /// store. Default 10000.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Most streamed completions open at once; one more is answered `503` before any
    /// provider is called. Default 10000.
    #[serde(default = "default_max_open_streams")]
    pub max_open_streams: usize,
    /// On SIGTERM (or Ctrl-C) the gateway stops accepting connections and lets requests in
    /// flight finish for this long. Streams still open then end with an error chunk (and are
    /// billed for what was sent), other requests still running are cut, and the process
    /// exits. 0: streams are ended at once. Default 30 s.
    #[serde(default = "default_drain_ms")]
    pub drain_timeout_ms: u64,
    /// Largest non-streamed response accepted from a provider, in bytes (default 32 MiB). A
    /// larger one fails that attempt and the next endpoint is tried.
    #[serde(default = "default_max_upstream_body_bytes")]
    pub max_upstream_body_bytes: usize,
    /// Longest line, and largest event, accepted in a provider's stream, in bytes (default
    /// 8 MiB). Past it the stream fails as if broken (failover or an error chunk).
    #[serde(default = "default_max_upstream_event_bytes")]
    pub max_upstream_event_bytes: usize,
}

const MAX_WAIT_MS: u64 = 7 * 24 * 3600 * 1000;

fn default_body_limit() -> usize {
    20 * 1024 * 1024
}
fn default_connect_ms() -> u64 {
    10_000
}
fn default_first_byte_ms() -> u64 {
    300_000
}
fn default_between_chunks_ms() -> u64 {
    120_000
}
fn default_keepalive_ms() -> u64 {
    3_000
}
fn default_ledger_wait_ms() -> u64 {
    5_000
}
fn default_header_read_ms() -> u64 {
    10_000
}
fn default_idle_ms() -> u64 {
    60_000
}
fn default_body_timeout_ms() -> u64 {
    30_000
}
fn default_body_min_rate() -> u64 {
    16 * 1024
}
fn default_max_connections() -> usize {
    10_000
}
fn default_max_open_streams() -> usize {
    10_000
}
fn default_drain_ms() -> u64 {
    30_000
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            listen: None,
            max_body_bytes: default_body_limit(),
            connect_timeout_ms: default_connect_ms(),
            first_byte_timeout_ms: default_first_byte_ms(),
            between_chunks_timeout_ms: default_between_chunks_ms(),
            keepalive_ms: default_keepalive_ms(),
            ledger_wait_ms: default_ledger_wait_ms(),
            header_read_timeout_ms: default_header_read_ms(),
            idle_timeout_ms: default_idle_ms(),
            body_timeout_ms: default_body_timeout_ms(),
            body_min_bytes_per_sec: default_body_min_rate(),
            max_connections: default_max_connections(),
            max_open_streams: default_max_open_streams(),
            drain_timeout_ms: default_drain_ms(),
            max_upstream_body_bytes: default_max_upstream_body_bytes(),
            max_upstream_event_bytes: default_max_upstream_event_bytes(),
        }
    }
}

impl ServerSection {
    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            connect: Duration::from_millis(self.connect_timeout_ms),
            first_byte: Duration::from_millis(self.first_byte_timeout_ms),
            between_chunks: Duration::from_millis(self.between_chunks_timeout_ms),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("server.connect_timeout_ms", self.connect_timeout_ms),
            ("server.first_byte_timeout_ms", self.first_byte_timeout_ms),
            (
                "server.between_chunks_timeout_ms",
                self.between_chunks_timeout_ms,
            ),
            ("server.keepalive_ms", self.keepalive_ms),
            ("server.ledger_wait_ms", self.ledger_wait_ms),
            ("server.max_body_bytes", self.max_body_bytes as u64),
            ("server.header_read_timeout_ms", self.header_read_timeout_ms),
            ("server.idle_timeout_ms", self.idle_timeout_ms),
            ("server.body_timeout_ms", self.body_timeout_ms),
            ("server.max_connections", self.max_connections as u64),
            ("server.max_open_streams", self.max_open_streams as u64),
            (
                "server.max_upstream_body_bytes",
                self.max_upstream_body_bytes as u64,
            ),
            (
                "server.max_upstream_event_bytes",
                self.max_upstream_event_bytes as u64,
            ),
        ];
        for (field, v) in positive {
            if v == 0 {
                return Err(ConfigError::invalid(field, "must be greater than 0"));
            }
        }
        // Deadlines are added to the clock on the hot path: a week is beyond any sensible
        // wait and far from where `Instant + Duration` overflows.
        for (field, v) in [
            ("server.connect_timeout_ms", self.connect_timeout_ms),
            ("server.first_byte_timeout_ms", self.first_byte_timeout_ms),
            (
                "server.between_chunks_timeout_ms",
                self.between_chunks_timeout_ms,
            ),
            ("server.keepalive_ms", self.keepalive_ms),
            ("server.ledger_wait_ms", self.ledger_wait_ms),
            ("server.header_read_timeout_ms", self.header_read_timeout_ms),
            ("server.idle_timeout_ms", self.idle_timeout_ms),
            ("server.body_timeout_ms", self.body_timeout_ms),
            ("server.drain_timeout_ms", self.drain_timeout_ms),
        ] {
            if v > MAX_WAIT_MS {
                return Err(ConfigError::invalid(
                    field,
                    "must be at most 604800000 (one week)",
                ));
            }
        }
        // Both caps are semaphores whose permits are all taken back at shutdown in one call.
        for (field, v) in [
            ("server.max_connections", self.max_connections),
            ("server.max_open_streams", self.max_open_streams),
        ] {
            if u32::try_from(v).map_or(true, |n| n > crate::listener::MAX_CAP) {
                return Err(ConfigError::invalid(
                    field,
                    format!("must be at most {}", crate::listener::MAX_CAP),
                ));
            }
        }
        Ok(())
    }
}

fn default_max_upstream_body_bytes() -> usize {
    Limits::default().max_body_bytes
}
fn default_max_upstream_event_bytes() -> usize {
    Limits::default().max_event_bytes
}

impl ServerSection {
    /// How much of one upstream response the client may hold.
    pub fn limits(&self) -> Limits {
        Limits {
            max_body_bytes: self.max_upstream_body_bytes,
            max_event_bytes: self.max_upstream_event_bytes,
        }
    }
}

/// Routing behaviour beyond what each request asks for.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoutingSection {
    /// How long a failing endpoint's circuit stays open before one probe request is let
    /// through.
    #[serde(default = "default_probe_ms")]
    pub probe_interval_ms: u64,
    /// Hedge every request (race the next endpoint when the first is slower than its p95
    /// time to first token). Requests can turn it on or off with `provider.hedge`.
    #[serde(default)]
    pub hedge: bool,
    /// Continue a stream on the next endpoint when its upstream dies mid-way; requests can
    /// opt out with `provider.midstream_failover: false`.
    #[serde(default = "yes")]
    pub midstream_failover: bool,
    /// The auto router (`switchyard/auto`, alias `openrouter/auto`).
    #[serde(default)]
    pub auto: AutoSection,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AutoSection {
    /// Models it may choose (`author/*` globs allowed); empty: every active model.
    #[serde(default)]
    pub models: Vec<String>,
    /// Most it may spend: USD per million tokens (prompt + completion price), decimal string.
    #[serde(default)]
    pub max_price: Option<String>,
    /// Difficulty (0–1) from which the strongest candidate is chosen instead of the cheapest.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
}

fn default_threshold() -> f64 {
    switchyard_router::auto::DEFAULT_THRESHOLD
}

impl Default for AutoSection {
    fn default() -> Self {
        AutoSection {
            models: vec![],
            max_price: None,
            threshold: default_threshold(),
        }
    }
}

impl AutoSection {
    pub fn policy(&self) -> Result<AutoPolicy, ConfigError> {
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(ConfigError::invalid(
                "routing.auto.threshold",
                "must be between 0 and 1",
            ));
        }
        let max_price = self
            .max_price
            .as_deref()
            .map(|p| {
                switchyard_api::Money::parse(p)
                    .map_err(|e| ConfigError::invalid("routing.auto.max_price", e.to_string()))
            })
            .transpose()?;
        Ok(AutoPolicy {
            models: self.models.clone(),
            max_price,
            threshold: self.threshold,
        })
    }
}

fn default_probe_ms() -> u64 {
    30_000
}

impl Default for RoutingSection {
    fn default() -> Self {
        RoutingSection {
            probe_interval_ms: default_probe_ms(),
            hedge: false,
            midstream_failover: true,
            auto: AutoSection::default(),
        }
    }
}

/// A loaded, validated configuration.
#[derive(Debug)]
pub struct Config {
    pub server: ServerSection,
    pub routing: RoutingSection,
    pub auto: AutoPolicy,
    pub catalog: Catalog,
}

impl ConfigFile {
    /// No file given: the shipped catalogue and default settings.
    pub fn default_with_catalog() -> ConfigFile {
        ConfigFile {
            default_catalog: true,
            ..ConfigFile::default()
        }
    }

    pub fn from_toml(text: &str) -> Result<ConfigFile, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))
    }

    /// Validates everything and builds the catalogue: the shipped catalogue (unless turned
    /// off), then the demo catalogue when `demo`, then this file's own entries.
    pub fn load(
        self,
        demo: bool,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        self.server.validate()?;
        if self.routing.probe_interval_ms == 0 {
            return Err(ConfigError::invalid(
                "routing.probe_interval_ms",
                "must be greater than 0",
            ));
        }
        let mut base = CatalogConfig::default();
        if self.default_catalog {
            base = CatalogConfig::from_toml(DEFAULT_CATALOG)?;
        }
        if demo {
            base = CatalogConfig::from_toml(DEMO_CATALOG)?.over(base);
        }
        let catalog = CatalogConfig {
            providers: self.providers,
            models: self.models,
        }
        .over(base);
        Ok(Config {
            server: self.server,
            auto: self.routing.auto.policy()?,
            routing: self.routing,
            catalog: Catalog::build(&catalog, env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_configs_are_valid() {
        for (name, text) in [
            (
                "switchyard.example.toml",
                include_str!("../../../examples/switchyard.example.toml"),
            ),
            (
                "local-models.toml",
                include_str!("../../../examples/local-models.toml"),
            ),
        ] {
            let file = ConfigFile::from_toml(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            file.load(false, &|_| Some("key".into()))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn errors_name_the_field() {
        let err = ConfigFile::from_toml("[server]\nmax_body_byte = 5\n").expect_err("typo");
        assert!(err.to_string().contains("max_body_byte"), "{err}");
        let err = ConfigFile::from_toml("[server]\nkeepalive_ms = 0\n")
            .and_then(|f| f.load(false, &|_| None))
            .expect_err("zero");
        assert!(err.to_string().contains("server.keepalive_ms"), "{err}");
        let err = ConfigFile::from_toml("[server]\nmax_upstream_event_bytes = 0\n")
            .and_then(|f| f.load(false, &|_| None))
            .expect_err("zero");
        assert!(
            err.to_string().contains("server.max_upstream_event_bytes"),
            "{err}"
        );
        let err = ConfigFile::from_toml("[server]\nlisten = \"nowhere\"\n").expect_err("bad addr");
        assert!(err.to_string().contains("listen"), "{err}");
    }

    #[test]
    fn hardening_limits_have_finite_defaults_and_are_checked() {
        let s = ServerSection::default();
        assert_eq!(
            (
                s.header_read_timeout_ms,
                s.idle_timeout_ms,
                s.body_timeout_ms
            ),
            (10_000, 60_000, 30_000)
        );
        assert_eq!(s.body_min_bytes_per_sec, 16 * 1024);
        assert_eq!((s.max_connections, s.max_open_streams), (10_000, 10_000));
        assert_eq!(s.drain_timeout_ms, 30_000);
        let load = |t: &str| ConfigFile::from_toml(t).and_then(|f| f.load(false, &|_| None));
        for field in [
            "header_read_timeout_ms",
            "idle_timeout_ms",
            "max_connections",
        ] {
            let err = load(&format!("[server]\n{field} = 0\n")).expect_err("zero");
            assert!(err.to_string().contains(field), "{err}");
        }
        let err = load("[server]\nmax_open_streams = 100000000\n").expect_err("too many");
        assert!(err.to_string().contains("max_open_streams"), "{err}");
        assert!(load("[server]\ndrain_timeout_ms = 0\nbody_min_bytes_per_sec = 0\n").is_ok());
        // A timeout so large that adding it to the clock would overflow is refused at start.
        for field in [
            "keepalive_ms",
            "between_chunks_timeout_ms",
            "drain_timeout_ms",
        ] {
            let err =
                load(&format!("[server]\n{field} = 18446744073709551615\n")).expect_err("absurd");
            assert!(err.to_string().contains(field), "{err}");
        }
    }
}
