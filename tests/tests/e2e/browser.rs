//! The dashboard in a real browser: headless Chromium driven through ChromeDriver (Debian's
//! `chromium` and `chromium-driver`; `ZAPINI_CHROMEDRIVER` / `ZAPINI_CHROMIUM` point
//! elsewhere). Ignored without them; `.ci/run` installs both and runs these tests.
//!
//! The control plane runs with the `process` launcher, as the README's command does: an
//! instance created in the browser gets its own `instance-node` process.
//!
//! Screenshots of the main pages land in `<target>/tmp/dashboard-screenshots/` (kept by the
//! run, not committed).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use control_plane::config::LauncherKind;
use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use serde_json::json;
use zapini_e2e::{ADMIN_EMAIL, ADMIN_PASSWORD, node_bin};

use crate::support::{self, T};

const CONTACT: &str = "5511988887777";

/// The browser and its driver; the driver process dies with this.
struct Browser {
    client: Client,
    _driver: tokio::process::Child,
    shots: PathBuf,
    base: String,
}

fn chromedriver() -> Option<PathBuf> {
    std::env::var_os("ZAPINI_CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/bin/chromedriver")))
        .filter(|p| p.is_file())
}

fn chromium() -> PathBuf {
    std::env::var_os("ZAPINI_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

impl Browser {
    /// A fresh headless browser of `width` CSS pixels.
    async fn start(base: &str, width: u32) -> Browser {
        let driver_bin = chromedriver().expect("chromedriver (apt install chromium-driver)");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = tokio::process::Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let mut caps = serde_json::Map::new();
        let mut options = json!({
            "binary": chromium(),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", format!("--window-size={width},900")],
        });
        // Windows are at least 500 px wide; a phone is emulated.
        if width < 500 {
            options["mobileEmulation"] =
                json!({"deviceMetrics": {"width": width, "height": 800, "pixelRatio": 2.0}});
        }
        caps.insert("goog:chromeOptions".into(), options);
        let url = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if tokio::time::Instant::now() > deadline => {
                    panic!("could not start Chromium through ChromeDriver: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            client,
            _driver: driver,
            shots,
            base: base.to_owned(),
        }
    }

    /// Opens a page. It must open within `T`: a browser opens at most six connections to a
    /// server over HTTP/1.1, so live streams left open by pages gone would stall it.
    async fn goto(&self, path: &str) {
        let opened =
            tokio::time::timeout(T, self.client.goto(&format!("{}{path}", self.base))).await;
        let Ok(opened) = opened else {
            panic!("{path} did not open within {T:?}");
        };
        opened.unwrap();
    }

    async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    /// The element once it is there (htmx swaps and live updates take a moment).
    async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(T)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}`: {e}"))
    }

    /// Waits until the element's text contains `text`; answers the text.
    async fn text_of(&self, css: &str, text: &str) -> String {
        let deadline = tokio::time::Instant::now() + T;
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await
                && let Ok(t) = el.text().await
                && t.contains(text)
            {
                return t;
            }
            if tokio::time::Instant::now() > deadline {
                let url = self.client.current_url().await.map(|u| u.to_string());
                let shown = self
                    .client
                    .execute(
                        "const e = document.querySelector(arguments[0]); return e ? e.outerHTML : null;",
                        vec![json!(css)],
                    )
                    .await
                    .unwrap_or_default();
                panic!("`{css}` never showed `{text}`; at {url:?}: {shown:.3000}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `css` matches an element.
    async fn until(&self, css: &str) {
        self.find(css).await;
    }

    /// Runs `act` on the element, again on the new one when a live reload replaced it
    /// meanwhile (a stale element).
    async fn on<F, Fut>(&self, css: &str, act: F)
    where
        F: Fn(Element) -> Fut,
        Fut: std::future::Future<Output = Result<(), fantoccini::error::CmdError>>,
    {
        let deadline = tokio::time::Instant::now() + T;
        loop {
            match act(self.find(css).await).await {
                Ok(()) => return,
                Err(e) if tokio::time::Instant::now() < deadline => {
                    tracing_stale(&e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("`{css}`: {e}"),
            }
        }
    }

    async fn click(&self, css: &str) {
        self.on(css, |el| async move { el.click().await }).await;
    }

    async fn fill(&self, css: &str, value: &str) {
        self.on(css, |el| async move {
            el.clear().await?;
            el.send_keys(value).await
        })
        .await;
    }

    /// Waits for the page's live stream to be open (before relying on live updates).
    async fn live(&self) {
        self.until("body[data-live=\"ready\"]").await;
    }

    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    async fn sign_in(&self, email: &str, password: &str) {
        self.goto("/").await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.shot("sign-in").await;
        self.click("button[type=submit]").await;
        self.until("#instances").await;
    }

    /// `fetch` from the page: (status, body text). The page's own origin and cookies.
    async fn fetch(&self, method: &str, path: &str, csrf: Option<&str>) -> (u16, String) {
        let script = r#"
            const [method, path, csrf, done] = arguments;
            const headers = {"hx-request": "true"};
            if (csrf) headers["x-csrf-token"] = csrf;
            fetch(path, {method, headers, credentials: "same-origin"})
              .then(async r => done([r.status, await r.text()]))
              .catch(e => done([0, String(e)]));
        "#;
        let v = self
            .client
            .execute_async(script, vec![json!(method), json!(path), json!(csrf)])
            .await
            .unwrap();
        (
            v[0].as_u64().unwrap() as u16,
            v[1].as_str().unwrap_or_default().to_owned(),
        )
    }

    async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// Only a replaced element is worth another try; anything else is reported at once.
fn tracing_stale(e: &fantoccini::error::CmdError) {
    let text = e.to_string();
    assert!(
        text.contains("stale element") || text.contains("not interactable"),
        "{text}"
    );
}

fn have_browser() -> bool {
    chromedriver().is_some() && chromium().is_file()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and ChromeDriver (apt install chromium chromium-driver); .ci/run installs them and runs it"]
async fn a_new_user_pairs_a_sandbox_instance_and_chats_with_it_live() {
    assert!(
        have_browser(),
        "Chromium and ChromeDriver are not installed"
    );
    let bin = node_bin().expect("the instance-node binary (cargo build --workspace)");
    let s = support::setup_with(|c| {
        c.launcher = LauncherKind::Process;
        c.node_bin = Some(bin);
        c.default_engine = "sandbox".into();
    })
    .await;
    let b = Browser::start(&s.cp.url(""), 1280).await;

    // Sign in; create a sandbox instance; its page shows the QR code.
    b.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    b.shot("instances-empty").await;
    b.fill("#new-name", "Front desk").await;
    b.click("#create-instance button[type=submit]").await;
    b.until("#connection").await;
    let instance_path = b.path().await;
    let uuid = instance_path.rsplit('/').next().unwrap().to_owned();
    b.live().await;
    b.until("#qr img").await;
    b.text_of("#instance-status", "qr ready").await;
    b.shot("instance-qr").await;

    // The sandbox phone scans it; the instance page turns connected without a reload.
    b.goto(&format!("/dashboard/instances/{uuid}/phone")).await;
    b.live().await;
    b.shot("sandbox-phone-qr").await;
    b.click("#phone-scan").await;
    b.until("#phone-open").await;
    b.goto(&instance_path).await;
    b.live().await;
    b.text_of("#instance-status", "connected").await;
    b.shot("instance-connected").await;

    // The contact writes from the phone; the inbox shows it live.
    b.goto("/dashboard/inbox").await;
    b.live().await;
    b.shot("inbox-empty").await;
    let phone = Browser::start(&s.cp.url(""), 375).await;
    phone.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    phone
        .goto(&format!(
            "/dashboard/instances/{uuid}/phone/chat?contact={CONTACT}"
        ))
        .await;
    phone.live().await;
    phone.fill("#phone-text", "Oi, vocês abrem sábado?").await;
    phone.click("#phone-send").await;
    b.text_of("#conversations", CONTACT).await;
    b.click("#conversations a[data-conversation]").await;
    b.live().await;
    b.text_of("#thread", "Oi, vocês abrem sábado?").await;

    // Answer from the inbox: it reaches the phone, with its receipt.
    b.fill("#composer-text", "Abrimos sim, das 9h às 13h.")
        .await;
    b.click("#composer-send").await;
    phone
        .text_of("#phone-thread", "Abrimos sim, das 9h às 13h.")
        .await;
    phone.shot("sandbox-phone-chat").await;
    b.until("#thread .bubble.me[data-status]").await;
    b.shot("inbox-conversation").await;

    // Another message from the phone appears in the open conversation without a reload.
    phone.fill("#phone-text", "Perfeito, obrigado!").await;
    phone.click("#phone-send").await;
    b.text_of("#thread", "Perfeito, obrigado!").await;

    // Pause automation for the conversation, then send by hand. The click comes right after a
    // live reload replaced the panel, the moment a quick user hits: the new form must already
    // be wired up, or the click is a plain browser submit that reloads the page and loses it.
    b.client
        .execute(
            r#"
            document.body.addEventListener("htmx:afterSwap", function once(e) {
              if (e.detail.target.id !== "panel") return;
              document.body.removeEventListener("htmx:afterSwap", once);
              setTimeout(function () { document.getElementById("pause-automation").click(); }, 0);
            });
            htmx.trigger(document.getElementById("panel"), "live");
            "#,
            vec![],
        )
        .await
        .unwrap();
    b.text_of("#automation", "paused").await;
    let url = b.client.current_url().await.unwrap();
    assert_eq!(
        url.query(),
        None,
        "the pause was a plain form submit: {url}"
    );
    b.fill("#composer-text", "Um atendente vai te responder.")
        .await;
    b.click("#composer-send").await;
    phone
        .text_of("#phone-thread", "Um atendente vai te responder.")
        .await;

    // A state change without the CSRF header is refused, and so is another tenant's URL.
    let (status, body) = b
        .fetch(
            "POST",
            &format!("/dashboard/instances/{uuid}/disconnect"),
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    b.goto(&instance_path).await;
    b.text_of("#instance-status", "connected").await;
    s.other_tenant("other@test.local").await;
    let other = Browser::start(&s.cp.url(""), 1280).await;
    other.sign_in("other@test.local", "other-password-1").await;
    other.goto(&instance_path).await;
    other.text_of("main", "not found").await;
    other.goto("/dashboard/inbox").await;
    let list = other.text_of("main", "").await;
    assert!(!list.contains(CONTACT), "{list}");

    // The other main pages, for the record.
    for (path, name) in [
        ("/dashboard/instances", "instances"),
        ("/dashboard/contacts", "contacts"),
        ("/dashboard/automations", "automations"),
        ("/dashboard/crm", "crm"),
        ("/dashboard/account", "account"),
    ] {
        b.goto(path).await;
        b.until("main").await;
        b.shot(name).await;
    }
    other.close().await;
    phone.close().await;
    b.close().await;
}

impl Browser {
    /// What breaks a page on a small screen or for keyboard users: content wider than the
    /// window, and form fields without a label. Answers the problems found.
    async fn layout_problems(&self) -> Vec<String> {
        let script = r#"
            const problems = [];
            const doc = document.documentElement;
            if (doc.scrollWidth > window.innerWidth + 1) {
              const wide = [...document.querySelectorAll("body *")]
                .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
                .slice(0, 3).map(el => el.outerHTML.slice(0, 100));
              problems.push(`page is ${doc.scrollWidth}px wide in a ${window.innerWidth}px window: ${wide.join(" | ")}`);
            }
            document.querySelectorAll("input:not([type=hidden]), select, textarea").forEach(el => {
              const named = (el.labels && el.labels.length > 0) || el.getAttribute("aria-label");
              if (!named) problems.push(`unlabelled field ${el.outerHTML.slice(0, 120)}`);
            });
            return problems;
        "#;
        let v = self.client.execute(script, vec![]).await.unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and ChromeDriver (apt install chromium chromium-driver); .ci/run installs them and runs it"]
async fn pages_fit_a_phone_with_long_and_right_to_left_names_and_label_every_field() {
    assert!(
        have_browser(),
        "Chromium and ChromeDriver are not installed"
    );
    let s = support::setup().await;
    let long = "Atendimento-ao-cliente-da-loja-central-de-São-Paulo-".repeat(4);
    let mut ids = Vec::new();
    for name in [long.as_str(), "خدمة العملاء في الرياض"] {
        let (status, body) = s
            .post(
                "/api/v1/instances",
                &s.user,
                json!({"name": name, "engine": "sandbox"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        ids.push(
            body["data"]["instance"]["uuid"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let b = Browser::start(&s.cp.url(""), 375).await;
    b.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let mut pages = vec![
        "/dashboard/instances".to_owned(),
        "/dashboard/inbox".to_owned(),
        "/dashboard/contacts".to_owned(),
        "/dashboard/automations".to_owned(),
        "/dashboard/crm".to_owned(),
        "/dashboard/account".to_owned(),
    ];
    pages.extend(ids.iter().map(|id| format!("/dashboard/instances/{id}")));
    for page in &pages {
        b.goto(page).await;
        b.until("main").await;
        let problems = b.layout_problems().await;
        assert!(problems.is_empty(), "{page}: {problems:#?}");
    }
    b.goto(&format!("/dashboard/instances/{}", ids[1])).await;
    b.shot("instance-rtl-375").await;
    // Keyboard: the skip link is the first stop and leads to the content.
    b.client
        .active_element()
        .await
        .unwrap()
        .send_keys("\u{E004}")
        .await
        .unwrap();
    let focused = b.client.active_element().await.unwrap();
    assert_eq!(
        focused.attr("class").await.unwrap().as_deref(),
        Some("skip")
    );
    b.close().await;
}
