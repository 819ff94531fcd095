//! `--collector URL1,URL2`: one command tried against each collector in
//! turn until one answers.
//!
//! A collector that cannot be reached, or that refuses the call with
//! `UNAVAILABLE` (a standby, one shutting down), does not answer; a
//! standby's "leader is URL" puts the leader next, even when it is not in
//! the list (its `advertise_url`). Any other outcome, an error included
//! (`NOT_FOUND`, a bad token), is the answer. When none answers, the error
//! names each URL tried and why.

use std::collections::VecDeque;

use picket_proto::contract::collectors;
use picket_proto::tonic::Code;

use crate::client::{CallError, Unreachable};

/// Why a collector gave no answer, and the leader it named, if any.
struct Unanswered {
    leader: Option<String>,
}

/// Whether `error` means "ask another collector".
fn unanswered(error: &anyhow::Error) -> Option<Unanswered> {
    if error.downcast_ref::<Unreachable>().is_some() {
        return Some(Unanswered { leader: None });
    }
    let status = &error.downcast_ref::<CallError>()?.0;
    (status.code() == Code::Unavailable).then(|| Unanswered {
        leader: collectors::leader_hint(status.code(), status.message()),
    })
}

/// The first answer of `attempt` over `urls` (in order, each once, a
/// leader hint first).
pub async fn first_answer<T>(
    urls: &[String],
    mut attempt: impl AsyncFnMut(&str) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let mut queue: VecDeque<String> = urls.iter().cloned().collect();
    let mut tried: Vec<(String, anyhow::Error)> = Vec::new();
    while let Some(url) = queue.pop_front() {
        if tried.iter().any(|(u, _)| *u == url) {
            continue;
        }
        let error = match attempt(&url).await {
            Ok(answer) => return Ok(answer),
            Err(error) => error,
        };
        let Some(why) = unanswered(&error) else {
            return Err(error);
        };
        if let Some(leader) = why.leader {
            queue.push_front(leader);
        }
        tried.push((url, error));
    }
    if let [(_, error)] = &mut tried[..] {
        // One collector: its own error, as without a list.
        return Err(std::mem::replace(error, anyhow::anyhow!("")));
    }
    let reasons: Vec<String> = tried
        .iter()
        .map(|(url, error)| format!("{url}: {error:#}"))
        .collect();
    anyhow::bail!("no collector answered ({})", reasons.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use picket_proto::tonic::Status;

    fn urls(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn call(status: Status) -> anyhow::Error {
        anyhow::Error::new(CallError(status))
    }

    #[tokio::test]
    async fn the_hint_is_followed_to_the_leader() {
        let mut asked = Vec::new();
        let answer = first_answer(&urls(&["http://s:1", "http://o:2"]), async |url| {
            asked.push(url.to_owned());
            match url {
                "http://s:1" => Err(call(Status::unavailable("standby; leader is http://l:3"))),
                "http://l:3" => Ok(42),
                _ => Err(call(Status::unavailable("down"))),
            }
        })
        .await
        .unwrap();
        assert_eq!(answer, 42);
        assert_eq!(
            asked,
            ["http://s:1", "http://l:3"],
            "the hint came before the list"
        );
    }

    #[tokio::test]
    async fn an_error_that_is_an_answer_is_final() {
        let mut asked = 0;
        let err = first_answer(
            &urls(&["http://a:1", "http://b:2"]),
            async |_| -> anyhow::Result<()> {
                asked += 1;
                Err(call(Status::not_found("no service x")))
            },
        )
        .await
        .unwrap_err();
        assert_eq!(asked, 1);
        assert_eq!(format!("{err:#}"), "no service x");
    }

    #[tokio::test]
    async fn none_answering_names_each_url_and_why() {
        let err = first_answer(
            &urls(&["http://a:1", "http://b:2"]),
            async |url| -> anyhow::Result<()> {
                match url {
                    "http://a:1" => Err(anyhow::Error::new(Unreachable(anyhow::anyhow!(
                        "connection refused"
                    )))),
                    _ => Err(call(Status::unavailable("standby; leader is http://a:1"))),
                }
            },
        )
        .await
        .unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "no collector answered (http://a:1: connection refused; \
             http://b:2: standby; leader is http://a:1)"
        );
    }

    #[tokio::test]
    async fn one_collector_keeps_its_own_error() {
        let err = first_answer(&urls(&["http://a:1"]), async |_| -> anyhow::Result<()> {
            Err(anyhow::Error::new(Unreachable(anyhow::anyhow!(
                "cannot reach the collector at http://a:1"
            ))))
        })
        .await
        .unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "cannot reach the collector at http://a:1"
        );
    }
}
