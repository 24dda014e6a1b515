//! JSON log lines for a service, redacted by the service's redactor.

use stanchion_redact::{Redactor, subscriber::json_layer};
use tracing_subscriber::{EnvFilter, fmt::MakeWriter, layer::SubscriberExt as _};

/// A subscriber writing one JSON object per event to `writer`, with the event's fields at the
/// top level, filtered by `RUST_LOG` (default `info`) and redacted by `redactor` (which holds
/// every secret the service's configuration loaded).
pub fn json_subscriber<W>(
    redactor: Redactor,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::registry().with(filter).with(
        json_layer(redactor, writer)
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false),
    )
}
