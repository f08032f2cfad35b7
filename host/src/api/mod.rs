//! The AWS KMS JSON 1.1 wire protocol over HTTP(S): `POST /` with
//! `X-Amz-Target: TrentService.<Operation>`, SigV4-authenticated, binary
//! fields in base64, errors as `{"__type": …, "message": …}`.
//!
//! A request goes: size limit → SigV4 (`sigv4`) → target → JSON → the
//! library call (`dispatch`) → JSON. The peer address becomes the caller's
//! source IP, and the caller's `secure_transport` is true only over TLS,
//! whose version, cipher suite and `Host` header the audit trail records.

pub mod client;
pub mod dispatch;
pub mod identities;
pub mod sigv4;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub use dispatch::{OPERATIONS, WireError};
pub use identities::Identities;

use crate::service::{Caller, Kms, TlsDetails};

/// Bodies larger than this are refused before they are read further.
pub const MAX_BODY: usize = 1 << 20;
/// The target prefix of the KMS JSON protocol.
const TARGET_PREFIX: &str = "TrentService.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The most of a header (user agent, host) that the audit trail records.
const MAX_HEADER_CHARS: usize = 512;

/// How the server listens and whom it accepts.
#[derive(Debug)]
pub struct ServerConfig {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// TLS, if the server should speak HTTPS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The access keys the server accepts.
    pub identities: Identities,
}

struct State {
    kms: Arc<Kms>,
    identities: Identities,
}

/// A bound server, ready to run.
pub struct Server {
    state: Arc<State>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listener", &self.listener)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Binds the listening socket.
    pub async fn bind(kms: Arc<Kms>, config: ServerConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.listen).await?;
        Ok(Self {
            state: Arc::new(State {
                kms,
                identities: config.identities,
            }),
            listener,
            tls: config.tls.map(TlsAcceptor::from),
        })
    }

    /// The address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves connections until `shutdown` completes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                () = &mut shutdown => return,
                accepted = self.listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("accepting a connection failed: {e}");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let state = Arc::clone(&self.state);
            let tls = self.tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(stream) => {
                            let details = tls::details(stream.get_ref().1);
                            serve_connection(TokioIo::new(stream), state, peer, Some(details)).await
                        }
                        Err(e) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                    },
                    None => serve_connection(TokioIo::new(stream), state, peer, None).await,
                }
            });
        }
    }
}

/// Serves one connection's requests; `tls` is the connection's, with no
/// `Host` yet (each request adds its own).
async fn serve_connection<I>(io: I, state: Arc<State>, peer: SocketAddr, tls: Option<TlsDetails>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let state = Arc::clone(&state);
        let tls = tls.clone();
        async move { Ok::<_, Infallible>(handle(state, peer, tls, request).await) }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await
    {
        tracing::debug!("connection from {peer} ended: {e}");
    }
}

fn respond(status: u16, request_id: &str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(CONTENT_TYPE),
    );
    if let Ok(id) = http::HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

fn error_response(error: &WireError, request_id: &str) -> Response<Full<Bytes>> {
    respond(error.status, request_id, error.body())
}

async fn handle(
    state: Arc<State>,
    peer: SocketAddr,
    tls: Option<TlsDetails>,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let request_id = uuid::Uuid::new_v4().to_string();
    match handle_inner(state, peer, tls, request, request_id.clone()).await {
        Ok(body) => respond(200, &request_id, body),
        Err(error) => error_response(&error, &request_id),
    }
}

async fn handle_inner(
    state: Arc<State>,
    peer: SocketAddr,
    tls: Option<TlsDetails>,
    request: Request<Incoming>,
    request_id: String,
) -> Result<Vec<u8>, WireError> {
    let (parts, body) = request.into_parts();
    if parts.method != http::Method::POST || parts.uri.path() != "/" {
        return Err(WireError::client(
            "UnknownOperationException",
            "the KMS protocol is POST / with an X-Amz-Target header",
        ));
    }
    let too_large = || WireError {
        status: 413,
        code: "ValidationException",
        message: format!("the request body is larger than {MAX_BODY} bytes"),
    };
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Err(too_large());
    }
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|_| too_large())?
        .to_bytes();

    let authenticated = sigv4::authenticate(&parts, &body, &state.identities, SystemTime::now())
        .map_err(|e| WireError::client(e.code(), e.to_string()))?;
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .ok_or_else(|| {
            WireError::client(
                "UnknownOperationException",
                "no `X-Amz-Target: TrentService.<Operation>` header",
            )
        })?
        .to_owned();
    let caller = Caller {
        principal: authenticated.principal,
        region: authenticated.region,
        source_ip: Some(peer.ip()),
        secure_transport: tls.is_some(),
        tls: tls.map(|tls| TlsDetails {
            host: header(&parts, http::header::HOST),
            ..tls
        }),
        via_service: None,
        // Empty if the request has none: the trail must not take an HTTP
        // caller without one for the in-process library.
        user_agent: Some(header(&parts, http::header::USER_AGENT).unwrap_or_default()),
        access_key_id: Some(authenticated.access_key_id),
        request_id: Some(request_id),
    };
    if dispatch::blocks(&operation) {
        // Mutations (which commit, and fsync, with their event) and requests
        // that compute for seconds stay off the async workers.
        tokio::task::spawn_blocking(move || {
            dispatch::dispatch(&state.kms, &caller, &operation, &body)
        })
        .await
        .map_err(|e| WireError {
            status: 500,
            code: "KMSInternalException",
            message: format!("the request failed: {e}"),
        })?
    } else {
        // Served on this worker, which also writes the audit event (a few
        // microseconds). With `--audit-fsync` the fsync is made by the
        // audit writer thread and awaited here without holding the worker,
        // so that the workers keep serving and concurrent requests share
        // it. Nothing is sent before the event is durable.
        let (response, pending) = state
            .kms
            .deferring_audit(|| dispatch::dispatch(&state.kms, &caller, &operation, &body));
        state.kms.wait_for_audit(pending).await?;
        response
    }
}

/// A header's text for the audit trail, if the request has it as text: at
/// most [`MAX_HEADER_CHARS`] characters of it.
fn header(parts: &http::request::Parts, name: http::header::HeaderName) -> Option<String> {
    let value = parts.headers.get(name)?.to_str().ok()?;
    Some(value.chars().take(MAX_HEADER_CHARS).collect())
}

/// A server running on its own thread and runtime, for tests and embedding.
/// Dropping it stops the server.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningServer {
    /// Starts `kms` behind a server configured by `config`.
    pub fn start(kms: Arc<Kms>, config: ServerConfig) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let server = runtime.block_on(Server::bind(kms, config))?;
        let addr = server.local_addr()?;
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("keyward-server".into())
            .spawn(move || {
                runtime.block_on(server.run(async {
                    let _ = stopped.await;
                }));
            })?;
        Ok(Self {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
