//! The external functions API routes.

use utoipa_axum::router::OpenApiRouter;

use super::AppState;

/// The routes of this area, mounted by `api_routes`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
