//! The file being validated, and the value checks every section shares.
//!
//! A [`Source`] turns a toml span into a [`ConfigError`] naming the file
//! and the line (or, for a missing key, the key), and parses the values
//! several sections use: durations, listen addresses, http(s) URLs and ids.
//! It knows no section's rules; those live in the section modules.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use super::raw::Sp;
use super::{ConfigError, parse_duration};

/// The config file's name and text, for locating problems.
pub(super) struct Source<'a> {
    pub file: &'a Path,
    pub text: &'a str,
}

impl Source<'_> {
    /// The 1-based line on which `span` starts.
    pub fn line_of(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text[..end].bytes().filter(|b| *b == b'\n').count() + 1
    }

    /// A problem at `span`: `FILE:LINE: reason`.
    pub fn err<T>(&self, span: &Range<usize>, reason: impl Into<String>) -> Result<T, ConfigError> {
        Err(ConfigError {
            file: self.file.to_owned(),
            line: Some(self.line_of(span)),
            key: None,
            reason: reason.into(),
        })
    }

    /// A problem without a line (a missing key): `FILE: key: reason`.
    pub fn err_key<T>(&self, key: &str, reason: impl Into<String>) -> Result<T, ConfigError> {
        Err(ConfigError {
            file: self.file.to_owned(),
            line: None,
            key: Some(key.to_owned()),
            reason: reason.into(),
        })
    }

    pub fn duration(&self, key: &str, v: &Sp<String>) -> Result<Duration, ConfigError> {
        parse_duration(v.get_ref()).or_else(|e| self.err(&v.span(), format!("{key}: {e}")))
    }

    /// The duration at `v` if it is set, else `default`.
    pub fn opt_duration(
        &self,
        key: &str,
        v: Option<&Sp<String>>,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        v.map_or(Ok(default), |v| self.duration(key, v))
    }

    pub fn addr(&self, key: &str, v: &Sp<String>) -> Result<SocketAddr, ConfigError> {
        v.get_ref().parse().or_else(|_| {
            self.err(
                &v.span(),
                format!(
                    "{key}: {:?} is not an address like 127.0.0.1:7070",
                    v.get_ref()
                ),
            )
        })
    }

    /// An absolute `http` or `https` URL with a host.
    pub fn http_url(&self, key: &str, v: &Sp<String>) -> Result<reqwest::Url, ConfigError> {
        if v.get_ref().len() > MAX_URL_BYTES {
            return self.err(
                &v.span(),
                format!(
                    "{key}: the URL is {} bytes long; at most {MAX_URL_BYTES} are allowed",
                    v.get_ref().len()
                ),
            );
        }
        let bad = |why: &str| {
            self.err(
                &v.span(),
                format!("{key}: invalid URL {:?}: {why}", v.get_ref()),
            )
        };
        match reqwest::Url::parse(v.get_ref()) {
            Err(e) => bad(&e.to_string()),
            Ok(u) if u.scheme() != "http" && u.scheme() != "https" => {
                bad("the scheme must be http or https")
            }
            Ok(u) if u.host_str().is_none_or(str::is_empty) => bad("it has no host"),
            Ok(u) => Ok(u),
        }
    }

    /// An id of `kind` (`"equipment"`, `"service"`): a slug not in `seen`,
    /// which it joins.
    pub fn new_id<T: From<String>>(
        &self,
        kind: &str,
        id_text: &Sp<String>,
        seen: &mut HashSet<String>,
    ) -> Result<T, ConfigError> {
        let id: T = self.id(kind, id_text)?;
        let text = id_text.get_ref();
        if !seen.insert(text.clone()) {
            return self.err(
                &id_text.span(),
                format!("{kind} id {text:?} is defined twice"),
            );
        }
        Ok(id)
    }

    /// An id of `kind`: a slug of at most [`MAX_ID_BYTES`].
    pub fn id<T: From<String>>(&self, kind: &str, id: &Sp<String>) -> Result<T, ConfigError> {
        let text = id.get_ref();
        if text.len() > MAX_ID_BYTES {
            return self.err(
                &id.span(),
                format!(
                    "{kind} id {:?}…: at most {MAX_ID_BYTES} characters are allowed",
                    text.get(..32).unwrap_or(text)
                ),
            );
        }
        if !is_slug(text) {
            return self.err(
                &id.span(),
                format!("{kind} id {text:?}: use letters, digits, '-', '_' or '.'"),
            );
        }
        Ok(text.clone().into())
    }
}

/// The longest URL a service or webhook may have: a listing row stays
/// small enough for 5000 of them to fit in one API message.
pub const MAX_URL_BYTES: usize = 8192;

/// The longest equipment or service id.
pub const MAX_ID_BYTES: usize = 128;

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}
