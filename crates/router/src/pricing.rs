//! What a generation costs. Exact: integer pico-USD throughout.

use switchyard_api::models::Pricing;
use switchyard_api::{DecimalString, Money};
use switchyard_providers::TokenUsage;

/// An endpoint's prices, USD per token (per request for `request`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prices {
    pub prompt: Money,
    pub completion: Money,
    pub request: Money,
    pub image: Money,
    pub input_cache_read: Option<Money>,
    pub input_cache_write: Option<Money>,
    pub internal_reasoning: Option<Money>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub prompt: Money,
    pub completion: Money,
    pub request: Money,
}

impl Cost {
    pub fn total(&self) -> Money {
        self.prompt + self.completion + self.request
    }
}

impl Prices {
    /// Whether cached prompt tokens are read for less than fresh ones: only then does keeping
    /// a conversation on this endpoint (sticky routing) save anything.
    pub fn cheaper_cache_reads(&self) -> bool {
        self.input_cache_read.is_some_and(|r| r < self.prompt)
    }

    /// Cached reads and cache writes are billed at their own prices where the endpoint has
    /// them (otherwise as ordinary prompt tokens); reasoning tokens at `internal_reasoning`
    /// where set (otherwise as completion tokens).
    pub fn cost(&self, u: &TokenUsage) -> Cost {
        let read = u.cached_read.min(u.prompt);
        let write = u.cache_write.min(u.prompt - read);
        let plain_prompt = u.prompt - read - write;
        let prompt = self.prompt.times(plain_prompt)
            + self.input_cache_read.unwrap_or(self.prompt).times(read)
            + self.input_cache_write.unwrap_or(self.prompt).times(write);
        let reasoning = u.reasoning.min(u.completion);
        let completion = match self.internal_reasoning {
            Some(r) => self.completion.times(u.completion - reasoning) + r.times(reasoning),
            None => self.completion.times(u.completion),
        };
        Cost {
            prompt,
            completion,
            request: self.request,
        }
    }

    pub fn to_api(&self) -> Pricing {
        Pricing {
            prompt: DecimalString(self.prompt),
            completion: DecimalString(self.completion),
            request: DecimalString(self.request),
            image: DecimalString(self.image),
            input_cache_read: self.input_cache_read.map(DecimalString),
            input_cache_write: self.input_cache_write.map(DecimalString),
            internal_reasoning: self.internal_reasoning.map(DecimalString),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap_or_default()
    }

    #[test]
    fn cache_and_reasoning_tokens_use_their_own_prices() {
        let p = Prices {
            prompt: m("0.000003"),
            completion: m("0.000015"),
            input_cache_read: Some(m("0.0000003")),
            input_cache_write: Some(m("0.00000375")),
            ..Default::default()
        };
        let u = TokenUsage {
            prompt: 1000,
            completion: 200,
            cached_read: 600,
            cache_write: 100,
            reasoning: 50,
        };
        let c = p.cost(&u);
        // 300 × 3e-6 + 600 × 3e-7 + 100 × 3.75e-6 = 0.0009 + 0.00018 + 0.000375
        assert_eq!(c.prompt.to_string(), "0.001455");
        assert_eq!(c.completion.to_string(), "0.003");
        assert_eq!(c.total().to_string(), "0.004455");
    }

    #[test]
    fn nonsense_counts_never_go_negative() {
        let p = Prices {
            prompt: m("0.000001"),
            ..Default::default()
        };
        let u = TokenUsage {
            prompt: 10,
            cached_read: 50,
            cache_write: 50,
            ..Default::default()
        };
        assert_eq!(p.cost(&u).prompt.to_string(), "0.00001");
    }
}
