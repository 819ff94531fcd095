//! [`Receivers`]: the configured webhook receivers and which of them are
//! disabled, as the API shows them.
//!
//! The workers own the disabling (a 410 Gone answer); they publish it in a
//! `watch` (latest value wins) that the API reads. Disabled is a state of
//! the running notifier, not of the store: a restart starts every worker
//! enabled again, and so does a reload that changes the receiver's
//! webhook (a reload leaves unchanged ones as they are); the outbox rows
//! wait, pending, meanwhile.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;

use crate::config::WebhookConfig;

/// Why and since when a receiver is disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disabled {
    pub since_ms: i64,
    /// e.g. `HTTP 410 Gone`.
    pub reason: String,
}

/// One configured receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver {
    pub name: String,
    /// Scheme, host and port of its URL: the path may hold a secret.
    pub origin: String,
    pub disabled: Option<Disabled>,
}

/// The receivers of the running notifier; cheap to clone.
#[derive(Debug, Clone)]
pub struct Receivers {
    /// `(name, origin)` in configuration order (replaced by a reload).
    configured: Arc<watch::Sender<Vec<(String, String)>>>,
    disabled: watch::Receiver<BTreeMap<String, Disabled>>,
}

/// The workers' side of [`Receivers`].
pub(super) type DisabledTx = Arc<watch::Sender<BTreeMap<String, Disabled>>>;

impl Receivers {
    /// Receivers for `webhooks`, none disabled, and the sender the workers
    /// disable them through.
    pub(super) fn new(webhooks: &[WebhookConfig]) -> (Receivers, DisabledTx) {
        let (tx, rx) = watch::channel(BTreeMap::new());
        let receivers = Receivers {
            configured: Arc::new(watch::channel(configured(webhooks)).0),
            disabled: rx,
        };
        (receivers, Arc::new(tx))
    }

    /// Receivers for `webhooks` as configured, none disabled, with no
    /// workers: what a standby shows (it delivers nothing).
    pub fn configured_only(webhooks: &[WebhookConfig]) -> Receivers {
        Receivers::new(webhooks).0
    }

    /// The receivers are now `webhooks` (a reload).
    pub(super) fn set_configured(&self, webhooks: &[WebhookConfig]) {
        self.configured.send_replace(configured(webhooks));
    }

    /// Every configured receiver with its state now.
    pub fn list(&self) -> Vec<Receiver> {
        let disabled = self.disabled.borrow();
        self.configured
            .borrow()
            .iter()
            .map(|(name, origin)| Receiver {
                name: name.clone(),
                origin: origin.clone(),
                disabled: disabled.get(name).cloned(),
            })
            .collect()
    }
}

/// `(name, origin)` of each of `webhooks`.
fn configured(webhooks: &[WebhookConfig]) -> Vec<(String, String)> {
    webhooks
        .iter()
        .map(|w| (w.name.clone(), origin(&w.url)))
        .collect()
}

/// `scheme://host[:port]` of `url` (validated at config load), without
/// user info, path or query.
fn origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_origin_drops_credentials_path_and_query() {
        for (url, origin) in [
            (
                "https://hooks.test/services/T0/B0/secret",
                "https://hooks.test",
            ),
            (
                "http://u:p@127.0.0.1:8080/hook?token=x",
                "http://127.0.0.1:8080",
            ),
            ("https://hooks.test:443/", "https://hooks.test"),
            ("not a url", ""),
        ] {
            assert_eq!(super::origin(url), origin, "{url}");
        }
    }
}
