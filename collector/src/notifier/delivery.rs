//! One webhook POST: JSON body, optional basic auth, Standard Webhooks
//! headers (`webhook-id` stable across retries, `webhook-timestamp` of the
//! attempt, `webhook-signature` when a secret is set). 2xx is success; 410
//! Gone stops retrying; redirects are not followed.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::config::WebhookConfig;
use crate::store::Delivery;

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered(u16),
    Failed { error: String, gone: bool },
}

pub(super) fn client(w: &WebhookConfig) -> Result<reqwest::Client, super::NotifierError> {
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(crate::tls::client_config()?)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(w.timeout)
        .user_agent(concat!("picket/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
pub fn sign(key: &[u8], msg_id: &str, timestamp: i64, body: &str) -> String {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("hmac takes any key length"));
    mac.update(format!("{msg_id}.{timestamp}.{body}").as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("v1,{sig}")
}

/// POSTs `d` to `w`, stamped (`webhook-timestamp`, seconds) at `now_ms`.
pub(super) async fn deliver(
    client: &reqwest::Client,
    w: &WebhookConfig,
    d: &Delivery,
    now_ms: i64,
) -> Outcome {
    let timestamp = now_ms.div_euclid(1000);
    let mut req = client
        .post(&w.url)
        .header("content-type", "application/json")
        .header("webhook-id", &d.msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .body(d.body.clone());
    if let Some(key) = &w.secret {
        req = req.header(
            "webhook-signature",
            sign(key, &d.msg_id, timestamp, &d.body),
        );
    }
    if let Some((user, password)) = &w.basic_auth {
        req = req.basic_auth(user, Some(password));
    }
    match req.send().await {
        Ok(resp) if resp.status().is_success() => Outcome::Delivered(resp.status().as_u16()),
        Ok(resp) => Outcome::Failed {
            error: format!("HTTP {}", resp.status().as_u16()),
            gone: resp.status() == reqwest::StatusCode::GONE,
        },
        Err(e) => Outcome::Failed {
            error: error_chain(&e),
            gone: false,
        },
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn standard_webhooks_spec_vector() {
        use base64::Engine;
        let key = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .expect("key");
        assert_eq!(
            super::sign(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                r#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
