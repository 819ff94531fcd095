//! Following a list call's pages: `--limit N` and `--page-size N` for
//! `services`, `requests`, `agents` and `deliveries`, and the loop that asks
//! for page after page with the previous answer's `next_page_token` until
//! the last page (an empty token) or the limit. The rows are collected, so
//! that a table aligns over all of them and `--json` prints one document.

use clap::Args;
use picket_proto::contract::limits::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use picket_proto::tonic::{Response, Status};
use picket_proto::v1 as pb;

use crate::client::{Client, answer};

/// The paging flags of a list command.
#[derive(Args, Debug, Clone, Copy)]
pub struct Paging {
    /// Stop after this many rows (0: all).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub limit: usize,
    /// Rows asked for per call (at most 5000); pages are followed until
    /// the last one or --limit.
    #[arg(long, default_value_t = DEFAULT_PAGE_SIZE, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_PAGE_SIZE)))]
    pub page_size: u32,
}

impl Default for Paging {
    fn default() -> Paging {
        Paging {
            limit: 0,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

impl Paging {
    /// These flags were given, `before`'s (a parent command's) where they were not.
    pub fn or(self, before: Paging) -> Paging {
        let default = Paging::default();
        Paging {
            limit: if self.limit == default.limit {
                before.limit
            } else {
                self.limit
            },
            page_size: if self.page_size == default.page_size {
                before.page_size
            } else {
                self.page_size
            },
        }
    }
}

/// A list call's request: where its page starts, how long it is, and
/// the call that answers it.
pub trait PageRequest: Clone {
    type Answer: PageAnswer;
    fn page(self, page_token: String, page_size: u32) -> Self;
    fn call(self, client: Client) -> impl Future<Output = Result<Response<Self::Answer>, Status>>;
}

/// A list call's answer: its rows and the next page's token.
pub trait PageAnswer {
    type Row;
    fn rows(self) -> (Vec<Self::Row>, String);
}

macro_rules! paged {
    ($call:ident: $request:ty => $answer:ty, $rows:ident, $row:ty) => {
        impl PageRequest for $request {
            type Answer = $answer;

            fn page(self, page_token: String, page_size: u32) -> Self {
                Self {
                    page_token,
                    page_size,
                    ..self
                }
            }

            async fn call(self, mut client: Client) -> Result<Response<$answer>, Status> {
                client.$call(self).await
            }
        }

        impl PageAnswer for $answer {
            type Row = $row;
            fn rows(self) -> (Vec<$row>, String) {
                (self.$rows, self.next_page_token)
            }
        }
    };
}

paged!(list_services: pb::ListServicesRequest => pb::ListServicesResponse, services, pb::Service);
paged!(list_requests: pb::ListRequestsRequest => pb::ListRequestsResponse, requests, pb::Request);
paged!(list_agents: pb::ListAgentsRequest => pb::ListAgentsResponse, agents, pb::Agent);
paged!(list_deliveries: pb::ListDeliveriesRequest => pb::ListDeliveriesResponse, deliveries, pb::Delivery);
paged!(list_heartbeats: pb::ListHeartbeatsRequest => pb::ListHeartbeatsResponse, heartbeats, pb::Heartbeat);

/// Every row of the list `request` (with its filters) names, page after
/// page, up to `paging.limit` rows.
pub async fn all<Q: PageRequest>(
    client: &Client,
    paging: Paging,
    request: Q,
) -> anyhow::Result<Vec<<Q::Answer as PageAnswer>::Row>> {
    collect(paging, |token, size| {
        let page = request.clone().page(token, size).call(client.clone());
        async move { Ok(answer(page).await?.rows()) }
    })
    .await
}

/// Every row `fetch(page_token, page_size)` gives, page after page, up to
/// `paging.limit` rows. `fetch` answers with a page's rows and its
/// `next_page_token`.
pub async fn collect<T, F, Fut>(paging: Paging, mut fetch: F) -> anyhow::Result<Vec<T>>
where
    F: FnMut(String, u32) -> Fut,
    Fut: Future<Output = anyhow::Result<(Vec<T>, String)>>,
{
    let mut rows = Vec::new();
    let mut token = String::new();
    loop {
        let mut size = paging.page_size;
        if paging.limit > 0 {
            let left = paging.limit.saturating_sub(rows.len());
            size = size.min(u32::try_from(left).unwrap_or(u32::MAX));
        }
        let (page, next) = fetch(token.clone(), size).await?;
        rows.extend(page);
        if paging.limit > 0 && rows.len() >= paging.limit {
            rows.truncate(paging.limit);
            return Ok(rows);
        }
        if next.is_empty() {
            return Ok(rows);
        }
        anyhow::ensure!(
            next != token,
            "the collector answered the same page token twice"
        );
        token = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list of `n` rows served `page_size` at a time, recording the
    /// sizes asked for.
    async fn run(n: usize, paging: Paging) -> (Vec<usize>, Vec<u32>) {
        let mut asked = Vec::new();
        let rows = collect(paging, |token, size| {
            asked.push(size);
            let start: usize = token.parse().unwrap_or(0);
            let end = (start + size as usize).min(n);
            let next = if end < n {
                end.to_string()
            } else {
                String::new()
            };
            async move { Ok(((start..end).collect(), next)) }
        })
        .await
        .expect("collect");
        (rows, asked)
    }

    #[tokio::test]
    async fn pages_are_followed_to_the_end_or_the_limit() {
        let all = Paging {
            limit: 0,
            page_size: 4,
        };
        let (rows, asked) = run(10, all).await;
        assert_eq!(rows, (0..10).collect::<Vec<_>>());
        assert_eq!(asked, [4, 4, 4]);
        let limited = Paging {
            limit: 6,
            page_size: 4,
        };
        let (rows, asked) = run(10, limited).await;
        assert_eq!(rows, (0..6).collect::<Vec<_>>());
        assert_eq!(asked, [4, 2], "the last call asks only for what is left");
        let (rows, _) = run(0, all).await;
        assert!(rows.is_empty());
    }

    #[tokio::test]
    async fn a_repeated_token_is_an_error_not_a_loop() {
        let paging = Paging {
            limit: 0,
            page_size: 1,
        };
        let err = collect(paging, |_, _| async { Ok((vec![1], "same".to_owned())) })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("same page token twice"), "{err}");
    }
}
