//! The accept loop, in place of `axum::serve`, for what a client must not be able to hold:
//!
//! - a connection slot: at most `max_connections` at once; the next is answered 503 and
//!   closed straight from the accept loop, without a task;
//! - a connection without sending a request: `header_read_timeout_ms` to send a request's
//!   headers, `idle_timeout_ms` between requests;
//! - a stream slot: at most `max_open_streams` (see [`Lifecycle::open_stream`]);
//! - the shutdown: after `drain_timeout_ms` the streams still open get an error chunk (and
//!   are billed as usual), whatever still runs is cut, and `serve` returns.
//!
//! hyper's own `header_read_timeout` is not used: in hyper 1.12 its timer starts when the
//! previous response ends, so one value would be both the header limit and the idle limit
//! (and it does not apply to HTTP/2). A watchdog per connection times both phases instead.

use crate::error::GatewayError;
use axum::body::{Body, HttpBody};
use axum::Router;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Largest `max_connections` / `max_open_streams`: all of a cap's permits are taken back
/// at shutdown in one `acquire_many(u32)`, within the semaphore's own maximum.
pub const MAX_CAP: u32 = 1 << 24;

/// After the drain deadline, how long ended streams get to write their error chunk and
/// settle, and then how long cut connections get to unwind.
const FINAL_GRACE: Duration = Duration::from_secs(2);

/// Pause after an accept error other than a connection's own (out of file descriptors):
/// retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What the handlers share with the accept loop: the open-streams cap and the drain signal.
pub struct Lifecycle {
    streams: Arc<Semaphore>,
    max_streams: u32,
    drain: watch::Sender<bool>,
}

/// A stream's slot under `max_open_streams`, held by its task until it has settled.
pub struct StreamSlot {
    _permit: OwnedSemaphorePermit,
    drain: watch::Receiver<bool>,
}

impl Lifecycle {
    pub fn new(max_streams: usize) -> Lifecycle {
        let max_streams = u32::try_from(max_streams).unwrap_or(MAX_CAP).min(MAX_CAP);
        Lifecycle {
            streams: Arc::new(Semaphore::new(max_streams as usize)),
            max_streams,
            drain: watch::channel(false).0,
        }
    }

    /// A slot for one more stream, or 503 (beyond the cap, or draining).
    pub fn open_stream(&self) -> Result<StreamSlot, GatewayError> {
        if *self.drain.borrow() {
            return Err(GatewayError::ShuttingDown);
        }
        let permit = self
            .streams
            .clone()
            .try_acquire_owned()
            .map_err(|_| GatewayError::Overloaded("Too many open streams; retry shortly"))?;
        Ok(StreamSlot {
            _permit: permit,
            drain: self.drain.subscribe(),
        })
    }

    /// Tells every stream to end now (with an error chunk).
    fn start_drain(&self) {
        self.drain.send_replace(true);
    }

    /// Resolves once every stream has given its slot back (ended and settled).
    async fn streams_done(&self) {
        let _all = self.streams.acquire_many(self.max_streams).await;
    }
}

impl StreamSlot {
    /// Resolves when the drain deadline has passed; never otherwise.
    pub async fn drained(&mut self) {
        if self.drain.wait_for(|d| *d).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Timeouts {
    header: Duration,
    idle: Duration,
    /// How often a busy or idle connection looks at its clock: a quarter of the shorter
    /// timeout, so either fires at most 25% late.
    tick: Duration,
}

/// Where a connection stands, written from its I/O and its requests, read by its watchdog.
/// Times are milliseconds since `origin`.
struct Activity {
    origin: Instant,
    /// Requests whose response has not finished (more than one only with HTTP/2).
    busy: AtomicUsize,
    /// When the connection last became idle (accepted, or a response ended).
    idle_since: AtomicU64,
    /// When the pending request's first byte arrived, or `NONE` while idle or busy.
    head_since: AtomicU64,
}

const NONE: u64 = u64::MAX;

enum Verdict {
    Fine(Instant),
    Expired(&'static str),
}

impl Activity {
    fn new() -> Activity {
        // A new connection's first request is held to the header timeout from the start: a
        // client that connects and sends nothing is a slowloris too.
        Activity {
            origin: Instant::now(),
            busy: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn at(&self, ms: u64, plus: Duration) -> Instant {
        let d = Duration::from_millis(ms).saturating_add(plus);
        self.origin
            .checked_add(d)
            .unwrap_or_else(|| Instant::now() + plus)
    }

    fn bytes_read(&self) {
        if self.busy.load(Ordering::Acquire) == 0 {
            let _ = self.head_since.compare_exchange(
                NONE,
                self.now_ms(),
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
    }

    fn request_started(&self) {
        self.busy.fetch_add(1, Ordering::AcqRel);
        self.head_since.store(NONE, Ordering::Release);
    }

    fn response_ended(&self) {
        if self.busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle_since.store(self.now_ms(), Ordering::Release);
            self.head_since.store(NONE, Ordering::Release);
        }
    }

    fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Acquire) > 0
    }

    fn verdict(&self, t: &Timeouts) -> Verdict {
        let now = Instant::now();
        if self.busy.load(Ordering::Acquire) > 0 {
            return Verdict::Fine(now + t.tick);
        }
        let head = self.head_since.load(Ordering::Acquire);
        if head != NONE {
            let deadline = self.at(head, t.header);
            return if now >= deadline {
                Verdict::Expired("header read timeout")
            } else {
                Verdict::Fine(deadline)
            };
        }
        let deadline = self.at(self.idle_since.load(Ordering::Acquire), t.idle);
        if now >= deadline {
            Verdict::Expired("idle timeout")
        } else {
            // A request may start meanwhile, and its header deadline may come first.
            Verdict::Fine(deadline.min(now + t.tick))
        }
    }
}

/// The accepted socket, telling its connection's `Activity` when bytes arrive.
struct Watched {
    tcp: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.tcp).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

/// Marks a request in progress from its headers until its response body is dropped (sent,
/// or the connection gone).
struct Busy(Arc<Activity>);

impl Busy {
    fn new(activity: &Arc<Activity>) -> Busy {
        activity.request_started();
        Busy(activity.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.response_ended();
    }
}

/// The response body, carrying the request's `Busy` mark.
struct Tracked {
    body: Body,
    _busy: Busy,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The request body, noting when it has been read to its end.
struct Reading {
    body: Incoming,
    /// Only for a body that may be left unread (none for a bodiless request).
    read: Option<Arc<AtomicBool>>,
}

impl HttpBody for Reading {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        if let Some(read) = &this.read {
            if matches!(polled, Poll::Ready(None)) || this.body.is_end_stream() {
                read.store(true, Ordering::Relaxed);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[derive(Clone)]
struct Service {
    app: Router,
    activity: Arc<Activity>,
}

type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<axum::http::Response<Tracked>, Infallible>> + Send>>;

impl hyper::service::Service<axum::http::Request<Incoming>> for Service {
    type Response = axum::http::Response<Tracked>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, req: axum::http::Request<Incoming>) -> ServiceFuture {
        let busy = Busy::new(&self.activity);
        // A request answered before its body was read (a refused key, an unknown route)
        // leaves the rest of the body on the connection, so hyper closes it after the
        // response. HTTP/1 clients are told so (`Connection: close`), or they would send the
        // next request on a connection about to close.
        let read = (req.version() <= axum::http::Version::HTTP_11 && !req.body().is_end_stream())
            .then(|| Arc::new(AtomicBool::new(false)));
        let req = req.map(|body| Reading {
            body,
            read: read.clone(),
        });
        // `Router` is always ready; `call` needs it mutable, hence the (cheap) clone.
        let fut = tower_service::Service::call(&mut self.app.clone(), req);
        Box::pin(async move {
            let mut resp = fut.await?;
            if read.is_some_and(|r| !r.load(Ordering::Relaxed)) {
                resp.headers_mut().insert(
                    axum::http::header::CONNECTION,
                    axum::http::HeaderValue::from_static("close"),
                );
            }
            Ok(resp.map(|body| Tracked { body, _busy: busy }))
        })
    }
}

/// What the accept loop tells its connections; only ever moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stop {
    Running,
    /// Finish the request in progress, take no more (HTTP/2: GOAWAY).
    Graceful,
    /// The drain deadline: close unless a response is still being written (a stream
    /// writing its error chunk).
    Deadline,
    /// Close now.
    Force,
}

pub struct Settings {
    pub max_connections: u32,
    pub header_read: Duration,
    pub idle: Duration,
    pub drain: Duration,
}

impl Settings {
    pub fn of(s: &crate::config::ServerSection) -> Settings {
        Settings {
            max_connections: u32::try_from(s.max_connections)
                .unwrap_or(MAX_CAP)
                .clamp(1, MAX_CAP),
            header_read: Duration::from_millis(s.header_read_timeout_ms),
            idle: Duration::from_millis(s.idle_timeout_ms),
            drain: Duration::from_millis(s.drain_timeout_ms),
        }
    }
}

/// Serves `app` until `shutdown` resolves, then drains (see the module's documentation).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    lifecycle: &Lifecycle,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let timeouts = Timeouts {
        header: settings.header_read,
        idle: settings.idle,
        tick: (settings.header_read.min(settings.idle) / 4).max(Duration::from_millis(5)),
    };
    let conns = Arc::new(Semaphore::new(settings.max_connections as usize));
    let (stop, stopped) = watch::channel(Stop::Running);
    let mut builder = Builder::new(TokioExecutor::new());
    // The watchdog times the header read; without a timer hyper would warn about its own
    // 30 s default on every connection.
    builder.http1().header_read_timeout(None);
    let builder = Arc::new(builder);
    let refusal = refusal();
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            _ = shutdown.as_mut() => break,
            r = listener.accept() => r,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed");
                if tokio::time::timeout(ACCEPT_BACKOFF, shutdown.as_mut())
                    .await
                    .is_ok()
                {
                    break;
                }
                continue;
            }
        };
        // Small SSE frames must leave at once, not wait for the client's delayed ACK (Nagle).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY");
        }
        match conns.clone().try_acquire_owned() {
            Ok(permit) => {
                tokio::spawn(connection(
                    tcp,
                    permit,
                    builder.clone(),
                    app.clone(),
                    timeouts,
                    stopped.clone(),
                ));
            }
            Err(_) => refuse(tcp, &refusal),
        }
    }
    drop(listener);
    tracing::info!(
        drain_ms = settings.drain.as_millis() as u64,
        "shutting down: no new connections, finishing requests in flight"
    );
    stop.send_replace(Stop::Graceful);
    let all_conns = || conns.acquire_many(settings.max_connections);
    let drained = tokio::time::timeout(settings.drain, async {
        let _c = all_conns().await;
        lifecycle.streams_done().await;
    })
    .await;
    if drained.is_err() {
        tracing::warn!("drain timeout: ending the streams still open");
        lifecycle.start_drain();
        stop.send_replace(Stop::Deadline);
        if tokio::time::timeout(FINAL_GRACE, all_conns())
            .await
            .is_err()
        {
            tracing::warn!("closing the connections still open");
            stop.send_replace(Stop::Force);
            let _ = tokio::time::timeout(FINAL_GRACE, all_conns()).await;
        }
        // A stream whose client is gone may still be settling.
        let _ = tokio::time::timeout(FINAL_GRACE, lifecycle.streams_done()).await;
    }
    Ok(())
}

async fn connection(
    tcp: TcpStream,
    permit: OwnedSemaphorePermit,
    builder: Arc<Builder<TokioExecutor>>,
    app: Router,
    timeouts: Timeouts,
    mut stop: watch::Receiver<Stop>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        tcp,
        activity: activity.clone(),
    });
    let service = Service {
        app,
        activity: activity.clone(),
    };
    let mut conn = pin!(builder.serve_connection(io, service));
    let mut graceful = false;
    let mut wake = Instant::now() + timeouts.tick;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            changed = stop.changed() => {
                let now = if changed.is_ok() { *stop.borrow_and_update() } else { Stop::Force };
                if now == Stop::Force || (now == Stop::Deadline && !activity.is_busy()) {
                    break;
                }
                if now >= Stop::Graceful && !graceful {
                    graceful = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
            _ = tokio::time::sleep_until(wake) => match activity.verdict(&timeouts) {
                Verdict::Fine(next) => wake = next,
                Verdict::Expired(why) => {
                    tracing::debug!(why, "closing a connection");
                    break;
                }
            },
        }
    }
    drop(permit);
}

/// The answer to one connection too many: an OpenRouter error envelope, `Connection: close`.
fn refusal() -> Bytes {
    let err = GatewayError::Overloaded("Too many connections; retry shortly");
    let body = serde_json::to_vec(&switchyard_api::error::ErrorEnvelope { error: err.body() })
        .unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out.into()
}

/// Answers and closes without waiting on the client: a client that does not read must not
/// tie up the accept loop, and a task per refused connection is what the cap is against.
fn refuse(tcp: TcpStream, refusal: &[u8]) {
    // Whatever request already arrived is read first: closing a socket with unread input
    // sends a reset, which can make the client drop the 503 unread.
    let mut scratch = [0u8; 4096];
    for _ in 0..4 {
        match tcp.try_read(&mut scratch) {
            Ok(n) if n > 0 => continue,
            _ => break,
        }
    }
    // A fresh socket's send buffer takes the whole answer; if not, the client sees a close.
    let _ = tcp.try_write(refusal);
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
