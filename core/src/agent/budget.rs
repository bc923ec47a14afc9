//! Budgets of one run (tokens, cost, wall time, model requests), the price
//! table they are priced by, and the context windows compaction works from.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::protocol::{AgentOptions, ModelPrice, RunOptions, Usage};

/// Built-in prices, USD per 1M tokens: (model, input, cached input, output).
/// From OpenAI's public API pricing page (openai.com/api/pricing, standard
/// tier, context under 270K) as listed in June 2026; `model_prices`
/// overrides them.
const PRICES: &[(&str, f64, f64, f64)] = &[
    ("gpt-5.5", 5.00, 0.50, 30.00),
    ("gpt-5.4", 2.50, 0.25, 15.00),
    ("gpt-5.4-mini", 0.75, 0.075, 4.50),
    ("gpt-5.4-nano", 0.20, 0.02, 1.25),
    ("gpt-5.3-codex", 1.75, 0.175, 14.00),
    ("gpt-5.2", 1.75, 0.175, 14.00),
    ("gpt-5.2-codex", 1.75, 0.175, 14.00),
    ("gpt-5.1", 1.25, 0.125, 10.00),
    ("gpt-5.1-codex", 1.25, 0.125, 10.00),
    ("gpt-5.1-codex-mini", 0.25, 0.025, 2.00),
    ("gpt-5", 1.25, 0.125, 10.00),
    ("gpt-5-codex", 1.25, 0.125, 10.00),
    ("gpt-5-mini", 0.25, 0.025, 2.00),
    ("gpt-5-nano", 0.05, 0.005, 0.40),
    ("gpt-4.1", 2.00, 0.50, 8.00),
    ("gpt-4.1-mini", 0.40, 0.10, 1.60),
    ("gpt-4.1-nano", 0.10, 0.025, 0.40),
    ("gpt-4o", 2.50, 1.25, 10.00),
    ("gpt-4o-mini", 0.15, 0.075, 0.60),
    ("o3", 2.00, 0.50, 8.00),
    ("o4-mini", 1.10, 0.275, 4.40),
];

/// Built-in context windows in tokens (the input the model takes). The
/// GPT-5 family's are what the Codex CLI uses (`models.json`: 272000); the
/// others are OpenAI's model pages.
const CONTEXT_WINDOWS: &[(&str, u64)] = &[
    ("gpt-5", 272_000),
    ("codex-", 272_000),
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("o3", 200_000),
    ("o4-mini", 200_000),
];

/// The model name without a dated snapshot suffix (`gpt-4o-2024-08-06`).
fn base_name(model: &str) -> &str {
    let bytes = model.as_bytes();
    if bytes.len() > 11 {
        let (head, tail) = model.split_at(model.len() - 11);
        let t = tail.as_bytes();
        let digits = |r: std::ops::Range<usize>| t[r].iter().all(u8::is_ascii_digit);
        if t[0] == b'-'
            && digits(1..5)
            && t[5] == b'-'
            && digits(6..8)
            && t[8] == b'-'
            && digits(9..11)
        {
            return head;
        }
    }
    model
}

/// The price of `model`: `overrides` first (exact name), then the table
/// (exact name, then without a snapshot date).
pub fn model_price(
    model: &str,
    overrides: &std::collections::BTreeMap<String, ModelPrice>,
) -> Option<ModelPrice> {
    if let Some(p) = overrides.get(model) {
        return Some(*p);
    }
    let base = base_name(model);
    if let Some(p) = overrides.get(base) {
        return Some(*p);
    }
    PRICES
        .iter()
        .find(|(name, ..)| *name == model || *name == base)
        .map(|&(_, input, cached, output)| ModelPrice {
            input,
            cached_input: Some(cached),
            output,
        })
}

/// The context window of `model`: the option, else the table (by prefix).
pub fn context_window(model: &str, option: Option<u64>) -> Option<u64> {
    option.or_else(|| {
        CONTEXT_WINDOWS
            .iter()
            .find(|(prefix, _)| model.starts_with(prefix))
            .map(|&(_, w)| w)
    })
}

/// When to compact: the option (capped at 90% of a known window, as the
/// Codex CLI does), else 90% of the window; `None` = never automatically.
pub fn auto_compact_limit(window: Option<u64>, option: Option<u64>) -> Option<u64> {
    let from_window = window.map(|w| w / 10 * 9);
    match (option, from_window) {
        (Some(o), Some(w)) => Some(o.min(w)),
        (o, w) => o.or(w),
    }
}

/// USD for `usage` at `price`.
pub fn cost_usd(usage: &Usage, price: &ModelPrice) -> f64 {
    let cached = usage.cached_input_tokens.min(usage.input_tokens);
    let uncached = usage.input_tokens - cached;
    let per_token = |per_million: f64| per_million / 1_000_000.0;
    uncached as f64 * per_token(price.input)
        + cached as f64 * per_token(price.cached_input.unwrap_or(price.input))
        + usage.output_tokens as f64 * per_token(price.output)
}

/// The budgets of one run: the agent's options under the run's.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunLimits {
    pub max_turns: Option<u32>,
    pub max_tokens: Option<u64>,
    pub max_cost_usd: Option<f64>,
    pub price: Option<ModelPrice>,
    pub timeout: Option<Duration>,
    pub output_schema: Option<serde_json::Value>,
    /// `output_schema`, compiled.
    pub validator: Option<std::sync::Arc<jsonschema::Validator>>,
    pub output_schema_retries: u32,
}

impl RunLimits {
    pub fn new(options: &AgentOptions, run: &RunOptions, model: &str) -> Result<RunLimits> {
        let max_cost_usd = run.max_cost_usd.or(options.max_cost_usd);
        let price = model_price(model, &options.model_prices);
        if let Some(max) = max_cost_usd {
            check_cost_budget(max, model, price.as_ref())?;
        }
        let output_schema = run
            .output_schema
            .clone()
            .or_else(|| options.output_schema.clone());
        let validator = output_schema
            .as_ref()
            .map(super::output::compile)
            .transpose()?
            .map(std::sync::Arc::new);
        Ok(RunLimits {
            max_turns: run.max_turns.or(options.max_turns),
            max_tokens: run.max_tokens.or(options.max_tokens),
            max_cost_usd,
            price,
            timeout: run
                .timeout_ms
                .or(options.timeout_ms)
                .map(Duration::from_millis),
            output_schema,
            validator,
            output_schema_retries: run
                .output_schema_retries
                .or(options.output_schema_retries)
                .unwrap_or(0),
        })
    }

    /// The error if the run's usage so far has used up a budget.
    pub fn exhausted(&self, used: &Usage) -> Option<Error> {
        if let Some(max) = self.max_tokens {
            let total = used.total_tokens();
            if total >= max {
                return Some(Error::BudgetExceeded(format!(
                    "max_tokens ({max}) reached: this run used {total} tokens ({} input + {} output)",
                    used.input_tokens, used.output_tokens
                )));
            }
        }
        if let (Some(max), Some(price)) = (self.max_cost_usd, self.price.as_ref()) {
            let cost = cost_usd(used, price);
            if cost >= max {
                return Some(Error::BudgetExceeded(format!(
                    "max_cost_usd ({max}) reached: this run cost ${cost:.6} ({} input, {} cached, {} output tokens)",
                    used.input_tokens, used.cached_input_tokens, used.output_tokens
                )));
            }
        }
        None
    }

    pub fn timeout_error(&self, elapsed: Duration) -> Error {
        let limit = self.timeout.unwrap_or_default();
        Error::BudgetExceeded(format!(
            "timeout_ms ({}) reached: this run took {} ms",
            limit.as_millis(),
            elapsed.as_millis()
        ))
    }
}

/// A cost budget needs a price (and a sane limit): fail closed at creation.
pub(crate) fn check_cost_budget(max: f64, model: &str, price: Option<&ModelPrice>) -> Result<()> {
    if !(max.is_finite() && max > 0.0) {
        return Err(Error::Config(format!(
            "max_cost_usd must be a positive number, got {max}"
        )));
    }
    let Some(price) = price else {
        return Err(Error::Config(format!(
            "max_cost_usd is set but model `{model}` has no price: add it to model_prices"
        )));
    };
    let fields = [price.input, price.cached_input.unwrap_or(0.0), price.output];
    if fields.iter().any(|p| !p.is_finite() || *p < 0.0) {
        return Err(Error::Config(format!(
            "model_prices for `{model}` must be non-negative numbers"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn prices_by_name_and_snapshot() {
        let none = Default::default();
        let p = model_price("gpt-5.4-2026-03-05", &none).unwrap();
        assert_eq!(p.input, 2.50);
        assert!(model_price("my-local-model", &none).is_none());
        let usage = Usage {
            input_tokens: 1_000_000,
            cached_input_tokens: 500_000,
            output_tokens: 100_000,
            reasoning_output_tokens: 0,
        };
        let cost = cost_usd(&usage, &p);
        assert!((cost - (1.25 + 0.125 + 1.5)).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn compact_limit_defaults_to_ninety_percent() {
        assert_eq!(context_window("gpt-5.4", None), Some(272_000));
        assert_eq!(auto_compact_limit(Some(1000), None), Some(900));
        assert_eq!(auto_compact_limit(Some(1000), Some(500)), Some(500));
        assert_eq!(auto_compact_limit(Some(1000), Some(5000)), Some(900));
        assert_eq!(auto_compact_limit(None, Some(5000)), Some(5000));
        assert_eq!(
            auto_compact_limit(context_window("llama3", None), None),
            None
        );
    }
}
