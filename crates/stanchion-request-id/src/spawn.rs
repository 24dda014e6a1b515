//! Carrying the ID and the span into spawned tasks.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use pin_project_lite::pin_project;
use tokio::task::{JoinHandle, futures::TaskLocalFuture};
use tracing::{Instrument as _, Span, instrument::Instrumented};

use crate::{RequestId, id};

/// Like `tokio::spawn`, but the task keeps the spawning request's ID ([`RequestId::current`])
/// and runs inside the current span, so its log lines carry `request_id`.
///
/// A plain `tokio::spawn` starts a new task with no task-locals: `RequestId::current()` is
/// `None` there, and its events have no span unless the future is `.instrument`ed.
///
/// # Panics
///
/// Like `tokio::spawn`, outside a Tokio runtime.
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(carry(future))
}

/// Wrap `future` so that, wherever it is polled (another task, a `JoinSet`, a
/// `spawn_local`), it sees the current request's ID and runs inside the current span.
pub fn carry<F: Future>(future: F) -> Carried<F> {
    carried(RequestId::current(), future)
}

pub(crate) fn carried<F: Future>(id: Option<RequestId>, future: F) -> Carried<F> {
    Carried {
        inner: id::scope_future(id, future).instrument(Span::current()),
    }
}

pin_project! {
    /// A future carrying a request ID and a span; see [`carry`] and [`RequestId::scope`].
    pub struct Carried<F> {
        #[pin]
        inner: Instrumented<TaskLocalFuture<Option<RequestId>, F>>,
    }
}

impl<F> fmt::Debug for Carried<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Carried").finish_non_exhaustive()
    }
}

impl<F: Future> Future for Carried<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}
