//! Signing in and out, the session cookie and CSRF.
//!
//! - Sign-in goes through [`Services::login`](crate::service::Services::login): the same users,
//!   the same password check and the same throttling (per email and per address) as
//!   `POST /auth/login`. The session is a user token named `dashboard`, kept in the
//!   `zapini_session` cookie (HttpOnly, SameSite=Lax, Path=/, Secure when the control plane
//!   serves TLS or its public URL is https); it expires with the token
//!   (`ZAPINI_USER_TOKEN_TTL_DAYS`), and signing out revokes it.
//! - CSRF: every request that is not GET/HEAD must carry `x-csrf-token`, a value derived from
//!   the session's secret (SHA-256 of a label and the cookie), which the layout hands to htmx;
//!   another site can neither read it nor send the header. The sign-in form, which has no
//!   session yet, is a double-submit: a random value in a SameSite=Strict cookie and in the
//!   form.
//! - A page asked for without a valid session goes to the sign-in page (htmx gets
//!   `HX-Redirect`), and back to the page it wanted after signing in.

use axum::extract::{FromRequestParts, OptionalFromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Pages;
use super::render::{self, WebError, WebResult};
use crate::domain::Caller;
use crate::http::AppState;
use crate::service::auth::LoginInput;

pub const PATHS: &[&str] = &["/dashboard/login", "/dashboard/logout"];

pub const COOKIE: &str = "zapini_session";
const LOGIN_COOKIE: &str = "zapini_login_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

pub fn routes() -> Pages {
    Pages::new()
        .route("/dashboard/login", get(login_page).post(login))
        .route("/dashboard/logout", post(logout))
}

/// The signed-in person: their caller (a user token), who they are, and the CSRF value the
/// pages hand to htmx.
#[derive(Clone)]
pub struct Session {
    pub caller: Caller,
    /// The session's user token (`{id}|{secret}`), for calls the control plane makes on the
    /// person's behalf to the instance's node (the sandbox phone); never rendered.
    pub token: String,
    pub csrf: String,
    pub user: crate::service::auth::UserView,
    pub tenant: crate::service::auth::TenantView,
}

impl Session {
    /// What every page's layout needs.
    pub fn base(&self, section: &str) -> serde_json::Value {
        serde_json::json!({
            "csrf": self.csrf,
            "user": self.user,
            "tenant": self.tenant,
            "section": section,
        })
    }
}

/// The CSRF value of a session cookie.
pub fn csrf_for(cookie: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"zapini-dashboard-csrf\0");
    h.update(cookie.as_bytes());
    hex::encode(&h.finalize()[..20])
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// Whether cookies get `Secure`.
fn secure(state: &AppState) -> bool {
    let c = &state.services.config;
    c.tls.is_some()
        || c.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
}

fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    max_age: Option<i64>,
    strict: bool,
) -> HeaderValue {
    let mut c = cookie::Cookie::build((name.to_owned(), value.to_owned()))
        .http_only(true)
        .path("/")
        .same_site(if strict {
            cookie::SameSite::Strict
        } else {
            cookie::SameSite::Lax
        })
        .secure(secure(state));
    if let Some(secs) = max_age {
        c = c.max_age(cookie::time::Duration::seconds(secs));
    }
    HeaderValue::from_str(&c.build().to_string()).unwrap_or(HeaderValue::from_static(""))
}

/// Why a request has no session.
pub struct SignIn {
    htmx: bool,
    next: String,
}

impl IntoResponse for SignIn {
    fn into_response(self) -> Response {
        let to = format!(
            "/dashboard/login?next={}",
            form_urlencoded::byte_serialize(self.next.as_bytes()).collect::<String>()
        );
        if self.htmx {
            let mut r = StatusCode::UNAUTHORIZED.into_response();
            if let Ok(v) = HeaderValue::from_str(&to) {
                r.headers_mut().insert("hx-redirect", v);
            }
            r
        } else {
            axum::response::Redirect::to(&to).into_response()
        }
    }
}

async fn session_of(parts: &Parts, state: &AppState) -> Option<Session> {
    let token = cookie_value(&parts.headers, COOKIE)?;
    let caller = state.services.authenticate(&token).await.ok()?;
    if !matches!(caller, Caller::User { .. }) {
        return None;
    }
    let (user, tenant) = state.services.me(&caller).await.ok()?;
    Some(Session {
        csrf: csrf_for(&token),
        token,
        caller,
        user,
        tenant,
    })
}

impl FromRequestParts<AppState> for Session {
    type Rejection = SignIn;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, SignIn> {
        match session_of(parts, state).await {
            Some(s) => Ok(s),
            None => Err(SignIn {
                htmx: render::is_htmx(&parts.headers),
                next: if parts.method == Method::GET && !render::is_htmx(&parts.headers) {
                    parts
                        .uri
                        .path_and_query()
                        .map_or("/dashboard", |p| p.as_str())
                        .to_owned()
                } else {
                    "/dashboard".to_owned()
                },
            }),
        }
    }
}

impl OptionalFromRequestParts<AppState> for Session {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(session_of(parts, state).await)
    }
}

/// Refuses a state-changing request without the session's CSRF value (403 `CSRF_FAILED`);
/// the sign-in form checks its own.
pub async fn csrf_guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || req.uri().path() == "/dashboard/login" {
        return next.run(req).await;
    }
    let _ = &state;
    let expected = cookie_value(req.headers(), COOKIE).map(|c| csrf_for(&c));
    let given = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    match (expected, given) {
        (Some(e), Some(g))
            if zapini_shared::signing::constant_time_eq(e.as_bytes(), g.as_bytes()) =>
        {
            next.run(req).await
        }
        _ => WebError {
            status: StatusCode::FORBIDDEN,
            code: "CSRF_FAILED".into(),
            message: "This request did not come from a Zapini page (its CSRF token is missing or wrong). Reload the page and try again.".into(),
            fields: Vec::new(),
        }
        .into_response(),
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only a path of this dashboard, never another site.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/dashboard") && !n.starts_with("//") && !n.contains('\\') => {
            n.to_owned()
        }
        _ => "/dashboard/instances".to_owned(),
    }
}

#[derive(Serialize)]
struct LoginCtx<'a> {
    csrf: &'a str,
    next: String,
    email: &'a str,
    error: Option<String>,
}

fn login_form(
    state: &AppState,
    status: StatusCode,
    next: String,
    email: &str,
    error: Option<String>,
) -> WebResult<Response> {
    let csrf = crate::crypto::random_secret(32);
    let body = render::render(
        "login.html",
        LoginCtx {
            csrf: &csrf,
            next,
            email,
            error,
        },
    )?;
    let mut r = (status, axum::response::Html(body)).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, LOGIN_COOKIE, &csrf, Some(3600), true),
    );
    Ok(r)
}

async fn login_page(
    State(state): State<AppState>,
    session: Option<Session>,
    Query(q): Query<NextQuery>,
) -> WebResult<Response> {
    let next = safe_next(q.next.as_deref());
    if session.is_some() {
        return Ok(axum::response::Redirect::to(&next).into_response());
    }
    login_form(&state, StatusCode::OK, next, "", None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    crate::http::extract::ClientIp(client_ip): crate::http::extract::ClientIp,
    headers: HeaderMap,
    axum::extract::Form(form): axum::extract::Form<LoginForm>,
) -> WebResult<Response> {
    let next = safe_next(form.next.as_deref());
    let expected = cookie_value(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty()
        || !zapini_shared::signing::constant_time_eq(expected.as_bytes(), form.csrf.as_bytes())
    {
        return login_form(
            &state,
            StatusCode::FORBIDDEN,
            next,
            &form.email,
            Some("The sign-in form expired or did not come from this page. Try again.".into()),
        );
    }
    let result = state
        .services
        .login(LoginInput {
            email: form.email.clone(),
            password: form.password,
            device_name: Some("dashboard".into()),
            client_ip,
        })
        .await;
    match result {
        Ok((_, token)) => {
            let max_age = token
                .expires_at
                .map(|at| (at - chrono::Utc::now()).num_seconds().max(0));
            let mut r = axum::response::Redirect::to(&next).into_response();
            r.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(&state, COOKIE, &token.plaintext, max_age, false),
            );
            r.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(&state, LOGIN_COOKIE, "", Some(0), true),
            );
            Ok(r)
        }
        Err(e) => {
            let e = WebError::from(e);
            login_form(&state, e.status, next, &form.email, Some(e.message))
        }
    }
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Option<Session>,
) -> WebResult<Response> {
    if let Some(s) = session {
        state.services.logout(&s.caller).await?;
    }
    let mut r = render::redirect(&headers, "/dashboard/login");
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, COOKIE, "", Some(0), false),
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_the_dashboard() {
        assert_eq!(
            safe_next(Some("/dashboard/inbox?x=1")),
            "/dashboard/inbox?x=1"
        );
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/api/v1/x",
            "/dashboard\\..\\x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/dashboard/instances", "{bad}");
        }
    }

    #[test]
    fn csrf_depends_on_the_session() {
        assert_ne!(csrf_for("1|a"), csrf_for("1|b"));
        assert_eq!(csrf_for("1|a").len(), 40);
    }
}
