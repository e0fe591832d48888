//! `GET /health`: liveness, no authentication.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use zapini_shared::time::format_millis;

use super::AppState;

/// `{"status":"ok","uptime":<seconds>,"timestamp":"...Z"}`.
pub async fn health(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "uptime": state.node.started.elapsed().as_secs(),
        "timestamp": format_millis(chrono::Utc::now()),
    }))
}
