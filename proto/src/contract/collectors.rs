//! The collector URLs a client is given (`--collector URL1,URL2`, for the
//! agent and `picketctl`) and the one message text clients read: a
//! standby's refusal, `UNAVAILABLE` "standby; leader is URL".
//!
//! [`parse_urls`] turns the flag's values (each one URL or a comma list)
//! into the ordered list clients try; [`standby_message`] is what a standby
//! says and [`leader_hint`] reads the leader's URL back out of it. Those
//! two are the only exception to "nothing matches on message text": the
//! hint is data, written and read here.

use tonic::Code;
use tonic::codegen::http::Uri;

/// The prefix of a standby's refusal, before the leader's URL.
const STANDBY_PREFIX: &str = "standby; leader is ";

/// What a standby answers (with `UNAVAILABLE`) to calls it does not serve;
/// `leader` is the leader's `advertise_url`, empty while unknown.
pub fn standby_message(leader: &str) -> String {
    if leader.is_empty() {
        format!("{STANDBY_PREFIX}unknown")
    } else {
        format!("{STANDBY_PREFIX}{leader}")
    }
}

/// The leader's URL in a standby's refusal: `Some` only for `UNAVAILABLE`
/// "standby; leader is URL" where URL is a usable collector URL
/// ([`parse_url`]); `None` for any other status, an unknown leader, or a
/// hint that does not parse.
pub fn leader_hint(code: Code, message: &str) -> Option<String> {
    if code != Code::Unavailable {
        return None;
    }
    let url = message.strip_prefix(STANDBY_PREFIX)?.trim();
    parse_url(url).ok()
}

/// Why one element of `--collector` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{element:?}: {reason}")]
pub struct BadUrl {
    /// The element as given (one URL of the list).
    pub element: String,
    /// Why it was refused.
    pub reason: &'static str,
}

/// Parses the values of `--collector` (repeated, each one URL or a comma
/// list) into the URLs to try, in order, each once. An empty element
/// (`a,,b`, a trailing comma, an empty value) or a URL that is not
/// `http(s)://host[:port]` is refused with the element.
pub fn parse_urls<S: AsRef<str>>(values: &[S]) -> Result<Vec<String>, BadUrl> {
    let mut urls: Vec<String> = Vec::new();
    for value in values {
        for element in value.as_ref().split(',') {
            let url = parse_url(element.trim())?;
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
    }
    if urls.is_empty() {
        return Err(BadUrl {
            element: String::new(),
            reason: "no collector URL given",
        });
    }
    Ok(urls)
}

/// One collector URL: `http://` or `https://`, a host, nothing the URI
/// parser refuses; the trailing `/` is dropped.
pub fn parse_url(element: &str) -> Result<String, BadUrl> {
    let bad = |reason| BadUrl {
        element: element.to_owned(),
        reason,
    };
    if element.is_empty() {
        return Err(bad("empty element"));
    }
    let lower = element.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
    else {
        return Err(bad("expected an http:// or https:// URL"));
    };
    if rest.trim_end_matches('/').is_empty() {
        return Err(bad("missing host"));
    }
    let uri = element.parse::<Uri>().map_err(|_| bad("not a valid URL"))?;
    let (Some(authority), Some(host)) = (uri.authority(), uri.host()) else {
        return Err(bad("not a valid URL"));
    };
    // The URI parser leaves the port unchecked: `:99999999` is not a port.
    let after_host = authority.as_str().rsplit_once(host).map_or("", |(_, a)| a);
    if host.is_empty() || (!after_host.is_empty() && uri.port_u16().is_none()) {
        return Err(bad("not a valid URL"));
    }
    Ok(element.trim_end_matches('/').to_owned())
}

/// Whether a collector URL asks for TLS.
pub fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_lists_parse_in_order_each_once() {
        let one = parse_urls(&["http://127.0.0.1:7070/"]).unwrap();
        assert_eq!(one, ["http://127.0.0.1:7070"]);
        let list = parse_urls(&["http://a:1, https://b:2", "http://c:3,http://a:1"]).unwrap();
        assert_eq!(list, ["http://a:1", "https://b:2", "http://c:3"]);
    }

    #[test]
    fn bad_elements_are_named() {
        let cases = [
            ("http://a:1,,http://b:2", "", "empty element"),
            ("http://a:1,", "", "empty element"),
            ("", "", "empty element"),
            (
                "http://a:1,ftp://b",
                "ftp://b",
                "expected an http:// or https:// URL",
            ),
            ("http://", "http://", "missing host"),
            ("http://a b:1", "http://a b:1", "not a valid URL"),
            ("http://a:99999999", "http://a:99999999", "not a valid URL"),
            ("http://a:", "http://a:", "not a valid URL"),
        ];
        for (value, element, reason) in cases {
            let err = parse_urls(&[value]).unwrap_err();
            assert_eq!(
                err,
                BadUrl {
                    element: element.to_owned(),
                    reason
                },
                "{value:?}"
            );
        }
        let shown = parse_urls(&["http://a:1,ftp://b"]).unwrap_err().to_string();
        assert_eq!(shown, "\"ftp://b\": expected an http:// or https:// URL");
    }

    #[test]
    fn the_hint_round_trips_and_nothing_else_is_a_hint() {
        let message = standby_message("http://10.0.0.2:7070");
        assert_eq!(message, "standby; leader is http://10.0.0.2:7070");
        assert_eq!(
            leader_hint(Code::Unavailable, &message).as_deref(),
            Some("http://10.0.0.2:7070")
        );
        assert_eq!(
            leader_hint(Code::Internal, &message),
            None,
            "not UNAVAILABLE"
        );
        let unknown = standby_message("");
        assert_eq!(unknown, "standby; leader is unknown");
        assert_eq!(leader_hint(Code::Unavailable, &unknown), None);
        assert_eq!(leader_hint(Code::Unavailable, "shutting down"), None);
        assert_eq!(
            leader_hint(Code::Unavailable, "standby; leader is not a url"),
            None
        );
    }

    #[test]
    fn https_is_recognised_in_any_case() {
        assert!(is_https("HTTPS://c:1"));
        assert!(!is_https("http://c:1"));
    }
}
