//! The sizes both ends of the agent link agree on: the largest message
//! either side decodes, how long each Hello field may be, the agent id's
//! characters, and how far result sequence numbers may go.
//!
//! The collector refuses a Hello outside these limits with
//! `INVALID_ARGUMENT` naming the field ([`check_hello`]), which the agent
//! treats as fatal: the same Hello would be refused again. An agent can
//! check its own flags with the same function before it ever connects.

use std::fmt;

/// The largest agent-link message the collector decodes (tonic's
/// `max_decoding_message_size`): 4 MiB. A full batch of
/// results (500, each with a check id of at most [`MAX_ID_BYTES`] and a
/// detail of at most [`MAX_ERROR_DETAIL_BYTES`]) is under 1 MiB. The
/// assignment goes the other way in parts of at most
/// [`MAX_ASSIGNMENT_PART_CHECKS`] checks and about
/// [`MAX_ASSIGNMENT_PART_BYTES`], under the agent's limit (the same 4 MiB).
pub const MAX_LINK_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Checks in one assignment part at most.
pub const MAX_ASSIGNMENT_PART_CHECKS: usize = 5000;

/// The encoded checks one assignment part carries at most (estimated from
/// above, see the collector's `agents/chunks.rs`): 1 MiB, a quarter of
/// [`MAX_LINK_MESSAGE_BYTES`]. A part holds at least one check; a single
/// check is bounded by the config's limits (URL, headers) far below it.
pub const MAX_ASSIGNMENT_PART_BYTES: usize = 1024 * 1024;

/// The largest client-API (`picket.v1`) message either end decodes or
/// encodes: 4 MiB, as the link's. The collector's API, health and
/// reflection servers and every client (picketctl, the test harness) set
/// it explicitly on both directions; a list page stops short of it
/// ([`MAX_PAGE_BYTES`]).
pub const MAX_API_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// The encoded rows one list page may carry: what [`MAX_API_MESSAGE_BYTES`]
/// leaves after 64 KiB for the page token and framing. A page stops
/// before the row that would cross it (and holds at least one row).
pub const MAX_PAGE_BYTES: usize = MAX_API_MESSAGE_BYTES - 64 * 1024;

/// Rows per list page when the request names no `page_size`.
pub const DEFAULT_PAGE_SIZE: u32 = 500;
/// The largest `page_size` a list call accepts; a larger one is refused
/// with `INVALID_ARGUMENT` naming `page_size`.
pub const MAX_PAGE_SIZE: u32 = 5000;

/// Agent ids and check ids: at most this many bytes.
pub const MAX_ID_BYTES: usize = 128;
/// The agent's name and build version.
pub const MAX_NAME_BYTES: usize = 256;
/// The agent's region.
pub const MAX_REGION_BYTES: usize = 64;
/// Labels per agent.
pub const MAX_LABELS: usize = 64;
/// A label's key.
pub const MAX_LABEL_KEY_BYTES: usize = 64;
/// A label's value.
pub const MAX_LABEL_VALUE_BYTES: usize = 256;
/// The credential and the enrollment token as sent.
pub const MAX_SECRET_BYTES: usize = 256;
/// A result's `error_detail`; the collector keeps only this much of a
/// longer one (cut on a character boundary).
pub const MAX_ERROR_DETAIL_BYTES: usize = 1024;

/// A note on a request (`CloseRequest`'s note, `AddRequestNote`'s text),
/// in bytes: a few paragraphs; the API refuses a longer one with
/// `INVALID_ARGUMENT` naming the field.
pub const MAX_NOTE_BYTES: usize = 4096;

/// The largest result sequence number (the store keeps it as a signed
/// 64-bit integer).
pub const MAX_SEQ: u64 = i64::MAX as u64;
/// How far one result's seq may lie above the highest the collector has
/// seen from that agent. Agents number results one by one, so even a month
/// of buffering a thousand checks stays far below; a larger jump is a
/// numbering bug that would push every later seq out of reach, and the
/// collector refuses the stream.
pub const MAX_SEQ_JUMP: u64 = 1 << 32;

/// A Hello field outside its limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name in `picket.agent.v1.Hello`.
    pub field: &'static str,
    pub reason: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for FieldError {}

/// The Hello fields the limits apply to.
#[derive(Debug, Clone, Copy)]
pub struct HelloFields<'a> {
    pub agent_id: &'a str,
    pub credential: &'a str,
    pub enrollment_token: &'a str,
    pub name: &'a str,
    pub region: &'a str,
    pub version: &'a str,
    pub labels: &'a [(&'a str, &'a str)],
}

fn at_most(field: &'static str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.len() > max {
        return Err(FieldError {
            field,
            reason: format!("{} bytes, at most {max}", value.len()),
        });
    }
    Ok(())
}

/// Cuts an error detail to [`MAX_ERROR_DETAIL_BYTES`] on a character
/// boundary: the agent before sending, the collector on receipt.
pub fn cut_error_detail(mut detail: String) -> String {
    if detail.len() > MAX_ERROR_DETAIL_BYTES {
        let mut end = MAX_ERROR_DETAIL_BYTES;
        while !detail.is_char_boundary(end) {
            end -= 1;
        }
        detail.truncate(end);
    }
    detail
}

/// Whether `c` may appear in an agent id: ASCII letters, digits, `.`, `_`,
/// `-` and `:`, so that an id is safe in a log line, a URL and a label.
pub fn id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')
}

/// Checks every Hello field against its limit; the first one outside it
/// is named.
pub fn check_hello(h: &HelloFields<'_>) -> Result<(), FieldError> {
    if h.agent_id.is_empty() {
        return Err(FieldError {
            field: "agent_id",
            reason: "empty".into(),
        });
    }
    at_most("agent_id", h.agent_id, MAX_ID_BYTES)?;
    if let Some(c) = h.agent_id.chars().find(|c| !id_char(*c)) {
        return Err(FieldError {
            field: "agent_id",
            reason: format!("character {c:?} is not a letter, digit, '.', '_', '-' or ':'"),
        });
    }
    at_most("credential", h.credential, MAX_SECRET_BYTES)?;
    at_most("enrollment_token", h.enrollment_token, MAX_SECRET_BYTES)?;
    at_most("name", h.name, MAX_NAME_BYTES)?;
    at_most("region", h.region, MAX_REGION_BYTES)?;
    at_most("version", h.version, MAX_NAME_BYTES)?;
    if h.labels.len() > MAX_LABELS {
        return Err(FieldError {
            field: "labels",
            reason: format!("{} labels, at most {MAX_LABELS}", h.labels.len()),
        });
    }
    for (key, value) in h.labels {
        if key.is_empty() {
            return Err(FieldError {
                field: "labels",
                reason: "a label key is empty".into(),
            });
        }
        at_most("labels (key)", key, MAX_LABEL_KEY_BYTES)?;
        at_most("labels (value)", value, MAX_LABEL_VALUE_BYTES)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello<'a>(labels: &'a [(&'a str, &'a str)]) -> HelloFields<'a> {
        HelloFields {
            agent_id: "0f6c7e1a-2b3c-4d5e-8f90-a1b2c3d4e5f6",
            credential: "",
            enrollment_token: "token",
            name: "edge-1",
            region: "eu",
            version: "0.1.0",
            labels,
        }
    }

    #[test]
    fn each_hello_field_has_a_limit_that_names_it() {
        fn check(h: HelloFields<'_>, expected: Result<(), &str>) {
            let got = check_hello(&h).map_err(|e| e.to_string());
            assert_eq!(got, expected.map_err(str::to_owned), "{h:?}");
        }
        let (long_name, long_id) = ("n".repeat(257), "a".repeat(129));
        let (long_region, long_secret) = ("r".repeat(65), "s".repeat(257));
        let (long_key, long_value) = ("k".repeat(65), "v".repeat(257));
        let many: Vec<(String, String)> = (0..65).map(|i| (format!("k{i}"), "v".into())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        check(hello(&[("net", "dmz")]), Ok(()));
        check(hello(&many[..64]), Ok(()));
        let at_limit = "n".repeat(256);
        check(
            HelloFields {
                name: &at_limit,
                ..hello(&[])
            },
            Ok(()),
        );
        check(
            HelloFields {
                name: &long_name,
                ..hello(&[])
            },
            Err("name: 257 bytes, at most 256"),
        );
        check(
            HelloFields {
                agent_id: "",
                ..hello(&[])
            },
            Err("agent_id: empty"),
        );
        check(
            HelloFields {
                agent_id: &long_id,
                ..hello(&[])
            },
            Err("agent_id: 129 bytes, at most 128"),
        );
        check(
            HelloFields {
                agent_id: "a b",
                ..hello(&[])
            },
            Err("agent_id: character ' ' is not a letter, digit, '.', '_', '-' or ':'"),
        );
        check(
            HelloFields {
                agent_id: "a\u{1b}[31m",
                ..hello(&[])
            },
            Err("agent_id: character '\\u{1b}' is not a letter, digit, '.', '_', '-' or ':'"),
        );
        check(
            HelloFields {
                region: &long_region,
                ..hello(&[])
            },
            Err("region: 65 bytes, at most 64"),
        );
        check(
            HelloFields {
                credential: &long_secret,
                ..hello(&[])
            },
            Err("credential: 257 bytes, at most 256"),
        );
        check(
            HelloFields {
                enrollment_token: &long_secret,
                ..hello(&[])
            },
            Err("enrollment_token: 257 bytes, at most 256"),
        );
        check(
            HelloFields {
                version: &long_name,
                ..hello(&[])
            },
            Err("version: 257 bytes, at most 256"),
        );
        check(hello(&many), Err("labels: 65 labels, at most 64"));
        check(hello(&[("", "v")]), Err("labels: a label key is empty"));
        check(
            hello(&[(&long_key, "v")]),
            Err("labels (key): 65 bytes, at most 64"),
        );
        check(
            hello(&[("k", &long_value)]),
            Err("labels (value): 257 bytes, at most 256"),
        );
    }

    #[test]
    fn a_full_batch_of_maximal_results_fits_in_a_message() {
        // 500 results (the agent's batch), each with two maximal strings
        // and at most 100 bytes of numbers and tags.
        let batch = 500 * (MAX_ID_BYTES + MAX_ERROR_DETAIL_BYTES + 100);
        assert!(batch < MAX_LINK_MESSAGE_BYTES / 4, "{batch}");
    }
}
