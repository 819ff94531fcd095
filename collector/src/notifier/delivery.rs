//! One webhook POST: JSON body, optional basic auth, Standard Webhooks
//! headers (`webhook-id` stable across retries, `webhook-timestamp` of the
//! attempt, `webhook-signature` when a secret is set), and what the answer
//! means ([`classify`]): 2xx is success; 410 Gone disables the receiver;
//! 429 and 503 may carry a `Retry-After`; a redirect is not followed (it
//! could lead anywhere, internal addresses included) and counts as a
//! failed attempt, retried on schedule, with its `Location` in the error so
//! that the operator can fix the URL. Error texts never carry the URL
//! (it may hold a secret).

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER};
use sha2::Sha256;

use super::schedule::parse_retry_after;
use crate::config::WebhookConfig;
use crate::store::Delivery;

/// The longest `Location` quoted in an error.
const LOCATION_MAX: usize = 200;

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered(u16),
    /// Try again on schedule, not before `retry_after` when the receiver
    /// asked for it (429, 503).
    Failed {
        error: String,
        retry_after: Option<Duration>,
    },
    /// 410 Gone: stop sending to this receiver.
    Gone {
        error: String,
    },
}

/// What an HTTP answer means, at `now_ms` (for a `Retry-After` date).
pub fn classify(status: StatusCode, headers: &HeaderMap, now_ms: i64) -> Outcome {
    let code = status.as_u16();
    if status.is_success() {
        return Outcome::Delivered(code);
    }
    if status == StatusCode::GONE {
        return Outcome::Gone {
            error: "HTTP 410 Gone".into(),
        };
    }
    let header = |name| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("(not text)"))
    };
    if status.is_redirection() {
        let location = header(LOCATION).unwrap_or("(none)");
        let location: String = location.chars().take(LOCATION_MAX).collect();
        return Outcome::Failed {
            error: format!("HTTP {code} redirect to {location} (not followed)"),
            retry_after: None,
        };
    }
    let retry_after = match status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
            header(RETRY_AFTER).and_then(|v| parse_retry_after(v, now_ms))
        }
        _ => None,
    };
    let error = match header(RETRY_AFTER) {
        Some(v) if retry_after.is_some() => format!("HTTP {code} (Retry-After: {v})"),
        _ => format!("HTTP {code}"),
    };
    Outcome::Failed { error, retry_after }
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
        Ok(resp) => classify(resp.status(), resp.headers(), now_ms),
        Err(e) => Outcome::Failed {
            error: error_chain(&e.without_url()),
            retry_after: None,
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
    use super::*;

    #[test]
    fn answers_are_classified() {
        let secs = |s| Some(Duration::from_secs(s));
        let failed = |error: &str, retry_after| Outcome::Failed {
            error: error.into(),
            retry_after,
        };
        let long = format!("https://x.test/{}", "a".repeat(300));
        let table = [
            (200, vec![], Outcome::Delivered(200)),
            (204, vec![("retry-after", "9")], Outcome::Delivered(204)),
            (
                410,
                vec![],
                Outcome::Gone {
                    error: "HTTP 410 Gone".into(),
                },
            ),
            (
                429,
                vec![("retry-after", "30")],
                failed("HTTP 429 (Retry-After: 30)", secs(30)),
            ),
            (
                503,
                vec![("retry-after", "Thu, 01 Jan 2026 00:02:00 GMT")],
                failed(
                    "HTTP 503 (Retry-After: Thu, 01 Jan 2026 00:02:00 GMT)",
                    secs(120),
                ),
            ),
            (
                503,
                vec![("retry-after", "later")],
                failed("HTTP 503", None),
            ),
            (503, vec![], failed("HTTP 503", None)),
            // Only 429 and 503 are honoured.
            (500, vec![("retry-after", "30")], failed("HTTP 500", None)),
            (
                302,
                vec![("location", "http://127.0.0.1:9/elsewhere")],
                failed(
                    "HTTP 302 redirect to http://127.0.0.1:9/elsewhere (not followed)",
                    None,
                ),
            ),
            (
                301,
                vec![],
                failed("HTTP 301 redirect to (none) (not followed)", None),
            ),
            (
                308,
                vec![("location", long.as_str())],
                failed(
                    &format!(
                        "HTTP 308 redirect to {} (not followed)",
                        &long[..LOCATION_MAX]
                    ),
                    None,
                ),
            ),
        ];
        for (code, headers, expected) in table {
            let mut map = HeaderMap::new();
            for (name, value) in headers {
                map.insert(name, value.parse().expect("header value"));
            }
            let status = StatusCode::from_u16(code).expect("status");
            assert_eq!(
                classify(status, &map, 1_767_225_600_000),
                expected,
                "{code}"
            );
        }
    }

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
