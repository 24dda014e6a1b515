//! One service per thread: its own current-thread tokio runtime and its own thread-default
//! tracing subscriber, so several services share one process (the backend with its in-process
//! agent, end-to-end tests) and each one's logs go to its own writer.

use std::{
    fmt,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
    thread::JoinHandle,
};

use tokio::sync::oneshot;

/// Resolves when the service should stop: on [`ServiceThread::shutdown`], or when the
/// [`ServiceThread`] is dropped.
#[derive(Debug)]
pub struct Shutdown(oneshot::Receiver<()>);

impl Future for Shutdown {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // A dropped sender means the handle is gone: stop as well.
        Pin::new(&mut self.0).poll(cx).map(|_| ())
    }
}

/// A service running on its own thread. Dropping it stops the service and joins the thread.
pub struct ServiceThread {
    name: String,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl fmt::Debug for ServiceThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceThread")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .field("running", &self.thread.is_some())
            .finish()
    }
}

impl ServiceThread {
    /// Runs `serve(listener, shutdown)` on a new thread named `name`, on a current-thread
    /// runtime, with `subscriber` as the thread's default subscriber. `listener` is already
    /// bound, so the address is known (and connectable) before this returns.
    ///
    /// # Errors
    ///
    /// When the listener's address cannot be read or the thread cannot be spawned. Errors of
    /// the service itself are returned by [`shutdown`](Self::shutdown).
    pub fn spawn<S, F, Fut>(
        name: impl Into<String>,
        listener: std::net::TcpListener,
        subscriber: S,
        serve: F,
    ) -> io::Result<Self>
    where
        S: tracing::Subscriber + Send + Sync + 'static,
        F: FnOnce(tokio::net::TcpListener, Shutdown) -> Fut + Send + 'static,
        Fut: Future<Output = io::Result<()>>,
    {
        let name = name.into();
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                // The current-thread runtime polls every task of this service on this thread,
                // so the thread default reaches all of them (not `spawn_blocking` threads).
                let _default = tracing::subscriber::set_default(subscriber);
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    serve(listener, Shutdown(stopped)).await
                })
            })?;
        Ok(Self {
            name,
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Serves `router` with [`stanchion::Server`] on a free loopback port on its own thread,
    /// logging nowhere: a stand-in peer for tests (a fake agent, a fake model provider).
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn), and when no loopback port can be bound.
    pub fn serve_router(name: &str, router: axum::Router) -> io::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let subscriber = stanchion::Telemetry::new(name).build(std::io::sink);
        Self::spawn(
            name,
            listener,
            subscriber,
            move |listener, shutdown| async move {
                stanchion::Server::new()
                    .serve_with_shutdown(listener, router, shutdown)
                    .await?;
                Ok(())
            },
        )
    }

    /// The address the service listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The thread's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stops the service (graceful: requests in flight finish) and waits for the thread.
    ///
    /// # Errors
    ///
    /// The service's own error, or an error saying the thread panicked.
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            // The receiver is gone when the service already stopped on its own.
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread.join().unwrap_or_else(|_| {
                Err(io::Error::other(format!(
                    "the {} service thread panicked",
                    self.name
                )))
            }),
            None => Ok(()),
        }
    }
}

impl Drop for ServiceThread {
    fn drop(&mut self) {
        // An error here has no caller to go to; `shutdown` is the way to see it.
        let _ = self.stop_and_join();
    }
}

/// The shutdown signal a binary's `main` hands to `serve`: SIGTERM or SIGINT
/// ([`stanchion::shutdown_signal`]).
pub type Signal = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The rest of a service binary's `main` once its configuration is loaded: a multi-thread
/// runtime, a listener on `addr`, and `serve` until SIGTERM or SIGINT. Failures are logged
/// (through the installed subscriber, so in the service's log format) and give exit code 1.
pub fn run_until_signal<F, Fut>(name: &str, addr: SocketAddr, serve: F) -> std::process::ExitCode
where
    F: FnOnce(tokio::net::TcpListener, Signal) -> Fut,
    Fut: Future<Output = io::Result<()>>,
{
    use std::process::ExitCode;

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(service = name, error = %error, "cannot start the runtime");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        // Installed before the listener, so a signal from here on stops the service cleanly.
        let shutdown: Signal = match stanchion::shutdown_signal() {
            Ok(signal) => Box::pin(signal),
            Err(error) => {
                tracing::error!(error = %error, "cannot install the SIGTERM/SIGINT handlers");
                return ExitCode::from(1);
            }
        };
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(addr = %addr, error = %error, "cannot listen");
                return ExitCode::from(1);
            }
        };
        match serve(listener, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(error = %error, "the service stopped with an error");
                ExitCode::from(1)
            }
        }
    })
}
