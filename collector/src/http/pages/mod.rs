//! The status pages: `/`, `/services/{id}`, `/requests/{id}`, `/agents`,
//! `/agents/{id}`, and their stylesheet `/static/picket.css`.
//! Server-rendered HTML (askama templates in `collector/templates/`,
//! escaped on output), readable without JavaScript, refreshing itself
//! every 30 s.
//!
//! One module per page turns store rows into a template through `view`
//! (words, percentages, bars) and `chart` (the latency SVG). Pages read the
//! store's read pool and rollups only, never raw results.
//!
//! **Access.** The pages show what the read API shows, so when `read_token`
//! is set they ask for it like the API does: `Authorization: Bearer TOKEN`,
//! or HTTP basic auth with the token as the password (any user name; a
//! browser prompts for it). The admin token is accepted too. Without a
//! `read_token` they are open. The stylesheet is always open.

mod agent;
mod agents;
mod chart;
mod index;
mod request;
mod service;
mod view;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use base64::Engine;

use crate::agents::AgentsView;
use crate::agents::auth::token_eq;
use crate::config::settings::ApiSettings;
use crate::store::{Store, StoreError};

/// Services per page of `/`.
pub const PAGE_SIZE: usize = 50;

/// What the page handlers read.
#[derive(Clone)]
pub struct Pages {
    pub store: Store,
    /// Which agents are live, and the assignment (checks per agent).
    pub agents: AgentsView,
    /// The API's tokens (swapped by a reload), which guard the pages too.
    pub api: Arc<arc_swap::ArcSwap<ApiSettings>>,
}

/// The pages' routes, to merge into the HTTP router.
pub fn router(pages: Pages) -> Router {
    let guarded = Router::new()
        .route("/", get(index::page))
        .route("/services/{id}", get(service::page))
        .route("/requests/{id}", get(request::page))
        .route("/agents", get(agents::page))
        .route("/agents/{id}", get(agent::page))
        .route_layer(middleware::from_fn_with_state(pages.clone(), guard))
        .with_state(pages);
    Router::new()
        .route("/static/picket.css", get(stylesheet))
        .merge(guarded)
}

/// The stylesheet, compiled into the binary.
const CSS: &str = include_str!("../../../static/picket.css");

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        CSS,
    )
}

/// Lets a request through when no `read_token` is set, or when it carries
/// the read or admin token (bearer or basic auth password).
async fn guard(State(p): State<Pages>, request: Request, next: Next) -> Response {
    let settings = p.api.load();
    let Some(read) = &settings.read_token else {
        return next.run(request).await;
    };
    let given = presented_token(request.headers()).unwrap_or_default();
    let accepted = [Some(read), settings.admin_token.as_ref()];
    let ok = accepted
        .iter()
        .flatten()
        .fold(false, |ok, token| ok | token_eq(&given, token));
    if ok {
        return next.run(request).await;
    }
    let mut response = error_page(
        StatusCode::UNAUTHORIZED,
        "Authentication required",
        "These pages need the collector's read token: as the password of HTTP basic \
         authentication (any user name), or as Authorization: Bearer TOKEN.",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"picket\", charset=\"UTF-8\""),
    );
    response
}

/// The token of a bearer header, or the password of a basic one.
fn presented_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    if let Some(token) = value.strip_prefix("Bearer ") {
        return Some(token.to_owned());
    }
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let pair = String::from_utf8(decoded).ok()?;
    pair.split_once(':')
        .map(|(_, password)| password.to_owned())
}

/// What every page shows around its content.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub title: String,
    /// When the page was rendered, in words.
    pub rendered: String,
    /// Which navigation link is the current page.
    pub section: &'static str,
    /// Appended to the stylesheet's URL so that a new version is fetched.
    pub version: &'static str,
}

impl Chrome {
    pub fn new(title: impl Into<String>, section: &'static str, now_ms: i64) -> Chrome {
        Chrome {
            title: title.into(),
            rendered: view::time(now_ms),
            section,
            version: env!("CARGO_PKG_VERSION"),
        }
    }

    /// An error page's: no render time.
    fn bare(title: &str) -> Chrome {
        Chrome {
            rendered: String::new(),
            ..Chrome::new(title, "", 0)
        }
    }
}

/// A page's failure: what the visitor is told.
#[derive(Debug)]
pub enum PageError {
    NotFound(String),
    BadRequest(String),
    Internal(String),
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => PageError::NotFound(what),
            e => PageError::Internal(e.to_string()),
        }
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        PageError::Internal(format!("template: {e}"))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::NotFound(what) => error_page(
                StatusCode::NOT_FOUND,
                "Not found",
                &format!("{what} not found."),
            ),
            PageError::BadRequest(why) => error_page(StatusCode::BAD_REQUEST, "Bad request", &why),
            PageError::Internal(why) => {
                tracing::warn!(error = %why, "status page failed");
                error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Error",
                    "The page could not be rendered; the collector's log says why.",
                )
            }
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    page: Chrome,
    message: &'a str,
}

fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let page = ErrorPage {
        page: Chrome::bare(title),
        message,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, message.to_owned()).into_response(),
    }
}

/// Renders a page template as a 200 response.
fn render(t: &impl Template) -> Result<Response, PageError> {
    Ok(Html(t.render()?).into_response())
}
