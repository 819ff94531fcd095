//! The timing hooks placed under reqwest: each marks the current probe's
//! [`Recorder`] and otherwise does exactly what reqwest would do.
//!
//! - [`TimedResolver`] (reqwest `dns_resolver`): the system resolver
//!   (`getaddrinfo`, as reqwest's default), timed. IP literals never reach a
//!   resolver, so their DNS phase is 0.
//! - [`TimingLayer`] (reqwest `connector_layer`): wraps the whole connector
//!   (resolve, TCP connect with the source address, TLS handshake), marking
//!   a connection's start and end.
//! - [`TimedSessionStore`] (rustls `Resumption`): rustls asks it for a
//!   key-exchange hint and resumption tickets while building the
//!   ClientHello, right after the TCP connect; that first ask marks the TLS
//!   start. It stores sessions in rustls's own in-memory cache, as before.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use rustls::NamedGroup;
use rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue,
};
use rustls_pki_types::ServerName;

use super::phases::Recorder;

/// The system resolver, timed.
#[derive(Debug, Default, Clone, Copy)]
pub struct TimedResolver;

impl Resolve for TimedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let recorder = Recorder::current();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            if let Some(r) = &recorder {
                r.dns_started();
            }
            let found = tokio::net::lookup_host((host.as_str(), 0)).await;
            if let Some(r) = &recorder {
                r.dns_done();
            }
            let addrs: Vec<SocketAddr> = found?.collect();
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Marks the start and end of every connection reqwest opens.
#[derive(Debug, Default, Clone, Copy)]
pub struct TimingLayer;

impl<S> tower_layer::Layer<S> for TimingLayer {
    type Service = Timing<S>;

    fn layer(&self, inner: S) -> Timing<S> {
        Timing { inner }
    }
}

/// The service [`TimingLayer`] makes.
#[derive(Debug, Clone)]
pub struct Timing<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, R> tower_service::Service<R> for Timing<S>
where
    S: tower_service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let recorder = Recorder::current();
        if let Some(r) = &recorder {
            r.connect_started();
        }
        let connecting = self.inner.call(req);
        Box::pin(async move {
            let conn = connecting.await;
            if let Some(r) = &recorder {
                r.connect_done();
            }
            conn
        })
    }
}

/// rustls's in-memory session cache, marking the TLS start.
#[derive(Debug)]
pub struct TimedSessionStore {
    inner: ClientSessionMemoryCache,
}

impl TimedSessionStore {
    /// A store remembering up to `size` sessions (rustls's default is 256).
    pub fn new(size: usize) -> TimedSessionStore {
        TimedSessionStore {
            inner: ClientSessionMemoryCache::new(size),
        }
    }
}

fn mark_tls_start() {
    if let Some(r) = Recorder::current() {
        r.tls_started();
    }
}

impl ClientSessionStore for TimedSessionStore {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.inner.set_kx_hint(server_name, group);
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        mark_tls_start();
        self.inner.kx_hint(server_name)
    }

    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.inner.set_tls12_session(server_name, value);
    }

    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        mark_tls_start();
        self.inner.tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.inner.remove_tls12_session(server_name);
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        self.inner.insert_tls13_ticket(server_name, value);
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        mark_tls_start();
        self.inner.take_tls13_ticket(server_name)
    }
}
