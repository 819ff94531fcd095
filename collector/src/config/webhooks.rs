//! `[[webhooks]]`: where events are posted, which ones, and how deliveries
//! authenticate, sign and retry.

use std::collections::HashSet;
use std::time::Duration;

use super::ConfigError;
use super::raw::RawWebhook;
use super::source::Source;
use crate::domain::EventType;
use crate::redact::debug_redacted;

#[derive(Clone, PartialEq)]
pub struct WebhookConfig {
    pub name: String,
    pub url: String,
    /// Event types it receives; empty means all.
    pub events: Vec<EventType>,
    pub basic_auth: Option<(String, String)>,
    /// Standard Webhooks secret (`whsec_…`), decoded key bytes.
    pub secret: Option<Vec<u8>>,
    pub timeout: Duration,
    pub retry_initial: Duration,
    pub retry_max_interval: Duration,
    pub retry_for: Duration,
    /// This webhook's own reminders of every open, unacknowledged request.
    pub remind_every: Option<Duration>,
}
debug_redacted!(WebhookConfig {
    name, url, events, timeout, retry_initial, retry_max_interval, retry_for, remind_every
} secret { basic_auth, secret });

impl WebhookConfig {
    /// Whether this webhook receives events of `event_type`.
    pub fn wants(&self, event_type: EventType) -> bool {
        self.events.is_empty() || self.events.contains(&event_type)
    }
}

/// Checks every `[[webhooks]]`; names are unique.
pub(super) fn validate(
    src: &Source,
    raw: &[RawWebhook],
) -> Result<Vec<WebhookConfig>, ConfigError> {
    let mut seen = HashSet::new();
    raw.iter().map(|w| webhook(src, w, &mut seen)).collect()
}

fn webhook(
    src: &Source,
    w: &RawWebhook,
    seen: &mut HashSet<String>,
) -> Result<WebhookConfig, ConfigError> {
    let name = w.name.get_ref();
    if !seen.insert(name.clone()) {
        return src.err(
            &w.name.span(),
            format!("webhook name {name:?} is used twice"),
        );
    }
    let url = src.http_url("url", &w.url)?.to_string();
    let mut events = Vec::new();
    for e in w.events.iter().flatten() {
        let Ok(event_type) = e.get_ref().parse::<EventType>() else {
            let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
            return src.err(
                &e.span(),
                format!(
                    "webhook {name:?}: unknown event {:?} (known: {})",
                    e.get_ref(),
                    known.join(", ")
                ),
            );
        };
        events.push(event_type);
    }
    let secret = match &w.secret {
        None => None,
        Some(s) => Some(
            decode_secret(s.get_ref()).or_else(|e| src.err(&s.span(), format!("secret: {e}")))?,
        ),
    };
    let dur =
        |key, v: &Option<_>, secs| src.opt_duration(key, v.as_ref(), Duration::from_secs(secs));
    Ok(WebhookConfig {
        name: name.clone(),
        url,
        events,
        basic_auth: w
            .basic_auth
            .as_ref()
            .map(|b| (b.user.clone(), b.password.clone())),
        secret,
        timeout: dur("timeout", &w.timeout, 15)?,
        retry_initial: dur("retry_initial", &w.retry_initial, 5)?,
        retry_max_interval: dur("retry_max_interval", &w.retry_max_interval, 3600)?,
        retry_for: dur("retry_for", &w.retry_for, 24 * 3600)?,
        remind_every: super::defaults::remind_every(src, w.remind_every.as_ref())?,
    })
}

/// Decodes a Standard Webhooks secret: `whsec_` + base64.
fn decode_secret(s: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let b64 = s.strip_prefix("whsec_").unwrap_or(s);
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| "expected whsec_ followed by base64".to_owned())
}
