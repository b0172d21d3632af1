//! Accepting connections: at most `max_connections` at once, each served
//! over HTTP/1.1 with a time limit on its request headers, all closed
//! gracefully on shutdown.
//!
//! A client that opens a connection and sends nothing, or only part of its
//! headers, is dropped after `header_read_timeout`. Hyper's timer for it
//! starts when the connection opens and again when an answer has been sent,
//! so the same limit closes keep-alive connections left idle. Long-polls are
//! not cut: the timer does not run while a request is being answered.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

/// What the connection loop allows each client.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// How long a connection has to send a request's headers, from its
    /// opening or from the previous answer.
    pub header_read_timeout: Duration,
    /// Connections served at once. Past it, new ones wait in the listen
    /// queue rather than each taking a file descriptor.
    pub max_connections: usize,
}

/// Serves `app` on every accepted connection until `shutdown` resolves;
/// then accepts no more and waits for the open connections to finish their
/// requests. Handlers see the peer as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let open = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = accept_within_cap(&listener, &slots) => accepted,
            () = &mut shutdown => break,
        };
        let Some((stream, peer, slot)) = accepted else {
            continue;
        };
        let service = app
            .clone()
            .map_request(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
        let connection = open
            .watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                // Timeouts and clients that went away: nothing to act on.
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            drop(slot);
        });
    }
    drop(listener);
    open.shutdown().await;
}

/// The next connection, once a slot is free. `None` after an accept error
/// (say, the file limit reached), logged and followed by a short pause so a
/// persistent error does not spin.
async fn accept_within_cap(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> Option<(
    tokio::net::TcpStream,
    SocketAddr,
    tokio::sync::OwnedSemaphorePermit,
)> {
    let slot = slots
        .clone()
        .acquire_owned()
        .await
        .expect("the semaphore is never closed");
    match listener.accept().await {
        Ok((stream, peer)) => Some((stream, peer, slot)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot accept a connection");
            tokio::time::sleep(Duration::from_millis(100)).await;
            None
        }
    }
}
