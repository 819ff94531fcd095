//! `/metrics`: the store's aggregates are read first (async), then the
//! exposition is formatted on a blocking thread (at 100k services it takes
//! a good fraction of a second of CPU, which must not stall the runtime
//! that ingest runs on) and streamed as it is written, in chunks through a
//! bounded channel (`metrics::stream`): a scrape holds a few MiB whatever
//! the number of series, and a dropped connection stops the render. The
//! format follows the scrape's `Accept` ([`Format::negotiate`]).

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use tracing::{debug, warn};

use super::HttpState;
use crate::metrics::exposition::Format;
use crate::metrics::scrape;
use crate::metrics::stream::{self, Streaming};

pub(super) async fn render(State(s): State<HttpState>, headers: HeaderMap) -> Response {
    let format = Format::negotiate(headers.get(ACCEPT).and_then(|v| v.to_str().ok()));
    let scraped = scrape::gather(&s.store).await;
    let (chunks, render) = stream::spawn(s.metrics.clone(), format, scraped, Streaming::default());
    tokio::spawn(async move {
        match render.await {
            Ok(Ok(_)) => {}
            Ok(Err(stopped)) => debug!("/metrics: {stopped}"),
            Err(e) => warn!(error = %e, "/metrics render failed"),
        }
    });
    (
        [(CONTENT_TYPE, format.content_type())],
        Body::from_stream(chunks),
    )
        .into_response()
}
