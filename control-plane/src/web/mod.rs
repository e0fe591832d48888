//! The dashboard (DESIGN §7): server-rendered pages for people, served by the control plane
//! at `/` and `/dashboard/…`. Pages call the same services as the API with the signed-in
//! user's [`Caller`](crate::domain::Caller), so every page is tenant-scoped exactly as the
//! API is, and the dashboard has no SQL of its own.
//!
//! - [`session`]: sign-in with the API's users and login throttling, the session cookie (a
//!   user token named `dashboard`), CSRF on every state-changing request, sign-out;
//! - [`render`]: the templates (`templates/`, minijinja, escaped by default) and error pages;
//! - [`assets`]: the embedded static files (`static/`: our CSS and script, htmx with its
//!   licence; nothing loads from elsewhere);
//! - [`live`]: server-sent events from [`crate::live`], which pages turn into
//!   fragment reloads;
//! - one module per section: [`instances`], [`sandbox`], [`inbox`], [`contacts`],
//!   [`webhooks`], [`automations`], [`crm`], [`account`].
//!
//! Page routes are not API operations: they are listed by path in each section's `PATHS` ([`page_paths`]) (the
//! OpenAPI drift test excludes exactly these), and [`Pages::route`] refuses a path that is
//! not listed.

pub mod account;
pub mod assets;
pub mod automations;
pub mod contacts;
pub mod crm;
pub mod external_functions;
pub mod fields;
pub mod inbox;
pub mod instances;
pub mod live;
pub mod render;
pub mod sandbox;
pub mod session;
pub mod webhooks;

use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::MethodRouter;

use crate::http::AppState;

pub use render::{WebError, WebResult};
pub use session::Session;

/// The paths of this module (the shell: home, sign-in, assets, events).
pub const PATHS: &[&str] = &["/", "/dashboard"];

/// Every path the dashboard serves (axum's syntax), each section listing its own. The
/// OpenAPI drift test excludes exactly these from "routed but undocumented".
pub fn page_paths() -> Vec<&'static str> {
    [
        PATHS,
        session::PATHS,
        assets::PATHS,
        live::PATHS,
        instances::PATHS,
        sandbox::PATHS,
        inbox::PATHS,
        contacts::PATHS,
        webhooks::PATHS,
        automations::PATHS,
        crm::PATHS,
        external_functions::PATHS,
        account::PATHS,
    ]
    .concat()
}

/// A router that only takes listed paths.
pub struct Pages(Router<AppState>);

impl Pages {
    pub fn new() -> Self {
        Pages(Router::new())
    }

    /// Adds a page route; panics (at start-up, and in every test) on a path missing from
    /// its section's `PATHS`.
    pub fn route(self, path: &str, method_router: MethodRouter<AppState>) -> Self {
        assert!(
            page_paths().contains(&path),
            "dashboard path {path} is not listed in its section's PATHS"
        );
        Pages(self.0.route(path, method_router))
    }

    pub fn merge(self, other: Pages) -> Self {
        Pages(self.0.merge(other.0))
    }
}

impl Default for Pages {
    fn default() -> Self {
        Self::new()
    }
}

/// The dashboard's routes, CSRF-checked (see [`session::csrf_guard`]).
pub fn router(state: &AppState) -> Router<AppState> {
    let pages = Pages::new()
        .route("/", axum::routing::get(home))
        .route("/dashboard", axum::routing::get(home))
        .merge(session::routes())
        .merge(assets::routes())
        .merge(live::routes())
        .merge(instances::routes())
        .merge(sandbox::routes())
        .merge(inbox::routes())
        .merge(contacts::routes())
        .merge(webhooks::routes())
        .merge(automations::routes())
        .merge(crm::routes())
        .merge(external_functions::routes())
        .merge(account::routes());
    pages
        .0
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::csrf_guard,
        ))
        .layer(axum::middleware::from_fn(render::security_headers))
}

/// `/`: the instances page when signed in, else the sign-in page.
async fn home(session: Option<Session>) -> Response {
    match session {
        Some(_) => Redirect::to("/dashboard/instances").into_response(),
        None => Redirect::to("/dashboard/login").into_response(),
    }
}
