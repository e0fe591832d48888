//! `GET /dashboard/events`: the signed-in tenant's live news as server-sent events (see
//! [`crate::service::live`]). Each event is `event: <topic>` with
//! `data: {"topic", "instance", "conversation"}`; the page's script reloads the fragments
//! that show that topic. A watcher that fell behind gets `event: reload`. A comment every
//! 15 s keeps proxies from closing the stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::{Pages, Session};
use crate::http::AppState;

pub const PATHS: &[&str] = &["/dashboard/events"];

pub fn routes() -> Pages {
    Pages::new().route("/dashboard/events", get(events))
}

async fn events(
    State(state): State<AppState>,
    session: Session,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let tenant = session.caller.tenant().0;
    let mut rx = state.services.live.subscribe();
    let stream = async_stream(move |tx| async move {
        // The first event says the stream is open (pages wait for it before they rely on
        // live updates).
        if tx
            .send(Event::default().event("ready").data("{}"))
            .await
            .is_err()
        {
            return;
        }
        loop {
            let event = match rx.recv().await {
                Ok(e) if e.tenant_id == tenant => Event::default()
                    .event(e.topic.as_str())
                    .json_data(&e)
                    .unwrap_or_else(|_| Event::default().event("reload").data("{}")),
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => Event::default().event("reload").data("{}"),
                Err(RecvError::Closed) => return,
            };
            if tx.send(event).await.is_err() {
                return;
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// A stream fed by a task through a small channel; the task ends when the client goes.
fn async_stream<F, Fut>(f: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    futures::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), Ok)
}
