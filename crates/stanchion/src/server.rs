//! The production HTTP server: hyper-util's HTTP/1.1 + HTTP/2 connections with timeouts, a
//! connection limit, request-head ceilings and graceful shutdown.

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    io,
    net::SocketAddr,
    pin::{Pin, pin},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
    service::TowerToHyperService,
};
use pin_project_lite::pin_project;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Notify, OwnedSemaphorePermit, Semaphore, watch},
    task::JoinSet,
    time::Instant,
};
use tower_service::Service;

use crate::limits::{FromConnection, RequestLimits};

/// The tracing target of the server's own events (`server started`, `shutdown started`,
/// `server stopped`, and DEBUG events for closed connections).
pub const SERVER_TARGET: &str = "stanchion::server";

/// The default time a client has to send a whole request head once its first byte arrived.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The default time a connection may stay open with no request in flight and no byte sent.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The default time a response may make no write progress (see
/// [`Server::with_send_timeout`]).
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// The default largest number of open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// The default time requests in flight get to finish after a shutdown signal.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A production HTTP server for a tower service (an axum `Router` with the [`Stack`](crate::Stack)).
///
/// - **HTTP/1.1 and HTTP/2** (h2c with prior knowledge) on one port, detected per connection.
/// - **Header-read timeout:** once the first byte of a request head arrives, the whole head
///   must arrive within [`with_header_read_timeout`](Self::with_header_read_timeout), or the
///   connection is closed (a slowloris client cannot hold it).
/// - **Idle timeout:** a connection with no request in flight that sends nothing for
///   [`with_idle_timeout`](Self::with_idle_timeout) is closed.
/// - **Send timeout:** a connection whose response has bytes ready to go but gets none of
///   them written for [`with_send_timeout`](Self::with_send_timeout) is closed (a client that
///   stops reading cannot hold it).
/// - **Connection limit:** at [`with_max_connections`](Self::with_max_connections) open
///   connections, a new connection first makes the server close the connection that has been
///   idle longest (no request in flight), so idle or half-sent connections cannot lock probes
///   and clients out. When every connection has a request in flight, new connections wait in
///   the listen backlog until one finishes (or the send timeout closes one).
/// - **Request-head ceilings** above [`RequestLimits`] (twice each), so a head over the
///   stack's limits but under hyper's reaches the stack and gets the envelope.
/// - **Graceful shutdown** on SIGTERM or SIGINT ([`serve`](Self::serve)) or on any future
///   ([`serve_with_shutdown`](Self::serve_with_shutdown)): readiness turns to `fail` (see
///   [`Draining`]), after [`with_shutdown_delay`](Self::with_shutdown_delay) the listener
///   closes (new connections are refused), idle connections close, requests in flight
///   finish; connections still open after [`with_drain_timeout`](Self::with_drain_timeout)
///   are dropped.
/// - **Structured events** (target [`SERVER_TARGET`]) through `tracing`, so they have the
///   service's log format: `server started` (address and every limit), `shutdown started`,
///   `server stopped` (`outcome` `drained` or `deadline`, and counts).
///
/// ```no_run
/// use stanchion::{Health, Server, Stack};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let server = Server::new();
/// let app = axum::Router::new()
///     .merge(Health::new().with_draining(server.draining()).routes())
///     .layer(Stack::new());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// let report = server.serve(listener, app).await?;
/// assert!(report.drained());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct Server {
    header_read_timeout: Duration,
    idle_timeout: Duration,
    send_timeout: Duration,
    max_connections: usize,
    drain_timeout: Duration,
    shutdown_delay: Duration,
    limits: RequestLimits,
    draining: Draining,
}

/// A server setting that cannot work, with the reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A setting is out of range.
    #[error("server setting {setting}: {reason}")]
    InvalidConfig {
        /// The setting's name (`max_connections`, ...).
        setting: &'static str,
        /// Why it cannot work.
        reason: &'static str,
    },
    /// The listener's address or the signal handlers could not be set up.
    #[error("server: {0}")]
    Io(#[from] io::Error),
}

impl From<ServerError> for io::Error {
    fn from(error: ServerError) -> Self {
        match error {
            ServerError::Io(error) => error,
            other @ ServerError::InvalidConfig { .. } => {
                io::Error::new(io::ErrorKind::InvalidInput, other)
            }
        }
    }
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}

impl Server {
    /// The server with its defaults: [`DEFAULT_HEADER_READ_TIMEOUT`],
    /// [`DEFAULT_IDLE_TIMEOUT`], [`DEFAULT_SEND_TIMEOUT`], [`DEFAULT_MAX_CONNECTIONS`],
    /// [`DEFAULT_DRAIN_TIMEOUT`], no shutdown delay, [`RequestLimits::new`].
    pub fn new() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            shutdown_delay: Duration::ZERO,
            limits: RequestLimits::new(),
            draining: Draining::default(),
        }
    }

    /// Sets the time a client has to send a whole request head, counted from its first byte.
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Sets the time a connection may stay open with no request in flight and no byte sent.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets the longest a response may go without write progress (nginx's `send_timeout`).
    ///
    /// The clock runs only while the server has something to send: from the moment the
    /// service returns a response until its body waits for data of its own (a server-sent
    /// event stream or a long poll between events is never cut) or ends, after each body
    /// chunk until the body is polled again, and while a socket write is blocked. Each write
    /// of at least one byte restarts it. It bounds the gap between writes, not the whole
    /// response: a client that reads slowly but steadily is not cut.
    pub fn with_send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = timeout;
        self
    }

    /// Sets the largest number of open connections (keep it under the process's file
    /// descriptor limit, `ulimit -n`, with room for outbound connections and files).
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Sets the time requests in flight get to finish after the listener closed.
    pub fn with_drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Sets how long the server keeps accepting (with readiness failing) after the shutdown
    /// signal, so a load balancer sees `/readyz` fail and stops sending new requests first.
    pub fn with_shutdown_delay(mut self, delay: Duration) -> Self {
        self.shutdown_delay = delay;
        self
    }

    /// Sets the request-head limits; give the [`Stack`](crate::Stack) the same ones.
    pub fn with_limits(mut self, limits: RequestLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The handle readiness checks read: it turns to draining on the shutdown signal. Pass it
    /// to [`Health::with_draining`](crate::Health::with_draining).
    pub fn draining(&self) -> Draining {
        self.draining.clone()
    }

    /// The request-head limits.
    pub fn limits(&self) -> RequestLimits {
        self.limits
    }

    /// The largest number of open connections.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    fn validate(&self) -> Result<(), ServerError> {
        let invalid = |setting, reason| Err(ServerError::InvalidConfig { setting, reason });
        if self.max_connections == 0 {
            return invalid("max_connections", "must be at least 1");
        }
        if self.max_connections > Semaphore::MAX_PERMITS {
            return invalid("max_connections", "is larger than a semaphore can count");
        }
        if self.header_read_timeout.is_zero() {
            return invalid("header_read_timeout", "must be longer than zero");
        }
        if self.idle_timeout.is_zero() {
            return invalid("idle_timeout", "must be longer than zero");
        }
        if self.send_timeout.is_zero() {
            return invalid(
                "send_timeout",
                "must be longer than zero, or no response could be sent",
            );
        }
        if self.drain_timeout.is_zero() {
            return invalid(
                "drain_timeout",
                "must be longer than zero, or no request in flight could finish",
            );
        }
        Ok(())
    }

    /// Serves `service` on `listener` until SIGTERM or SIGINT (Ctrl-C on other platforms),
    /// then shuts down gracefully.
    ///
    /// # Errors
    ///
    /// An invalid setting, or signal handlers that cannot be installed; both before serving.
    pub async fn serve<S, B>(
        self,
        listener: TcpListener,
        service: S,
    ) -> Result<ShutdownReport, ServerError>
    where
        S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let signal = shutdown_signal()?;
        self.serve_with_shutdown(listener, service, signal).await
    }

    /// Serves `service` on `listener` until `shutdown` resolves, then shuts down gracefully.
    ///
    /// # Errors
    ///
    /// An invalid setting, or a listener without a local address; both before serving.
    pub async fn serve_with_shutdown<S, B, F>(
        self,
        listener: TcpListener,
        service: S,
        shutdown: F,
    ) -> Result<ShutdownReport, ServerError>
    where
        S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
        F: Future<Output = ()>,
    {
        self.validate()?;
        let local_addr = listener.local_addr()?;
        let builder = Arc::new(self.hyper_builder());
        let shared = Arc::new(Shared::default());
        let slots = Arc::new(Semaphore::new(self.max_connections));
        let (drain_tx, drain_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut shutdown = pin!(shutdown);
        let mut delay = pin!(tokio::time::sleep(Duration::MAX / 4));
        let mut shutting_down = false;

        tracing::info!(
            target: SERVER_TARGET,
            addr = %local_addr,
            protocols = "http/1.1,h2c",
            maxConnections = self.max_connections,
            headerReadTimeoutMs = millis(self.header_read_timeout),
            idleTimeoutMs = millis(self.idle_timeout),
            sendTimeoutMs = millis(self.send_timeout),
            drainTimeoutMs = millis(self.drain_timeout),
            shutdownDelayMs = millis(self.shutdown_delay),
            maxHeaders = self.limits.max_headers(),
            maxHeaderBytes = self.limits.max_header_bytes(),
            maxUriBytes = self.limits.max_uri_bytes(),
            "server started"
        );

        let begin_shutdown = |open: usize| {
            self.draining.begin();
            tracing::info!(
                target: SERVER_TARGET,
                openConnections = open,
                shutdownDelayMs = millis(self.shutdown_delay),
                "shutdown started"
            );
            Instant::now() + self.shutdown_delay
        };
        loop {
            tokio::select! {
                () = &mut shutdown, if !shutting_down => {
                    shutting_down = true;
                    delay.as_mut().reset(begin_shutdown(tasks.len()));
                }
                () = &mut delay, if shutting_down => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                accepted = listener.accept() => {
                    let (stream, remote_addr) = match accepted {
                        Ok(accepted) => accepted,
                        Err(error) => {
                            // Out of file descriptors, a connection reset before accept: the
                            // listener still works; back off so a full table is not spun on.
                            tracing::warn!(
                                target: SERVER_TARGET,
                                error = %error,
                                "accepting a connection failed"
                            );
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let permit = match Arc::clone(&slots).try_acquire_owned() {
                        Ok(permit) => permit,
                        Err(_) => {
                            shared.evict_longest_idle();
                            // Every connection has a request in flight when nothing was
                            // evicted: this one waits (and the accept loop with it) for a slot.
                            tokio::select! {
                                permit = Arc::clone(&slots).acquire_owned() => match permit {
                                    Ok(permit) => permit,
                                    // The semaphore is never closed.
                                    Err(_) => continue,
                                },
                                () = &mut shutdown, if !shutting_down => {
                                    shutting_down = true;
                                    delay.as_mut().reset(begin_shutdown(tasks.len()));
                                    continue;
                                }
                                () = &mut delay, if shutting_down => break,
                            }
                        }
                    };
                    shared.accepted.fetch_add(1, Ordering::Relaxed);
                    let connection = ConnectionTask {
                        builder: Arc::clone(&builder),
                        shared: Arc::clone(&shared),
                        header_read_timeout: self.header_read_timeout,
                        idle_timeout: self.idle_timeout,
                        send_timeout: self.send_timeout,
                        drain: drain_rx.clone(),
                        remote_addr,
                        local_addr,
                    };
                    tasks.spawn(connection.run(stream, service.clone(), permit));
                }
            }
        }

        // New connections are refused from here on: the socket is closed.
        drop(listener);
        let open_at_shutdown = tasks.len();
        let drain_started = Instant::now();
        // Every connection closes when idle and finishes the requests in flight.
        let _ = drain_tx.send(true);
        let mut deadline = pin!(tokio::time::sleep(self.drain_timeout));
        let mut aborted = 0;
        loop {
            tokio::select! {
                joined = tasks.join_next() => {
                    if joined.is_none() {
                        break;
                    }
                }
                () = &mut deadline => {
                    aborted = tasks.len();
                    tasks.abort_all();
                    while tasks.join_next().await.is_some() {}
                    break;
                }
            }
        }
        let report = ShutdownReport {
            drained: aborted == 0,
            connections_accepted: shared.accepted.load(Ordering::Relaxed),
            requests_served: shared.requests.load(Ordering::Relaxed),
            open_at_shutdown,
            aborted,
            drain_time: drain_started.elapsed(),
        };
        tracing::info!(
            target: SERVER_TARGET,
            addr = %local_addr,
            outcome = if report.drained { "drained" } else { "deadline" },
            connectionsAccepted = report.connections_accepted,
            requestsServed = report.requests_served,
            openAtShutdown = report.open_at_shutdown,
            connectionsAborted = report.aborted,
            connectionsEvicted = shared.evicted.load(Ordering::Relaxed),
            headerReadTimeouts = shared.header_timeouts.load(Ordering::Relaxed),
            idleTimeouts = shared.idle_timeouts.load(Ordering::Relaxed),
            sendTimeouts = shared.send_timeouts.load(Ordering::Relaxed),
            drainMs = millis(report.drain_time),
            "server stopped"
        );
        Ok(report)
    }

    fn hyper_builder(&self) -> auto::Builder<TokioExecutor> {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // hyper's ceilings sit at twice the stack's limits: a head over ours but under these
        // reaches the stack and gets the envelope; beyond them hyper answers alone.
        let head_ceiling = 2 * (self.limits.max_header_bytes() + self.limits.max_uri_bytes());
        builder
            .http1()
            .timer(TokioTimer::new())
            // hyper's own header timer also runs while a keep-alive connection waits for its
            // next request, so it would cut idle connections at the header timeout; the
            // connection watchdog below keeps the two timeouts apart.
            .header_read_timeout(None)
            .max_headers(2 * self.limits.max_headers())
            .max_buf_size(head_ceiling.max(8192))
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(head_ceiling).unwrap_or(u32::MAX));
        builder
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Resolves on SIGTERM or SIGINT (on other platforms: Ctrl-C), logging which one arrived.
/// The handlers are installed when this is called, so a signal that arrives before the future
/// is first polled is not lost.
///
/// # Errors
///
/// When a signal handler cannot be installed.
pub fn shutdown_signal() -> io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            let name = tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            };
            tracing::info!(target: SERVER_TARGET, signal = name, "shutdown signal received");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!(target: SERVER_TARGET, signal = "ctrl-c", "shutdown signal received");
            } else {
                std::future::pending::<()>().await;
            }
        })
    }
}

/// Whether the server is shutting down: readiness reads it (see
/// [`Health::with_draining`](crate::Health::with_draining)) to answer `fail` before the
/// listener closes.
#[derive(Clone, Debug, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    /// Whether the shutdown began.
    #[must_use]
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// Marks the shutdown as begun (the server does this on its shutdown signal).
    pub fn begin(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// What a shutdown did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    drained: bool,
    connections_accepted: u64,
    requests_served: u64,
    open_at_shutdown: usize,
    aborted: usize,
    drain_time: Duration,
}

impl ShutdownReport {
    /// Whether every connection finished before the drain deadline.
    #[must_use]
    pub fn drained(&self) -> bool {
        self.drained
    }

    /// Connections accepted over the server's life.
    #[must_use]
    pub fn connections_accepted(&self) -> u64 {
        self.connections_accepted
    }

    /// Requests that reached the service over the server's life.
    #[must_use]
    pub fn requests_served(&self) -> u64 {
        self.requests_served
    }

    /// Connections open when the listener closed.
    #[must_use]
    pub fn open_at_shutdown(&self) -> usize {
        self.open_at_shutdown
    }

    /// Connections dropped at the drain deadline.
    #[must_use]
    pub fn aborted(&self) -> usize {
        self.aborted
    }

    /// How long the drain took.
    #[must_use]
    pub fn drain_time(&self) -> Duration {
        self.drain_time
    }
}

/// State every connection shares with the accept loop.
#[derive(Default)]
struct Shared {
    next_id: AtomicU64,
    accepted: AtomicU64,
    requests: AtomicU64,
    evicted: AtomicU64,
    header_timeouts: AtomicU64,
    idle_timeouts: AtomicU64,
    send_timeouts: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Activity>>>,
}

impl Shared {
    fn register(&self) -> (u64, Arc<Activity>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity::new());
        self.lock_open().insert(id, Arc::clone(&activity));
        (id, activity)
    }

    fn lock_open(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Activity>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks the connection idle longest (no request in flight) to close, if there is one.
    fn evict_longest_idle(&self) {
        let open = self.lock_open();
        let longest = open
            .values()
            .filter(|activity| !activity.evicted.load(Ordering::Relaxed))
            .filter_map(|activity| {
                let state = activity.lock();
                (state.in_flight == 0).then_some((state.quiet_since, activity))
            })
            .min_by_key(|(since, _)| *since);
        if let Some((_, activity)) = longest {
            self.evicted.fetch_add(1, Ordering::Relaxed);
            activity.evicted.store(true, Ordering::Relaxed);
            activity.wake.notify_one();
        }
    }
}

/// One connection's activity, read by its watchdog and by eviction.
struct Activity {
    state: Mutex<ActivityState>,
    wake: Notify,
    evicted: AtomicBool,
    /// How many reasons the connection has to be sending now: responses whose body has
    /// something for hyper to send (see [`Owing`]), plus one while a socket write is blocked.
    /// Above zero, the send clock runs. Atomics rather than `state`: the write path touches
    /// them on every write, and the lock is not worth taking there.
    owing: AtomicUsize,
    /// Whether the last socket write returned `Pending` (the peer's receive window is full).
    write_blocked: AtomicBool,
    /// When the send clock last restarted (a byte written, or the connection started owing),
    /// in nanoseconds since `epoch`.
    progress: AtomicU64,
    epoch: Instant,
}

struct ActivityState {
    in_flight: usize,
    /// When the connection last had no request in flight (or was accepted).
    quiet_since: Instant,
    /// When the first byte arrived while no request was in flight: a head is being read.
    head_started: Option<Instant>,
}

/// Why a watchdog closed a connection.
#[derive(Clone, Copy, Debug)]
enum Expiry {
    HeaderTimeout,
    Idle,
    Send,
}

impl Activity {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            state: Mutex::new(ActivityState {
                in_flight: 0,
                quiet_since: now,
                head_started: None,
            }),
            wake: Notify::new(),
            evicted: AtomicBool::new(false),
            owing: AtomicUsize::new(0),
            write_blocked: AtomicBool::new(false),
            progress: AtomicU64::new(0),
            epoch: now,
        }
    }

    /// Restarts the send clock.
    fn mark_progress(&self) {
        let nanos = Instant::now()
            .saturating_duration_since(self.epoch)
            .as_nanos();
        self.progress
            .store(u64::try_from(nanos).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// One more reason to be sending. On the transition from nothing owed, the clock starts
    /// now (time spent waiting on the service or on a streaming body's next event is not
    /// the client's fault) and the watchdog re-arms; later reasons leave both alone, so a
    /// client cannot push the deadline back by asking for more.
    fn start_owing(&self) {
        if self.owing.fetch_add(1, Ordering::AcqRel) == 0 {
            self.mark_progress();
            self.wake.notify_one();
        }
    }

    /// One reason fewer. The watchdog is not woken: at its deadline it re-reads the state.
    fn stop_owing(&self) {
        self.owing.fetch_sub(1, Ordering::AcqRel);
    }

    /// A socket write took `written` bytes (or returned `Pending` when `None`).
    fn on_write(&self, written: Option<usize>) {
        match written {
            Some(0) => {}
            Some(_) => {
                self.mark_progress();
                // Only after a blocked write; the common write touches nothing else.
                if self.write_blocked.load(Ordering::Relaxed)
                    && self.write_blocked.swap(false, Ordering::Relaxed)
                {
                    self.stop_owing();
                }
            }
            None => {
                if !self.write_blocked.swap(true, Ordering::Relaxed) {
                    self.start_owing();
                }
            }
        }
    }

    /// When the send clock expires, if the connection owes progress.
    fn send_deadline(&self, send: Duration) -> Option<Instant> {
        if self.owing.load(Ordering::Acquire) == 0 {
            return None;
        }
        let since = Duration::from_nanos(self.progress.load(Ordering::Relaxed));
        Some(self.epoch + since + send)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn on_read(&self) {
        let started = {
            let mut state = self.lock();
            let start = state.in_flight == 0 && state.head_started.is_none();
            if start {
                state.head_started = Some(Instant::now());
            }
            start
        };
        if started {
            // The deadline moved earlier (header timeout < idle timeout): re-arm the watchdog.
            self.wake.notify_one();
        }
    }

    fn begin_request(&self) {
        let mut state = self.lock();
        state.in_flight += 1;
        state.head_started = None;
    }

    fn end_request(&self) {
        {
            let mut state = self.lock();
            state.in_flight = state.in_flight.saturating_sub(1);
            if state.in_flight == 0 {
                state.quiet_since = Instant::now();
                state.head_started = None;
            }
        }
        self.wake.notify_one();
    }

    /// The next moment the connection may expire, and why. While a request is in flight only
    /// the send clock runs, and only once its response exists (the stack's timeout bounds the
    /// handler); `None` when nothing runs.
    fn deadline(&self, timeouts: &Timeouts) -> Option<(Instant, Expiry)> {
        let send = self
            .send_deadline(timeouts.send)
            .map(|at| (at, Expiry::Send));
        let state = self.lock();
        let quiet = (state.in_flight == 0).then(|| match state.head_started {
            Some(started) => (started + timeouts.header_read, Expiry::HeaderTimeout),
            None => (state.quiet_since + timeouts.idle, Expiry::Idle),
        });
        // After a response ended a blocked write may still be owed, and the idle or header
        // clock runs too: whichever expires first.
        match (send, quiet) {
            (Some(send), Some(quiet)) => Some(if send.0 <= quiet.0 { send } else { quiet }),
            (send, quiet) => send.or(quiet),
        }
    }

    fn in_flight(&self) -> usize {
        self.lock().in_flight
    }
}

/// A connection's three clocks.
#[derive(Clone, Copy, Debug)]
struct Timeouts {
    header_read: Duration,
    idle: Duration,
    send: Duration,
}

struct ConnectionTask {
    builder: Arc<auto::Builder<TokioExecutor>>,
    shared: Arc<Shared>,
    header_read_timeout: Duration,
    idle_timeout: Duration,
    send_timeout: Duration,
    drain: watch::Receiver<bool>,
    remote_addr: SocketAddr,
    local_addr: SocketAddr,
}

impl ConnectionTask {
    async fn run<S, B>(mut self, stream: TcpStream, service: S, permit: OwnedSemaphorePermit)
    where
        S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let _permit = permit;
        // Small responses go out without waiting for Nagle's timer.
        let _ = stream.set_nodelay(true);
        let (id, activity) = self.shared.register();
        let _registered = Registered {
            shared: Arc::clone(&self.shared),
            id,
        };
        let io = TokioIo::new(WatchedIo {
            inner: stream,
            activity: Arc::clone(&activity),
        });
        let service = TowerToHyperService::new(Tracked {
            inner: service,
            activity: Arc::clone(&activity),
            shared: Arc::clone(&self.shared),
            connection: ConnectionInfo {
                remote_addr: self.remote_addr,
                local_addr: self.local_addr,
            },
        });
        let connection = self.builder.serve_connection_with_upgrades(io, service);
        let mut connection = pin!(connection);
        let mut graceful = *self.drain.borrow();
        if graceful {
            connection.as_mut().graceful_shutdown();
        }
        let far = Instant::now() + Duration::from_secs(365 * 24 * 3600);
        let timeouts = Timeouts {
            header_read: self.header_read_timeout,
            idle: self.idle_timeout,
            send: self.send_timeout,
        };
        let reason = loop {
            if activity.evicted.load(Ordering::Relaxed) {
                if activity.in_flight() == 0 {
                    break "evicted at the connection limit";
                }
                // A request began since it was picked: let it finish, then close.
                if !graceful {
                    graceful = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
            let deadline = activity.deadline(&timeouts);
            let sleep_until = deadline.map_or(far, |(at, _)| at);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(
                            target: SERVER_TARGET,
                            remote = %self.remote_addr,
                            error = %error,
                            "connection ended with an error"
                        );
                    }
                    return;
                }
                () = tokio::time::sleep_until(sleep_until) => {
                    // Re-read: a request may have begun or ended since the deadline was set.
                    match activity.deadline(&timeouts) {
                        Some((at, Expiry::HeaderTimeout)) if at <= Instant::now() => {
                            self.shared.header_timeouts.fetch_add(1, Ordering::Relaxed);
                            break "header read timeout";
                        }
                        Some((at, Expiry::Idle)) if at <= Instant::now() => {
                            self.shared.idle_timeouts.fetch_add(1, Ordering::Relaxed);
                            break "idle timeout";
                        }
                        Some((at, Expiry::Send)) if at <= Instant::now() => {
                            self.shared.send_timeouts.fetch_add(1, Ordering::Relaxed);
                            break "send timeout";
                        }
                        _ => {}
                    }
                }
                () = activity.wake.notified() => {}
                changed = self.drain.changed(), if !graceful => {
                    if changed.is_ok() && *self.drain.borrow() {
                        graceful = true;
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        };
        // Dropping the connection closes the socket. No response is owed (no request is in
        // flight, or it is a partial head), or, after a send timeout, the client stopped
        // taking the one being sent.
        tracing::debug!(
            target: SERVER_TARGET,
            remote = %self.remote_addr,
            reason,
            "connection closed"
        );
    }
}

/// Removes a connection from the open set when its task ends (or is aborted).
struct Registered {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.shared.lock_open().remove(&self.id);
    }
}

/// The peer and local address of the connection a request arrived on, in the request's
/// extensions (set by [`Server`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionInfo {
    remote_addr: SocketAddr,
    local_addr: SocketAddr,
}

impl ConnectionInfo {
    /// The client's address (the last hop's, behind a proxy).
    #[must_use]
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote_addr
    }

    /// The address the server accepted the connection on.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

pin_project! {
    /// A TCP stream that tells its connection's watchdog when bytes arrive.
    struct WatchedIo {
        #[pin]
        inner: TcpStream,
        activity: Arc<Activity>,
    }
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let polled = this.inner.poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.on_read();
        }
        polled
    }
}

/// Feeds a write's outcome to the send clock (errors end the connection anyway).
fn on_write(activity: &Activity, polled: &Poll<io::Result<usize>>) {
    match polled {
        Poll::Ready(Ok(written)) => activity.on_write(Some(*written)),
        Poll::Pending => activity.on_write(None),
        Poll::Ready(Err(_)) => {}
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let polled = this.inner.poll_write(cx, buf);
        on_write(this.activity, &polled);
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let polled = this.inner.poll_write_vectored(cx, bufs);
        on_write(this.activity, &polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The user's service, counting requests in flight until their response body ends.
#[derive(Clone)]
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
    shared: Arc<Shared>,
    connection: ConnectionInfo,
}

impl<S, B> Service<Request<Incoming>> for Tracked<S>
where
    S: Service<Request<Incoming>, Response = Response<B>>,
{
    type Response = Response<TrackedBody<B>>;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Incoming>) -> Self::Future {
        self.shared.requests.fetch_add(1, Ordering::Relaxed);
        self.activity.begin_request();
        let in_flight = InFlight(Arc::clone(&self.activity));
        request.extensions_mut().insert(self.connection);
        request.extensions_mut().insert(FromConnection);
        TrackedFuture {
            inner: self.inner.call(request),
            in_flight: Some(in_flight),
        }
    }
}

/// Ends a request's time in flight when dropped (its body ended, or the connection went).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end_request();
    }
}

pin_project! {
    struct TrackedFuture<F> {
        #[pin]
        inner: F,
        in_flight: Option<InFlight>,
    }
}

impl<F, B, E> Future for TrackedFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<TrackedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = std::task::ready!(this.inner.poll(cx));
        let in_flight = this.in_flight.take();
        Poll::Ready(response.map(|response| {
            // hyper sends the head next and then pulls the body: the send clock starts.
            let owing = in_flight.as_ref().map(|in_flight| Owing::new(&in_flight.0));
            response.map(|inner| TrackedBody {
                inner,
                owing,
                in_flight,
            })
        }))
    }
}

/// A response body's reason to be sending, held while it has something for hyper to send;
/// dropped (with the body, at the latest) when it has nothing.
struct Owing(Arc<Activity>);

impl Owing {
    fn new(activity: &Arc<Activity>) -> Self {
        activity.start_owing();
        Self(Arc::clone(activity))
    }
}

impl Drop for Owing {
    fn drop(&mut self) {
        self.0.stop_owing();
    }
}

pin_project! {
    struct TrackedBody<B> {
        #[pin]
        inner: B,
        // `Some` while the body owes progress: from the response until the body waits
        // (`Pending`) or ends, and from each frame it yields until it is polled again.
        owing: Option<Owing>,
        // After `owing`: dropping the body stops the send clock before the request ends.
        in_flight: Option<InFlight>,
    }
}

impl<B: Body> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            // A frame to send: owed until hyper writes it and comes back for the next. hyper
            // polls again only once the frame is written (HTTP/1.1) or the peer's window has
            // room (HTTP/2), so a client that stops reading keeps the clock running.
            Poll::Ready(Some(_)) => {
                if this.owing.is_none() {
                    *this.owing = this
                        .in_flight
                        .as_ref()
                        .map(|in_flight| Owing::new(&in_flight.0));
                }
            }
            // The body waits for data of its own (an event stream between events, a long
            // poll), or it ended: nothing is owed until it yields again.
            Poll::Pending | Poll::Ready(None) => {
                *this.owing = None;
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("accepted", &self.accepted)
            .field("requests", &self.requests)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: Duration = Duration::from_secs(10);
    const IDLE: Duration = Duration::from_secs(60);
    const SEND: Duration = Duration::from_secs(30);
    const TIMEOUTS: Timeouts = Timeouts {
        header_read: HEAD,
        idle: IDLE,
        send: SEND,
    };

    #[tokio::test(start_paused = true)]
    async fn the_header_clock_starts_at_the_first_byte_and_stops_while_a_request_runs() {
        let activity = Activity::new();
        let accepted = Instant::now();
        // Nothing sent yet: the idle clock runs from the accept.
        let (at, why) = activity.deadline(&TIMEOUTS).unwrap();
        assert!(matches!(why, Expiry::Idle));
        assert_eq!(at, accepted + IDLE);

        tokio::time::advance(Duration::from_secs(5)).await;
        activity.on_read();
        let (at, why) = activity.deadline(&TIMEOUTS).unwrap();
        assert!(matches!(why, Expiry::HeaderTimeout));
        assert_eq!(at, accepted + Duration::from_secs(5) + HEAD);
        // More bytes of the same head do not restart the clock.
        tokio::time::advance(Duration::from_secs(3)).await;
        activity.on_read();
        assert_eq!(activity.deadline(&TIMEOUTS).unwrap().0, at);

        activity.begin_request();
        assert!(
            activity.deadline(&TIMEOUTS).is_none(),
            "no clock while in flight"
        );
        tokio::time::advance(Duration::from_secs(100)).await;
        activity.end_request();
        let (at, why) = activity.deadline(&TIMEOUTS).unwrap();
        assert!(matches!(why, Expiry::Idle));
        assert_eq!(at, Instant::now() + IDLE);
    }

    #[tokio::test(start_paused = true)]
    async fn the_send_clock_runs_only_while_progress_is_owed_and_a_write_restarts_it() {
        let activity = Arc::new(Activity::new());
        activity.begin_request();
        tokio::time::advance(Duration::from_secs(100)).await;
        assert!(
            activity.deadline(&TIMEOUTS).is_none(),
            "the handler runs: no clock"
        );

        // The response exists: owed from now, not from the request's start.
        let response = Owing::new(&activity);
        let (at, why) = activity.deadline(&TIMEOUTS).unwrap();
        assert!(matches!(why, Expiry::Send));
        assert_eq!(at, Instant::now() + SEND);

        tokio::time::advance(Duration::from_secs(20)).await;
        activity.on_write(Some(0));
        assert_eq!(
            activity.deadline(&TIMEOUTS).unwrap().0,
            at,
            "no byte, no progress"
        );
        activity.on_write(Some(1));
        assert_eq!(
            activity.deadline(&TIMEOUTS).unwrap().0,
            Instant::now() + SEND
        );

        // A blocked write adds a reason but does not move the clock back; the next write
        // both restarts the clock and unblocks.
        let restarted = Instant::now() + SEND;
        tokio::time::advance(Duration::from_secs(5)).await;
        activity.on_write(None);
        activity.on_write(None);
        assert_eq!(activity.deadline(&TIMEOUTS).unwrap().0, restarted);
        activity.on_write(Some(10));
        assert!(!activity.write_blocked.load(Ordering::Relaxed));

        // The body waits for data of its own: nothing is owed, no clock while in flight.
        drop(response);
        assert!(activity.deadline(&TIMEOUTS).is_none());

        // After the request: a write still blocked runs against the idle clock, first wins.
        activity.end_request();
        activity.on_write(None);
        let (at, why) = activity.deadline(&TIMEOUTS).unwrap();
        assert!(matches!(why, Expiry::Send));
        assert_eq!(at, Instant::now() + SEND);
        activity.on_write(Some(1));
        let (_, why) = activity.deadline(&TIMEOUTS).unwrap();
        assert!(matches!(why, Expiry::Idle));
    }

    #[test]
    fn eviction_picks_the_connection_idle_longest_and_never_one_in_flight() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let shared = Shared::default();
            let (_, busy) = shared.register();
            busy.begin_request();
            tokio::time::advance(Duration::from_secs(1)).await;
            let (_, older) = shared.register();
            tokio::time::advance(Duration::from_secs(1)).await;
            let (_, newer) = shared.register();
            shared.evict_longest_idle();
            assert!(older.evicted.load(Ordering::Relaxed));
            assert!(!newer.evicted.load(Ordering::Relaxed));
            assert!(!busy.evicted.load(Ordering::Relaxed));
            shared.evict_longest_idle();
            assert!(newer.evicted.load(Ordering::Relaxed));
            shared.evict_longest_idle();
            assert!(
                !busy.evicted.load(Ordering::Relaxed),
                "in flight: never evicted"
            );
        });
    }

    #[tokio::test]
    async fn invalid_settings_are_refused_with_the_setting_named() {
        for (server, setting) in [
            (Server::new().with_max_connections(0), "max_connections"),
            (
                Server::new().with_idle_timeout(Duration::ZERO),
                "idle_timeout",
            ),
            (
                Server::new().with_header_read_timeout(Duration::ZERO),
                "header_read_timeout",
            ),
            (
                Server::new().with_drain_timeout(Duration::ZERO),
                "drain_timeout",
            ),
            (
                Server::new().with_send_timeout(Duration::ZERO),
                "send_timeout",
            ),
        ] {
            let error = server.validate().unwrap_err();
            assert!(error.to_string().contains(setting), "{error}");
        }
        assert!(Server::new().validate().is_ok());
    }
}
