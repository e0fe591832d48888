//! The dashboard over HTTP (the browser tests in the e2e crate drive it in Chromium): sign-in
//! with throttling, the session cookie's attributes, CSRF on every state-changing request,
//! sign-out, pages scoped to the signed-in tenant, the page routes' list.

use reqwest::Method;
use reqwest::header::{COOKIE, SET_COOKIE};

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, spawn_app, spawn_app_with};

/// A signed-in dashboard user: the session cookie and the page's CSRF value.
pub struct Dash<'a> {
    pub app: &'a TestApp,
    pub cookie: String,
    pub csrf: String,
    client: reqwest::Client,
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of the `Set-Cookie` for `name`, with its attributes.
fn set_cookie<'r>(resp: &'r reqwest::Response, name: &str) -> Option<&'r str> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

fn value_of(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned()
}

/// The value of `<input type="hidden" name="csrf" value="…">` or `"x-csrf-token": "…"`.
fn csrf_in(page: &str) -> String {
    for marker in ["name=\"csrf\" value=\"", "\"x-csrf-token\": \""] {
        if let Some(i) = page.find(marker) {
            let rest = &page[i + marker.len()..];
            return rest[..rest.find('"').unwrap()].to_owned();
        }
    }
    panic!("no CSRF value in {page}")
}

impl<'a> Dash<'a> {
    /// Signs in through the form, as a browser does.
    pub async fn sign_in(app: &'a TestApp, email: &str, password: &str) -> Dash<'a> {
        let client = no_redirects();
        let (status, login_cookie, form_csrf) = login_form(app, &client).await;
        assert_eq!(status, 200);
        let resp = client
            .post(app.url("/dashboard/login"))
            .header(COOKIE, format!("zapini_login_csrf={login_cookie}"))
            .form(&[
                ("email", email),
                ("password", password),
                ("csrf", &form_csrf),
                ("next", "/dashboard/instances"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "{:?}", resp.text().await);
        let cookie = value_of(set_cookie(&resp, "zapini_session").expect("a session cookie"));
        let mut dash = Dash {
            app,
            cookie,
            csrf: String::new(),
            client,
        };
        let (status, page) = dash.get("/dashboard/instances").await;
        assert_eq!(status, 200, "{page}");
        dash.csrf = csrf_in(&page);
        dash
    }

    pub async fn admin(app: &'a TestApp) -> Dash<'a> {
        Dash::sign_in(app, ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.app.url(path))
            .header(COOKIE, format!("zapini_session={}", self.cookie))
    }

    /// A page or fragment: status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = self.req(Method::GET, path).send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// An htmx form post with the CSRF header: status, `HX-Redirect` and body.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Option<String>, String) {
        let resp = self
            .req(Method::POST, path)
            .header("hx-request", "true")
            .header("x-csrf-token", &self.csrf)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let redirect = resp
            .headers()
            .get("hx-redirect")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, redirect, resp.text().await.unwrap())
    }
}

async fn login_form(app: &TestApp, client: &reqwest::Client) -> (u16, String, String) {
    let resp = client
        .get(app.url("/dashboard/login"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let cookie = set_cookie(&resp, "zapini_login_csrf")
        .map(value_of)
        .unwrap_or_default();
    let page = resp.text().await.unwrap();
    (status, cookie, csrf_in(&page))
}

#[tokio::test]
async fn sign_in_sets_a_safe_cookie_and_sign_out_ends_the_session() {
    let app = spawn_app().await;
    // Signed out: pages send the browser to the sign-in page, coming back after.
    let client = no_redirects();
    let resp = client
        .get(app.url("/dashboard/instances"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()["location"],
        "/dashboard/login?next=%2Fdashboard%2Finstances"
    );
    let resp = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(resp.headers()["location"], "/dashboard/login");

    // A wrong password: the form again with the API's message, no session.
    let (_, login_cookie, csrf) = login_form(&app, &client).await;
    let resp = client
        .post(app.url("/dashboard/login"))
        .header(COOKIE, format!("zapini_login_csrf={login_cookie}"))
        .form(&[
            ("email", ADMIN_EMAIL),
            ("password", "wrong"),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(set_cookie(&resp, "zapini_session").is_none());
    assert!(resp.text().await.unwrap().contains("login-error"));

    let resp = client
        .post(app.url("/dashboard/login"))
        .header(COOKIE, format!("zapini_login_csrf={login_cookie}"))
        .form(&[
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
            ("csrf", csrf.as_str()),
            ("next", "https://evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    // Never sent elsewhere after signing in.
    assert_eq!(resp.headers()["location"], "/dashboard/instances");
    let cookie = set_cookie(&resp, "zapini_session").unwrap().to_owned();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    // The session is a user token: the API takes it too, and it is listed as `dashboard`.
    let token = value_of(&cookie);
    let resp = app.get("/api/v1/auth/me", &token).await;
    assert_eq!(resp.status(), 200);

    let dash = Dash {
        app: &app,
        cookie: token.clone(),
        csrf: String::new(),
        client: no_redirects(),
    };
    let (status, page) = dash.get("/dashboard/instances").await;
    assert_eq!(status, 200);
    assert!(page.contains(ADMIN_EMAIL));
    let csrf = csrf_in(&page);
    // The page's headers: no framing, no outside or inline script.
    let resp = dash
        .req(Method::GET, "/dashboard/instances")
        .send()
        .await
        .unwrap();
    let csp = resp.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(resp.headers()["x-frame-options"], "DENY");

    // Signing out revokes the token.
    let resp = dash
        .req(Method::POST, "/dashboard/logout")
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(
        set_cookie(&resp, "zapini_session")
            .unwrap()
            .contains("Max-Age=0")
    );
    let resp = app.get("/api/v1/auth/me", &token).await;
    assert_eq!(resp.status(), 401);
    let (status, _) = dash.get("/dashboard/instances").await;
    assert_eq!(status, 303);
}

#[tokio::test]
async fn the_sign_in_form_needs_its_own_csrf_value_and_is_throttled_like_the_api() {
    let app = spawn_app_with(|c| c.login_max_failures_per_email = 3).await;
    let client = no_redirects();
    // Without the form's cookie (another site posting the form): refused, nothing checked.
    let resp = client
        .post(app.url("/dashboard/login"))
        .form(&[
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
            ("csrf", "guess"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(set_cookie(&resp, "zapini_session").is_none());

    // The API's throttle: failures through the form and the API count together.
    let (_, login_cookie, csrf) = login_form(&app, &client).await;
    for _ in 0..2 {
        let resp = client
            .post(app.url("/dashboard/login"))
            .header(COOKIE, format!("zapini_login_csrf={login_cookie}"))
            .form(&[
                ("email", ADMIN_EMAIL),
                ("password", "nope"),
                ("csrf", &csrf),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    let resp = app
        .req(Method::POST, "/auth/login", None)
        .json(&serde_json::json!({"email": ADMIN_EMAIL, "password": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = client
        .post(app.url("/dashboard/login"))
        .header(COOKIE, format!("zapini_login_csrf={login_cookie}"))
        .form(&[
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Too many failed login attempts")
    );
}

#[tokio::test]
async fn state_changes_need_the_csrf_header_and_pages_are_the_tenants_own() {
    let app = spawn_app().await;
    let dash = Dash::admin(&app).await;

    // Create through the page: the instance is there, as the API sees it.
    let (status, redirect, body) = dash
        .post(
            "/dashboard/instances",
            &[
                ("name", "Front desk"),
                ("engine", "sandbox"),
                ("daily_limit", "250"),
            ],
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let redirect = redirect.unwrap();
    let uuid = redirect.rsplit('/').next().unwrap().to_owned();
    let token = app.login().await;
    let resp = app.get(&format!("/api/v1/instances/{uuid}"), &token).await;
    assert_eq!(resp.status(), 200);
    let (status, page) = dash.get(&redirect).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Front desk") && page.contains("250"),
        "{page}"
    );

    // Bad input: the API's validation message, in the page's flash area.
    let (status, _, body) = dash
        .post(
            "/dashboard/instances",
            &[("name", " "), ("daily_limit", "ten")],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("daily_limit"), "{body}");

    // Without the CSRF header (or with another session's): refused, nothing changes.
    for csrf in [None, Some("0".repeat(40))] {
        let mut req = dash
            .req(Method::POST, &format!("/dashboard/instances/{uuid}/delete"))
            .header("hx-request", "true");
        if let Some(c) = &csrf {
            req = req.header("x-csrf-token", c);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 403);
        assert!(resp.text().await.unwrap().contains("CSRF"));
    }
    let resp = app.get(&format!("/api/v1/instances/{uuid}"), &token).await;
    assert_eq!(resp.status(), 200);

    // Another tenant sees none of it: its pages and actions answer 404 for our instance.
    app.other_tenant_token("other@test.local").await;
    let other = Dash::sign_in(&app, "other@test.local", "other-password-1").await;
    let (status, page) = other.get("/dashboard/instances").await;
    assert_eq!(status, 200);
    assert!(!page.contains("Front desk"));
    let (status, page) = other.get(&format!("/dashboard/instances/{uuid}")).await;
    assert_eq!(status, 404, "{page}");
    assert!(!page.contains("Front desk"));
    let (status, _, _) = other
        .post(&format!("/dashboard/instances/{uuid}/delete"), &[])
        .await;
    assert_eq!(status, 404);
    let (status, _, _) = other
        .post(
            &format!("/dashboard/instances/{uuid}/tokens"),
            &[("name", "x")],
        )
        .await;
    assert_eq!(status, 404);

    // Tokens: shown once on creation, listed masked, revoked.
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/instances/{uuid}/tokens"),
            &[("name", "my-bot"), ("expires_in_days", "")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let start = body.find("sk_").unwrap_or_else(|| panic!("{body}"));
    let sk: String = body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    assert_eq!(sk.len(), 51, "{sk}");
    let resp = app.get("/api/v1/instances", &sk).await;
    assert_eq!(resp.status(), 200);
    let (_, listed) = dash
        .get(&format!("/dashboard/instances/{uuid}/tokens"))
        .await;
    assert!(!listed.contains(&sk));
    let resp = app
        .get(&format!("/api/v1/instances/{uuid}/tokens"), &token)
        .await;
    let tokens: serde_json::Value = resp.json().await.unwrap();
    let id = tokens["data"]["tokens"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, _) = dash
        .post(
            &format!("/dashboard/instances/{uuid}/tokens/{id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    let resp = app.get("/api/v1/instances", &sk).await;
    assert_eq!(resp.status(), 401);

    // Deleting goes back to the list; the instance is gone.
    let (status, redirect, _) = dash
        .post(&format!("/dashboard/instances/{uuid}/delete"), &[])
        .await;
    assert_eq!(status, 204);
    assert_eq!(redirect.as_deref(), Some("/dashboard/instances"));
    let resp = app.get(&format!("/api/v1/instances/{uuid}"), &token).await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn every_listed_page_path_is_served_and_none_is_in_the_api_document() {
    let app = spawn_app().await;
    let dash = Dash::admin(&app).await;
    let token = app.login().await;
    let doc: serde_json::Value = app.get("/openapi.json", &token).await.json().await.unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    for path in control_plane::web::page_paths() {
        assert!(
            doc["paths"].get(path).is_none(),
            "{path} is a page, not an API operation"
        );
        let concrete = path
            .replace("{*path}", "app.css")
            .replace("{id}", &id)
            .replace("{token}", &id)
            .replace("{conversation}", &id)
            .replace("{flow}", &id)
            .replace("{integration}", &id)
            .replace("{function}", &id)
            .replace("{execution}", &id)
            .replace("{session}", &id)
            .replace("{board}", &id)
            .replace("{column}", &id)
            .replace("{lead}", &id)
            .replace("{appointment}", &id)
            .replace("{delivery}", &id)
            .replace("{contact}", &id);
        // A path the router does not know answers the API's "No route for" envelope; a
        // page's own 404 (unknown id) is HTML, and 405 means the path takes other methods.
        let resp = dash.req(Method::GET, &concrete).send().await.unwrap();
        let status = resp.status().as_u16();
        if path == "/dashboard/events" {
            assert_eq!(resp.headers()["content-type"], "text/event-stream");
            continue;
        }
        let body = resp.text().await.unwrap();
        assert!(
            !body.contains("No route for"),
            "{path}: {status} {body:.300}"
        );
    }
}

/// Reads server-sent events from `resp` until one named `event` arrives; answers its data.
async fn next_event(
    resp: &mut reqwest::Response,
    buf: &mut String,
    event: &str,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let name = block
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or("message");
            let data = block
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap_or("null");
            if name == event {
                return serde_json::from_str(data).unwrap();
            }
        }
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .unwrap_or_else(|_| panic!("no `{event}` event; got {buf:?}"))
            .unwrap()
            .expect("the stream stays open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn live_events_tell_only_the_tenant_what_changed() {
    let app = spawn_app().await;
    let dash = Dash::admin(&app).await;
    app.other_tenant_token("watcher@test.local").await;
    let other = Dash::sign_in(&app, "watcher@test.local", "other-password-1").await;

    // Signed out: no stream.
    let resp = no_redirects()
        .get(app.url("/dashboard/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);

    let mut ours = dash
        .req(Method::GET, "/dashboard/events")
        .send()
        .await
        .unwrap();
    let mut theirs = other
        .req(Method::GET, "/dashboard/events")
        .send()
        .await
        .unwrap();
    assert_eq!(ours.headers()["content-type"], "text/event-stream");
    let (mut a, mut b) = (String::new(), String::new());
    next_event(&mut ours, &mut a, "ready").await;
    next_event(&mut theirs, &mut b, "ready").await;

    // An instance created through the API is news for its tenant's pages, with its id only.
    let token = app.login().await;
    let created = app.create_instance(&token, "Live").await;
    let news = next_event(&mut ours, &mut a, "status").await;
    assert_eq!(news["instance"], created["uuid"]);
    assert_eq!(news["topic"], "status");
    assert_eq!(news.as_object().unwrap().len(), 3, "ids only: {news}");
    // The other tenant's stream hears nothing of it: its next event is its own.
    let other_token = app.login_as("watcher@test.local", "other-password-1").await;
    let theirs_created = app.create_instance(&other_token, "Theirs").await;
    let news = next_event(&mut theirs, &mut b, "status").await;
    assert_eq!(news["instance"], theirs_created["uuid"]);
}
