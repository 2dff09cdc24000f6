//! The HTTP server: `GET /metrics` renders the latest snapshot in the
//! format the client asks for; `/api/v1/...` answers JSON from it
//! ([`super::api`]); `/dashboard` serves the embedded page
//! ([`super::dashboard`]). It runs on its own thread with a
//! single-threaded tokio runtime, away from the workers, and only reads.

use super::api::{self, SocketRates, Sources};
use super::format::{self, Format};
use super::web::{HEAD_TIMEOUT, MAX_HEAD_BYTES, WebSettings};
use crate::capture::stats::CaptureStats;
use crate::collector::Published;
use bytes::Bytes;
use flate2::Compression;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(
        "cannot listen on {addr}: {source} (is another ringflow or exporter using it? pick another with --listen)"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the HTTP server: {0}")]
    Setup(std::io::Error),
}

/// A running server.
pub struct Server {
    pub local_addr: SocketAddr,
    pub thread: JoinHandle<()>,
}

/// Binds `addr` now (so a taken port is an error at start) and serves on a
/// new thread.
pub fn spawn(
    addr: SocketAddr,
    published: Arc<Published>,
    stats: Arc<CaptureStats>,
    web: WebSettings,
) -> Result<Server, HttpError> {
    spawn_on(bind(addr)?, published, stats, web)
}

/// Binds the listening socket, before anything else starts.
pub fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, HttpError> {
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| HttpError::Bind { addr, source })?;
    listener.set_nonblocking(true).map_err(HttpError::Setup)?;
    Ok(listener)
}

/// Serves on a listener from [`bind`], on a new thread.
pub fn spawn_on(
    listener: std::net::TcpListener,
    published: Arc<Published>,
    stats: Arc<CaptureStats>,
    web: WebSettings,
) -> Result<Server, HttpError> {
    let local_addr = listener.local_addr().map_err(HttpError::Setup)?;
    let sources = Arc::new(Sources {
        published,
        rates: SocketRates::start(stats.clone()),
        stats,
        started: std::time::Instant::now(),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(HttpError::Setup)?;
    let thread = std::thread::Builder::new()
        .name("ringflow-http".into())
        .spawn(move || runtime.block_on(serve(listener, sources, web)))
        .map_err(HttpError::Setup)?;
    Ok(Server { local_addr, thread })
}

/// A connection being served: its task, and when it last began a request
/// (or was accepted), in milliseconds since the server started.
struct Connection {
    id: u64,
    task: tokio::task::AbortHandle,
    active_ms: Arc<AtomicU64>,
}

/// Accepts connections and serves each on a task of its own. At most
/// `--web-max-connections` are served at once: beyond that the least
/// recently active one is closed to make room, so idle or slow clients
/// (10000 idle sockets, a slowloris sending a byte a second) cannot keep
/// a scraper out, which needs its connection for milliseconds. Each
/// connection has [`HEAD_TIMEOUT`] to finish its TLS handshake and each
/// request head (also between requests), and a head is at most
/// [`MAX_HEAD_BYTES`].
async fn serve(listener: std::net::TcpListener, sources: Arc<Sources>, web: WebSettings) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            crate::log!("ringflow: HTTP server stopped: {e}");
            return;
        }
    };
    let tls = web.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let base = Instant::now();
    let conns: Arc<Mutex<Vec<Connection>>> = Arc::default();
    let mut next_id = 0u64;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            // Out of file descriptors and the like: keep serving the
            // connections we have, try again shortly.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(mut live) = conns.lock() else {
            return;
        };
        while live.len() >= web.max_connections {
            let Some(i) = live
                .iter()
                .enumerate()
                .min_by_key(|(_, c)| c.active_ms.load(Ordering::Relaxed))
                .map(|(i, _)| i)
            else {
                break;
            };
            live.swap_remove(i).task.abort();
        }
        next_id += 1;
        let id = next_id;
        let active_ms = Arc::new(AtomicU64::new(ms_since(base)));
        let (sources, web, tls, conns2, active) = (
            sources.clone(),
            web.clone(),
            tls.clone(),
            conns.clone(),
            active_ms.clone(),
        );
        let task = tokio::task::spawn(async move {
            connection(stream, peer, tls, sources, web, active, base).await;
            if let Ok(mut live) = conns2.lock() {
                live.retain(|c| c.id != id);
            }
        });
        // (a current-thread runtime runs the task only after this)
        live.push(Connection {
            id,
            task: task.abort_handle(),
            active_ms,
        });
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    sources: Arc<Sources>,
    web: WebSettings,
    active_ms: Arc<AtomicU64>,
    base: Instant,
) {
    let svc = service_fn(move |req: Request<Incoming>| {
        active_ms.store(ms_since(base), Ordering::Relaxed);
        let (sources, web) = (sources.clone(), web.clone());
        async move {
            if web.needs_auth() {
                let header = req
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                if !web.authorized(header, peer).await {
                    return Ok::<_, Infallible>(unauthorized());
                }
            }
            Ok(handle(&req, &sources))
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES);
    // A client that goes away mid-response is not our problem.
    match tls {
        Some(acceptor) => {
            let Ok(Ok(stream)) = tokio::time::timeout(HEAD_TIMEOUT, acceptor.accept(stream)).await
            else {
                return;
            };
            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
        }
        None => {
            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
        }
    }
}

/// Milliseconds since `base`: when a connection was last active.
fn ms_since(base: Instant) -> u64 {
    base.elapsed().as_millis() as u64
}

fn unauthorized() -> Response<Full<Bytes>> {
    let mut r = json_error(401, "authentication required");
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"ringflow\", charset=\"UTF-8\""),
    );
    r
}

fn handle(req: &Request<Incoming>, src: &Sources) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = json_error(405, "only GET and HEAD");
        r.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let gzip = format::accepts_gzip(
        req.headers()
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    match path {
        "/metrics" => return metrics(req, &src.published, &src.stats, gzip),
        "/" => {
            return Response::builder()
                .status(StatusCode::FOUND)
                .header(header::LOCATION, "/dashboard")
                .body(Full::new(Bytes::new()))
                .unwrap_or_default();
        }
        _ => {}
    }
    if let Some(asset) = super::dashboard::asset(path) {
        let r = Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, asset.content_type)
            .header(header::CONTENT_SECURITY_POLICY, CSP)
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .header(header::CACHE_CONTROL, "no-store")
            .header(header::VARY, "Accept-Encoding");
        let gzipped = gzip.then(|| Bytes::from_static(asset.gzip));
        return with_body(r, Bytes::from_static(asset.plain), gzipped);
    }
    let query = req.uri().query().unwrap_or("");
    match api::get(src, path, query) {
        Some(Ok(v)) => json_response(200, &v, gzip),
        Some(Err(e)) => json_error(e.status, &e.message),
        None => json_error(404, &format!("no such path: {path}")),
    }
}

/// The page and its assets come from this server only.
const CSP: &str = "default-src 'self'";

/// A JSON answer, gzipped if the client accepts it.
fn json_response(status: u16, v: &serde_json::Value, gzip: bool) -> Response<Full<Bytes>> {
    // serde_json escapes every string it writes
    let body = serde_json::to_vec(v).unwrap_or_default();
    let r = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::VARY, "Accept-Encoding");
    let gzipped = compressed(gzip, &body);
    with_body(r, Bytes::from(body), gzipped)
}

fn json_error(status: u16, message: &str) -> Response<Full<Bytes>> {
    json_response(status, &serde_json::json!({ "error": message }), false)
}

/// `GET /metrics`: the latest snapshot in the format the `Accept` header
/// prefers (the text format unless it asks for OpenMetrics), gzipped when
/// `Accept-Encoding` allows it.
fn metrics(
    req: &Request<Incoming>,
    published: &Published,
    stats: &Arc<CaptureStats>,
    gzip: bool,
) -> Response<Full<Bytes>> {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = Format::negotiate(accept);
    let text = super::render(published.get(), stats.clone(), format);
    let r = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, format.content_type())
        .header(header::VARY, "Accept, Accept-Encoding");
    let gzipped = compressed(gzip, text.as_bytes());
    with_body(r, Bytes::from(text), gzipped)
}

/// `body` gzipped at the fastest level if `gzip` (what is made anew at
/// each request); `None` also if compressing failed, which in memory it
/// does not, and then the plain body is still a correct answer.
fn compressed(gzip: bool, body: &[u8]) -> Option<Bytes> {
    gzip.then(|| format::gzip(body, Compression::fast()).ok())
        .flatten()
        .map(Bytes::from)
}

/// The response with the gzipped body if there is one, else the plain.
fn with_body(
    r: hyper::http::response::Builder,
    plain: Bytes,
    gzipped: Option<Bytes>,
) -> Response<Full<Bytes>> {
    match gzipped {
        Some(z) => r
            .header(header::CONTENT_ENCODING, "gzip")
            .body(Full::new(z)),
        None => r.body(Full::new(plain)),
    }
    .unwrap_or_default()
}
