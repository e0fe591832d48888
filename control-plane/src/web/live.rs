//! `GET /dashboard/events`: the signed-in tenant's live news as server-sent events (see
//! [`crate::live`]). Each event is `event: <topic>` with
//! `data: {"topic", "instance", "conversation"}`; the page's script reloads the fragments
//! that show that topic. A watcher that fell behind gets `event: reload`. A comment every
//! 15 s keeps proxies from closing the stream; a tenant holds at most 64 streams at once.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::{Pages, Session, WebError};
use crate::http::AppState;

pub const PATHS: &[&str] = &["/dashboard/events"];

pub fn routes() -> Pages {
    Pages::new().route("/dashboard/events", get(events))
}

/// Open streams per tenant: a page holds one; a tenant opening more than this (a script
/// opening connections in a loop) is refused until some close.
const MAX_STREAMS_PER_TENANT: usize = 64;

fn open_streams() -> &'static Mutex<HashMap<i64, usize>> {
    static OPEN: OnceLock<Mutex<HashMap<i64, usize>>> = OnceLock::new();
    OPEN.get_or_init(Mutex::default)
}

/// One open stream of a tenant, counted until dropped.
struct StreamSlot(i64);

impl StreamSlot {
    fn take(tenant: i64) -> Option<StreamSlot> {
        let mut open = open_streams().lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(tenant).or_default();
        if *n >= MAX_STREAMS_PER_TENANT {
            return None;
        }
        *n += 1;
        Some(StreamSlot(tenant))
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = open_streams().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.0) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.0);
            }
        }
    }
}

async fn events(
    State(state): State<AppState>,
    session: Session,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, WebError> {
    let tenant = session.caller.tenant().0;
    let slot = StreamSlot::take(tenant).ok_or_else(|| WebError {
        status: StatusCode::TOO_MANY_REQUESTS,
        code: "RATE_LIMIT_EXCEEDED".into(),
        message: "Too many live pages are open for this account; close some and reload.".into(),
        fields: Vec::new(),
    })?;
    let mut rx = state.services.live.subscribe();
    let services = state.services.clone();
    let token = session.token.clone();
    let stream = async_stream(move |tx| async move {
        let _slot = slot;
        // A session signed out (or expired) elsewhere stops getting news within a minute.
        let mut recheck = tokio::time::interval(Duration::from_secs(60));
        recheck.tick().await;
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
            let news = tokio::select! {
                news = rx.recv() => news,
                // The page went away: free its slot at once, even when nothing happens.
                _ = tx.closed() => return,
                _ = recheck.tick() => {
                    if services.authenticate(&token).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            let event = match news {
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
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
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
