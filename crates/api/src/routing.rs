//! OpenRouter's `provider` object (ProviderPreferences), plus Switchyard's own routing
//! extensions, which also live inside `provider` so they never reach an upstream.

use crate::money::Money;
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProviderPreferences {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_fallbacks: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_parameters: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_collection: Option<DataCollection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zdr: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantizations: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<SortPref>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_min_throughput: Option<Percentiles>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_max_latency: Option<Percentiles>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price: Option<MaxPrice>,
    /// Switchyard: continue a stream on the next endpoint if the upstream dies mid-way
    /// (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub midstream_failover: Option<bool>,
    /// Switchyard: race the next endpoint when the first is slower than its p95 time to first
    /// token (default: the server's `routing.hedge` setting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hedge: Option<bool>,
    /// Fields this version does not know (e.g. `enforce_distillable_text`): accepted, ignored.
    #[serde(flatten)]
    pub extra: crate::chat::Extra,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DataCollection {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SortBy {
    Price,
    Throughput,
    Latency,
    /// OpenRouter's quality-first sort; Switchyard treats it as throughput-first among the
    /// cheapest half.
    Exacto,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Partition {
    #[default]
    Model,
    None,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum SortPref {
    By(SortBy),
    Config {
        #[serde(default)]
        by: Option<SortBy>,
        #[serde(default)]
        partition: Option<Partition>,
    },
}

impl SortPref {
    pub fn by(&self) -> Option<SortBy> {
        match self {
            SortPref::By(b) => Some(*b),
            SortPref::Config { by, .. } => *by,
        }
    }

    pub fn partition(&self) -> Partition {
        match self {
            SortPref::By(_) => Partition::Model,
            SortPref::Config { partition, .. } => partition.unwrap_or_default(),
        }
    }
}

/// A bare number means p50; an object sets cut-offs per percentile.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Default)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p75: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
}

impl<'de> Deserialize<'de> for Percentiles {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Obj {
                #[serde(default)]
                p50: Option<f64>,
                #[serde(default)]
                p75: Option<f64>,
                #[serde(default)]
                p90: Option<f64>,
                #[serde(default)]
                p99: Option<f64>,
            },
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Num(n) => Percentiles {
                p50: Some(n),
                ..Default::default()
            },
            Raw::Obj { p50, p75, p90, p99 } => Percentiles { p50, p75, p90, p99 },
        })
    }
}

/// USD per **million** tokens (per request / image for those), numbers or strings.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
pub struct MaxPrice {
    #[serde(default, deserialize_with = "loose_money")]
    pub prompt: Option<Money>,
    #[serde(default, deserialize_with = "loose_money")]
    pub completion: Option<Money>,
    #[serde(default, deserialize_with = "loose_money")]
    pub request: Option<Money>,
    #[serde(default, deserialize_with = "loose_money")]
    pub image: Option<Money>,
    #[serde(default, deserialize_with = "loose_money")]
    pub audio: Option<Money>,
}

/// A price given as a JSON number or a decimal string; read exactly from its text.
fn loose_money<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Money>, D::Error> {
    let v: Option<Money> = Option::deserialize(d)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_form() {
        let p: ProviderPreferences = serde_json::from_str(
            r#"{"order":["openai","together/turbo"],"allow_fallbacks":false,"sort":{"by":"latency","partition":"none"},
                "preferred_min_throughput":50,"preferred_max_latency":{"p90":2.5},"max_price":{"prompt":1,"completion":"2.5"},
                "data_collection":"deny","zdr":true,"quantizations":["fp8"],"enforce_distillable_text":true}"#,
        )
        .expect("parses");
        assert_eq!(p.sort.and_then(|s| s.by()), Some(SortBy::Latency));
        assert_eq!(p.sort.map(|s| s.partition()), Some(Partition::None));
        assert_eq!(p.preferred_min_throughput.and_then(|t| t.p50), Some(50.0));
        assert_eq!(p.preferred_max_latency.and_then(|t| t.p90), Some(2.5));
        assert_eq!(
            p.max_price
                .and_then(|m| m.completion)
                .map(|m| m.to_string()),
            Some("2.5".into())
        );
        assert_eq!(p.data_collection, Some(DataCollection::Deny));
        let s: ProviderPreferences = serde_json::from_str(r#"{"sort":"price"}"#).expect("parses");
        assert_eq!(s.sort.and_then(|s| s.by()), Some(SortBy::Price));
        assert!(serde_json::from_str::<ProviderPreferences>(r#"{"sort":"cheapest"}"#).is_err());
    }
}
