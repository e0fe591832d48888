//! A signed-in dashboard session over plain HTTP, for end-to-end tests and for the browser
//! tests' set-up: signs in through the sign-in form as a browser does (its double-submit
//! CSRF cookie included), then reads pages and fragments and posts forms the way htmx does
//! (`HX-Request` and the page's `x-csrf-token` header). Also a few helpers to read what a
//! page shows (an element's opening tag and attributes) without an HTML parser.

use reqwest::Method;
use reqwest::header::{COOKIE, SET_COOKIE};

use crate::{ADMIN_EMAIL, ADMIN_PASSWORD, ControlPlane};

/// A signed-in person.
#[derive(Clone)]
pub struct Dashboard {
    pub base: String,
    /// The session cookie's value (a user token named `dashboard`).
    pub cookie: String,
    /// The CSRF value the pages hand to htmx.
    pub csrf: String,
    client: reqwest::Client,
}

/// The answer to a form post.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// `HX-Redirect`: where htmx goes next.
    pub redirect: Option<String>,
    /// `HX-Trigger`: the events htmx fires on the page.
    pub trigger: Option<String>,
    pub body: String,
}

fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .and_then(|v| v.split_once('='))
        .map(|(_, value)| value.to_owned())
}

/// The page's CSRF value: the sign-in form's hidden field, or the layout's htmx header.
pub fn csrf_in(page: &str) -> Option<String> {
    for marker in ["name=\"csrf\" value=\"", "\"x-csrf-token\": \""] {
        if let Some(i) = page.find(marker) {
            let rest = &page[i + marker.len()..];
            return rest.find('"').map(|end| rest[..end].to_owned());
        }
    }
    None
}

impl Dashboard {
    /// Signs in through the form; panics if the credentials are refused.
    pub async fn sign_in(cp: &ControlPlane, email: &str, password: &str) -> Dashboard {
        Self::sign_in_at(&cp.base, email, password).await
    }

    /// [`Dashboard::sign_in`] on a control plane at `base` (`http://127.0.0.1:port`).
    pub async fn sign_in_at(base: &str, email: &str, password: &str) -> Dashboard {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("client");
        let resp = client
            .get(format!("{base}/dashboard/login"))
            .send()
            .await
            .expect("sign-in page");
        assert_eq!(resp.status(), 200, "the sign-in page");
        let login_cookie = set_cookie(&resp, "zapini_login_csrf").expect("the form's cookie");
        let page = resp.text().await.expect("sign-in page");
        let form_csrf = csrf_in(&page).expect("the form's CSRF field");
        let resp = client
            .post(format!("{base}/dashboard/login"))
            .header(COOKIE, format!("zapini_login_csrf={login_cookie}"))
            .form(&[
                ("email", email),
                ("password", password),
                ("csrf", &form_csrf),
                ("next", "/dashboard/instances"),
            ])
            .send()
            .await
            .expect("sign in");
        assert_eq!(resp.status(), 303, "signing in as {email}");
        let cookie = set_cookie(&resp, "zapini_session").expect("a session cookie");
        let mut dash = Dashboard {
            base: base.to_owned(),
            cookie,
            csrf: String::new(),
            client,
        };
        let (status, page) = dash.get("/dashboard/instances").await;
        assert_eq!(status, 200, "{page}");
        dash.csrf = csrf_in(&page).expect("the layout's CSRF value");
        dash
    }

    /// The e2e admin ([`ADMIN_EMAIL`]).
    pub async fn admin(cp: &ControlPlane) -> Dashboard {
        Self::sign_in(cp, ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request with the session cookie (and nothing else).
    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header(COOKIE, format!("zapini_session={}", self.cookie))
    }

    /// A page (or an htmx fragment): status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = self.req(Method::GET, path).send().await.expect("GET");
        (
            resp.status().as_u16(),
            resp.text().await.unwrap_or_default(),
        )
    }

    /// A fragment as htmx asks for it (`HX-Request`: errors come back as fragments).
    pub async fn fragment(&self, path: &str) -> (u16, String) {
        let resp = self
            .req(Method::GET, path)
            .header("hx-request", "true")
            .send()
            .await
            .expect("GET");
        (
            resp.status().as_u16(),
            resp.text().await.unwrap_or_default(),
        )
    }

    async fn answer(resp: reqwest::Response) -> Answer {
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let redirect = header("hx-redirect");
        let trigger = header("hx-trigger");
        Answer {
            status: resp.status().as_u16(),
            redirect,
            trigger,
            body: resp.text().await.unwrap_or_default(),
        }
    }

    /// An htmx form post (URL-encoded) with the CSRF header.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        let resp = self
            .req(Method::POST, path)
            .header("hx-request", "true")
            .header("x-csrf-token", &self.csrf)
            .form(form)
            .send()
            .await
            .expect("POST");
        Self::answer(resp).await
    }

    /// An htmx multipart post (a form with a file) with the CSRF header.
    pub async fn post_multipart(&self, path: &str, form: reqwest::multipart::Form) -> Answer {
        let resp = self
            .req(Method::POST, path)
            .header("hx-request", "true")
            .header("x-csrf-token", &self.csrf)
            .multipart(form)
            .send()
            .await
            .expect("POST");
        Self::answer(resp).await
    }

    /// The same post without the CSRF header (what another site could send).
    pub async fn post_without_csrf(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        let resp = self
            .req(Method::POST, path)
            .header("hx-request", "true")
            .form(form)
            .send()
            .await
            .expect("POST");
        Self::answer(resp).await
    }
}

/// The opening tag of the first element whose opening tag contains `marker` (an id such as
/// `id="thread"`, or an attribute such as `data-conversation="…"`).
pub fn tag_with<'a>(html: &'a str, marker: &str) -> Option<&'a str> {
    let at = html.find(marker)?;
    let start = html[..at].rfind('<')?;
    let end = at + html[at..].find('>')?;
    Some(&html[start..=end])
}

/// An attribute's value in an opening tag (unescaped only for `&amp;`, `&quot;`, `&lt;`,
/// `&gt;` and `&#39;`).
pub fn attr(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let i = tag.find(&marker)? + marker.len();
    let end = tag[i..].find('"')?;
    Some(unescape(&tag[i..i + end]))
}

/// HTML text with the escapes the templates produce turned back.
pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The chat bubbles of a thread (`<article class="bubble …">…</article>`), in order.
pub fn bubbles(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<article class=\"bubble") {
        let from = &rest[i..];
        let end = from
            .find("</article>")
            .map_or(from.len(), |e| e + "</article>".len());
        out.push(&from[..end]);
        rest = &from[end..];
    }
    out
}

/// The bubble showing `text`, if any.
pub fn bubble_with<'a>(html: &'a str, text: &str) -> Option<&'a str> {
    bubbles(html)
        .into_iter()
        .find(|b| unescape(b).contains(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_pages() {
        let page = r#"<div id="thread" data-live="message"><article class="bubble me" data-status="read"><p>Hi &amp; bye</p></article><article class="bubble them"><p>x</p></article></div>"#;
        assert_eq!(
            tag_with(page, "id=\"thread\""),
            Some(r#"<div id="thread" data-live="message">"#)
        );
        let b = bubble_with(page, "Hi & bye").unwrap();
        assert_eq!(
            attr(tag_with(b, "class=\"bubble").unwrap(), "data-status").as_deref(),
            Some("read")
        );
        assert_eq!(bubbles(page).len(), 2);
        assert_eq!(
            csrf_in(r#"hx-headers='{"x-csrf-token": "abc"}'"#).as_deref(),
            Some("abc")
        );
    }
}
