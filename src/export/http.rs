//! The HTTP server: `GET /metrics` renders the latest snapshot in the
//! format the client asks for; `/api/v1/...` answers JSON from it
//! ([`super::api`]); `/dashboard` serves the embedded page
//! ([`super::dashboard`]). It runs on its own thread with a
//! single-threaded tokio runtime, away from the workers, and only reads.
//!
//! That thread only moves bytes: whatever takes time (rendering the
//! exposition, compressing it, building an API answer) runs on tokio's
//! blocking pool, so no request waits for another's work. The exposition
//! of a snapshot is rendered once per format and compressed once, the
//! first time it is asked for, and every scraper of that snapshot gets
//! the same bytes: scrapers that ask while it renders wait for that one
//! render, they do not start their own.

use super::api::{self, SocketRates, Sources};
use super::format::{self, Format};
use super::web::{Auth, HEAD_TIMEOUT, MAX_HEAD_BYTES, WebSettings};
use crate::capture::stats::CaptureStats;
use crate::collector::{Published, Snapshot};
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
use tokio::sync::watch;

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
    let sources = Arc::new(Shared {
        sources: Sources {
            published,
            rates: SocketRates::start(stats.clone()),
            stats,
            started: std::time::Instant::now(),
        },
        renders: [Mutex::new(None), Mutex::new(None)],
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        // the work of requests, beside the thread that moves their bytes
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
        .map_err(HttpError::Setup)?;
    let thread = std::thread::Builder::new()
        .name("ringflow-http".into())
        .spawn(move || runtime.block_on(serve(listener, sources, web)))
        .map_err(HttpError::Setup)?;
    Ok(Server { local_addr, thread })
}

/// Requests being worked on at once (renders, compression, API answers);
/// more wait for a thread. Scrapers waiting for a render in progress take
/// none.
const BLOCKING_THREADS: usize = 16;

/// What the server answers from: the API's sources and the exposition of
/// the latest snapshot asked for.
struct Shared {
    sources: Sources,
    /// Per format (text, OpenMetrics): the latest render, or the one
    /// under way.
    renders: [Mutex<Option<Render>>; 2],
}

/// The longest one rendered exposition is served.
const EXPOSITION_MAX_AGE: Duration = Duration::from_secs(1);

/// Work started once on a blocking thread and run to its end whoever
/// waits for it (a client that goes away never makes it start again);
/// everyone who asks meanwhile gets its result.
#[derive(Clone)]
struct Job<T>(watch::Receiver<Option<T>>);

impl<T: Clone + Send + Sync + 'static> Job<T> {
    fn start(work: impl FnOnce() -> T + Send + 'static) -> Job<T> {
        let (tx, rx) = watch::channel(None);
        tokio::task::spawn_blocking(move || {
            let _ = tx.send(Some(work()));
        });
        Job(rx)
    }

    /// Not done, and its thread alive (one that panicked dropped its
    /// sender).
    fn under_way(&self) -> bool {
        self.0.borrow().is_none() && self.0.has_changed().is_ok()
    }

    /// Its result once done; `None` if its thread panicked.
    async fn result(&self) -> Option<T> {
        let mut rx = self.0.clone();
        let done = rx.wait_for(Option::is_some).await.ok()?;
        done.clone()
    }
}

/// One render of one snapshot in one format, started by the first scraper
/// that asks. The capture's and the process's own counters are as they
/// were then: at most a refresh, or a second, old.
struct Render {
    snapshot: Arc<Snapshot>,
    started: Instant,
    body: Job<Arc<Body>>,
}

/// A rendered exposition, and the same gzipped: compressed once, when
/// first asked for (`None`: compressing failed; then the plain one goes).
struct Body {
    plain: Bytes,
    gzip: std::sync::OnceLock<Job<Option<Bytes>>>,
}

impl Body {
    async fn gzipped(&self) -> Option<Bytes> {
        let plain = self.plain.clone();
        self.gzip
            .get_or_init(|| Job::start(move || compressed(true, &plain)))
            .result()
            .await
            .flatten()
    }
}

impl Shared {
    /// The render to serve in `format`: the latest if it is of the
    /// snapshot published now and less than [`EXPOSITION_MAX_AGE`] old (a
    /// finished replay publishes no more, and the process's own counters
    /// move on), or the one under way (a render at a time: its scrapers
    /// get a snapshot a refresh old rather than wait for another); else a
    /// new one, started now.
    fn render(&self, format: Format) -> Job<Arc<Body>> {
        let i = match format {
            Format::Text => 0,
            Format::OpenMetrics => 1,
        };
        let now = self.sources.published.get();
        let mut slot = crate::lock(&self.renders[i]);
        let keep = slot.as_ref().is_some_and(|r| {
            let fresh = Arc::ptr_eq(&r.snapshot, &now) && r.started.elapsed() <= EXPOSITION_MAX_AGE;
            fresh || r.body.under_way()
        });
        if !keep {
            let (snapshot, stats) = (now.clone(), self.sources.stats.clone());
            *slot = Some(Render {
                snapshot: now,
                started: Instant::now(),
                body: Job::start(move || {
                    Arc::new(Body {
                        plain: Bytes::from(super::render(snapshot, stats, format)),
                        gzip: std::sync::OnceLock::new(),
                    })
                }),
            });
        }
        match slot.as_ref() {
            Some(r) => r.body.clone(),
            None => unreachable!("a render was just put in"),
        }
    }
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
async fn serve(listener: std::net::TcpListener, sources: Arc<Shared>, web: WebSettings) {
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
    sources: Arc<Shared>,
    web: WebSettings,
    active_ms: Arc<AtomicU64>,
    base: Instant,
) {
    let svc = service_fn(move |req: Request<Incoming>| {
        active_ms.store(ms_since(base), Ordering::Relaxed);
        let (sources, web) = (sources.clone(), web.clone());
        async move {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|v| v.to_str().ok());
            let mut r = if !web.check_host(host, peer) {
                json_error(
                    421,
                    "this server does not answer for that Host (see --web-allowed-hosts)",
                )
            } else {
                let credentials = req
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                match web.needs_auth() {
                    false => handle(req, sources).await,
                    true => match web.authorized(credentials, peer).await {
                        Auth::Granted => handle(req, sources).await,
                        Auth::Denied => unauthorized(),
                        Auth::Busy { retry_after } => too_many(retry_after),
                    },
                }
            };
            every_response(&mut r);
            Ok::<_, Infallible>(r)
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
            let _ = builder
                .serve_connection(TokioIo::new(JsonErrors::new(stream)), svc)
                .await;
        }
        None => {
            let _ = builder
                .serve_connection(TokioIo::new(JsonErrors::new(stream)), svc)
                .await;
        }
    }
}

/// A connection's stream, through which the answers hyper writes by
/// itself to a request it cannot parse (400, 431, ...: a status and an
/// empty body) get the JSON body every other error has. Such an answer is
/// one head written at once (the connection closes after it); it is taken
/// whole and written again with its body.
struct JsonErrors<T> {
    inner: T,
    /// A rewritten answer not yet all written, and how much of it is.
    out: Vec<u8>,
    at: usize,
}

impl<T> JsonErrors<T> {
    fn new(inner: T) -> JsonErrors<T> {
        JsonErrors {
            inner,
            out: Vec::new(),
            at: 0,
        }
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> JsonErrors<T> {
    /// Writes what is left of a rewritten answer.
    fn drain(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        while self.at < self.out.len() {
            let out = &self.out[self.at..];
            match std::task::ready!(std::pin::Pin::new(&mut self.inner).poll_write(cx, out))? {
                0 => return std::task::Poll::Ready(Err(std::io::ErrorKind::WriteZero.into())),
                n => self.at += n,
            }
        }
        self.out.clear();
        self.at = 0;
        std::task::Poll::Ready(Ok(()))
    }
}

/// The head hyper writes for a request it could not parse, with a JSON
/// body: a status of 400 or above, `content-length: 0`, nothing after.
fn with_json_body(buf: &[u8]) -> Option<Vec<u8>> {
    let head = std::str::from_utf8(buf).ok()?;
    let rest = head.strip_prefix("HTTP/1.1 ")?;
    let code: u16 = rest.get(..3)?.parse().ok()?;
    let empty = "\r\ncontent-length: 0\r\n";
    if code < 400 || !head.ends_with("\r\n\r\n") || !head.contains(empty) {
        return None;
    }
    let reason = rest[3..].split("\r\n").next()?.trim().to_ascii_lowercase();
    let body = serde_json::json!({ "error": format!("the request could not be read: {reason}") })
        .to_string();
    let length = format!(
        "\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    Some((head.replacen(empty, &length, 1) + &body).into_bytes())
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for JsonErrors<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for JsonErrors<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::task::Poll;
        std::task::ready!(self.drain(cx))?;
        if let Some(answer) = with_json_body(buf) {
            self.out = answer;
            // taken: the rest goes out now or at the next write or flush
            if let Poll::Ready(Err(e)) = self.drain(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::ready!(self.drain(cx))?;
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::ready!(self.drain(cx))?;
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Milliseconds since `base`: when a connection was last active.
fn ms_since(base: Instant) -> u64 {
    base.elapsed().as_millis() as u64
}

/// What every answer carries: not to be framed, sniffed or cached.
fn every_response(r: &mut Response<Full<Bytes>>) {
    let h = r.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(header::HeaderValue::from_static("frame-ancestors 'none'"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
}

/// 429: checking the password now would cost more than is allowed.
fn too_many(retry_after: u64) -> Response<Full<Bytes>> {
    let mut r = json_error(429, "too many password checks: try again later");
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after));
    r
}

fn unauthorized() -> Response<Full<Bytes>> {
    let mut r = json_error(401, "authentication required");
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"ringflow\", charset=\"UTF-8\""),
    );
    r
}

async fn handle(req: Request<Incoming>, sh: Arc<Shared>) -> Response<Full<Bytes>> {
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
        "/metrics" => {
            let accept = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            return metrics(Format::negotiate(accept), &sh, gzip).await;
        }
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
            .header(header::VARY, "Accept-Encoding");
        let gzipped = gzip.then(|| Bytes::from_static(asset.gzip));
        return with_body(r, Bytes::from_static(asset.plain), gzipped);
    }
    // an API answer is built and compressed off the server's thread
    let (path, query) = (
        path.to_string(),
        req.uri().query().unwrap_or("").to_string(),
    );
    let work = tokio::task::spawn_blocking(move || match api::get(&sh.sources, &path, &query) {
        Some(Ok(v)) => json_response(200, &v, gzip),
        Some(Err(e)) => json_error(e.status, &e.message),
        None => json_error(404, &format!("no such path: {path}")),
    });
    work.await
        .unwrap_or_else(|_| json_error(500, "the answer could not be built"))
}

/// The page and its assets come from this server only, and it is framed
/// by nobody.
const CSP: &str = "default-src 'self'; frame-ancestors 'none'";

/// A JSON answer, gzipped if the client accepts it.
fn json_response(status: u16, v: &serde_json::Value, gzip: bool) -> Response<Full<Bytes>> {
    // serde_json escapes every string it writes
    let body = serde_json::to_vec(v).unwrap_or_default();
    let r = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::VARY, "Accept-Encoding");
    let gzipped = compressed(gzip, &body);
    with_body(r, Bytes::from(body), gzipped)
}

fn json_error(status: u16, message: &str) -> Response<Full<Bytes>> {
    json_response(status, &serde_json::json!({ "error": message }), false)
}

/// `GET /metrics`: the latest snapshot in the format the `Accept` header
/// prefers (the text format unless it asks for OpenMetrics), gzipped when
/// `Accept-Encoding` allows it; rendered and compressed once per snapshot
/// (see [`Shared::render`]).
async fn metrics(format: Format, sh: &Shared, gzip: bool) -> Response<Full<Bytes>> {
    let Some((body, gzipped)) = exposition_body(format, sh, gzip).await else {
        return json_error(500, "the exposition could not be rendered");
    };
    let r = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, format.content_type())
        .header(header::VARY, "Accept, Accept-Encoding");
    with_body(r, body.plain.clone(), gzipped)
}

/// The exposition of the latest snapshot in `format` (see
/// [`Shared::render`]), and, if `gzip`, the same compressed (`None` if
/// compressing failed); `None` altogether if the render failed.
async fn exposition_body(
    format: Format,
    sh: &Shared,
    gzip: bool,
) -> Option<(Arc<Body>, Option<Bytes>)> {
    let body = sh.render(format).result().await?;
    let gzipped = match gzip {
        true => body.gzipped().await,
        false => None,
    };
    Some((body, gzipped))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Scrapers of one snapshot share one render and one compression (the
    /// very same buffers), whether they come together or one after the
    /// other; a new snapshot gets a new render.
    #[test]
    fn every_scraper_of_a_snapshot_gets_the_same_bytes() {
        let published = Arc::new(Published::new(Snapshot::empty(1)));
        let stats = Arc::new(CaptureStats::default());
        let sh = Arc::new(Shared {
            sources: Sources {
                published: published.clone(),
                rates: SocketRates::start(stats.clone()),
                stats,
                started: Instant::now(),
            },
            renders: [Mutex::new(None), Mutex::new(None)],
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let scrape = |n: usize| {
            rt.block_on(async {
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..n {
                    let sh = sh.clone();
                    set.spawn(
                        async move { exposition_body(Format::Text, &sh, true).await.unwrap() },
                    );
                }
                let mut got = Vec::new();
                while let Some(r) = set.join_next().await {
                    got.push(r.unwrap());
                }
                got
            })
        };
        let first = scrape(8);
        let (body, gz) = &first[0];
        let gz = gz.as_ref().unwrap();
        assert!(body.plain.starts_with(b"# HELP"));
        for (b, z) in first.iter().chain(&scrape(2)) {
            assert!(Arc::ptr_eq(b, body));
            assert_eq!(z.as_ref().unwrap().as_ptr(), gz.as_ptr());
        }
        // OpenMetrics is rendered apart
        let om = rt
            .block_on(exposition_body(Format::OpenMetrics, &sh, false))
            .unwrap();
        assert!(!Arc::ptr_eq(&om.0, body) && om.1.is_none());
        // a newer snapshot: a new render
        published.set_sampled(Arc::new(Snapshot::empty(1)));
        let (again, _) = &scrape(1)[0];
        assert!(!Arc::ptr_eq(again, body));
    }
}
