//! `/metrics`: the store's aggregates are read first (async), then the
//! exposition is formatted on a blocking thread (at 100k services it takes
//! a good fraction of a second of CPU, which must not stall the runtime
//! that ingest runs on) and streamed in chunks, family by family. The
//! format follows the scrape's `Accept` ([`Format::negotiate`]).

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tracing::warn;

use super::HttpState;
use crate::metrics::exposition::Format;
use crate::metrics::scrape;

pub(super) async fn render(State(s): State<HttpState>, headers: HeaderMap) -> Response {
    let format = Format::negotiate(headers.get(ACCEPT).and_then(|v| v.to_str().ok()));
    let scraped = scrape::gather(&s.store).await;
    let metrics = s.metrics.clone();
    let chunks =
        match tokio::task::spawn_blocking(move || metrics.render_with(format, &scraped)).await {
            Ok(chunks) => chunks,
            Err(e) => {
                warn!(error = %e, "/metrics render failed");
                return (StatusCode::INTERNAL_SERVER_ERROR, "render failed\n").into_response();
            }
        };
    let body = Body::from_stream(tokio_stream::iter(
        chunks.into_iter().map(Ok::<_, Infallible>),
    ));
    ([(CONTENT_TYPE, format.content_type())], body).into_response()
}
