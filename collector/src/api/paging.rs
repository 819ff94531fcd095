//! Page tokens and page sizes of the list calls (Google AIP-158).
//!
//! A token is opaque to clients: base64url (no padding) of a small
//! versioned record — a version byte, the list it belongs to, a
//! fingerprint of the request's filters, and the last key the previous
//! page showed (a few strings). A page continues strictly after that key
//! (keyset pagination), so a token stays meaningful however the rows
//! change between pages. A token from another list, or with other filters,
//! or not a token at all, is a [`BadField`] naming `page_token`. Tokens are
//! not secrets: forging one only moves where a page starts.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use picket_proto::contract::limits::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

use super::convert::BadField;

/// The token layout's version; a token of another version is refused.
const VERSION: u8 = 1;
/// The longest token accepted: a key is a few ids (each at most 128 bytes
/// in practice); anything far longer is not ours.
const MAX_TOKEN_CHARS: usize = 4096;

/// Which list a token continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Services = 1,
    Requests = 2,
    Agents = 3,
    Deliveries = 4,
    Heartbeats = 5,
}

impl List {
    fn call(self) -> &'static str {
        match self {
            List::Services => "ListServices",
            List::Requests => "ListRequests",
            List::Agents => "ListAgents",
            List::Deliveries => "ListDeliveries",
            List::Heartbeats => "ListHeartbeats",
        }
    }
}

/// What binds a token to one list and one set of filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding {
    list: List,
    filters: u64,
}

impl Binding {
    /// The binding of `list` with these filter values (each as the request
    /// gave it, in a fixed order).
    pub fn new(list: List, filters: &[&str]) -> Binding {
        // FNV-1a over the values, each followed by a separator byte.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in filters.iter().flat_map(|f| f.bytes().chain([0xff])) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        Binding {
            list,
            filters: hash,
        }
    }

    /// The token continuing after `key`.
    pub fn token(&self, key: &[&str]) -> String {
        let mut raw = vec![VERSION, self.list as u8];
        raw.extend_from_slice(&self.filters.to_le_bytes());
        for part in key {
            raw.extend_from_slice(&(part.len() as u32).to_le_bytes());
            raw.extend_from_slice(part.as_bytes());
        }
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The key a request's `page_token` continues after: `None` for an
    /// empty token (the first page); the key has `N` strings.
    pub fn key<const N: usize>(&self, token: &str) -> Result<Option<[String; N]>, BadField> {
        if token.is_empty() {
            return Ok(None);
        }
        let bad = |reason: String| BadField {
            field: "page_token",
            reason,
        };
        let foreign = || self.foreign();
        if token.len() > MAX_TOKEN_CHARS {
            return Err(foreign());
        }
        let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| foreign())?;
        let (head, mut rest) = raw.split_at_checked(10).ok_or_else(foreign)?;
        if head[0] != VERSION || head[1] != self.list as u8 {
            return Err(foreign());
        }
        if head[2..10] != self.filters.to_le_bytes() {
            return Err(bad(format!(
                "the token was issued for other filters; a token is only valid with the \
                 filters of the {} call that returned it (start again without page_token)",
                self.list.call()
            )));
        }
        let mut key = Vec::with_capacity(N);
        for _ in 0..N {
            let (len, tail) = rest.split_at_checked(4).ok_or_else(foreign)?;
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            let (part, tail) = tail.split_at_checked(len).ok_or_else(foreign)?;
            key.push(String::from_utf8(part.to_vec()).map_err(|_| foreign())?);
            rest = tail;
        }
        if !rest.is_empty() {
            return Err(foreign());
        }
        key.try_into().map(Some).map_err(|_| foreign())
    }

    /// The error for a token that is not one of this list's (also for a
    /// key part that does not parse).
    pub fn foreign(&self) -> BadField {
        BadField {
            field: "page_token",
            reason: format!("not a page token of {}", self.list.call()),
        }
    }
}

/// A request's `page_size`: 0 means [`DEFAULT_PAGE_SIZE`]; above
/// [`MAX_PAGE_SIZE`] it is refused.
pub fn page_size(requested: u32) -> Result<usize, BadField> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE as usize),
        n if n > MAX_PAGE_SIZE => Err(BadField {
            field: "page_size",
            reason: format!("{n}, at most {MAX_PAGE_SIZE}"),
        }),
        n => Ok(n as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_gives_back_its_key_under_the_same_binding() {
        let b = Binding::new(List::Services, &["up", ""]);
        let token = b.token(&["eq-1", "svc/é"]);
        assert!(
            token
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_eq!(
            b.key::<2>(&token).unwrap(),
            Some(["eq-1".to_owned(), "svc/é".to_owned()])
        );
        assert_eq!(b.key::<2>("").unwrap(), None);
    }

    #[test]
    fn a_token_is_refused_with_other_filters_another_list_or_garbage() {
        let b = Binding::new(List::Services, &["up", ""]);
        let token = b.token(&["eq-1", "svc"]);
        let other = Binding::new(List::Services, &["down", ""]);
        let err = other.key::<2>(&token).unwrap_err();
        assert_eq!(err.field, "page_token");
        assert!(err.reason.contains("other filters"), "{err}");
        // The separator keeps ("ab", "") and ("a", "b") apart.
        assert_ne!(
            Binding::new(List::Agents, &["ab", ""]),
            Binding::new(List::Agents, &["a", "b"])
        );
        let agents = Binding::new(List::Agents, &["up", ""]);
        let err = agents.key::<2>(&token).unwrap_err();
        assert_eq!(
            err.to_string(),
            "page_token: not a page token of ListAgents"
        );
        for garbage in ["!!", "AAAA", &"A".repeat(5000), &token[..token.len() - 2]] {
            let err = b.key::<2>(garbage).unwrap_err();
            assert_eq!(
                err.to_string(),
                "page_token: not a page token of ListServices"
            );
        }
        // Too many or too few key parts for the list.
        assert!(b.key::<1>(&token).is_err());
        assert!(b.key::<3>(&token).is_err());
    }

    #[test]
    fn page_sizes_default_to_500_and_stop_at_5000() {
        assert_eq!(page_size(0).unwrap(), 500);
        assert_eq!(page_size(1).unwrap(), 1);
        assert_eq!(page_size(5000).unwrap(), 5000);
        assert_eq!(
            page_size(5001).unwrap_err().to_string(),
            "page_size: 5001, at most 5000"
        );
    }
}
