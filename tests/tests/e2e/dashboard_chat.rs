//! End to end: the dashboard's sandbox phone and inbox against a real sandbox node, over
//! HTTP as the pages' htmx requests make them. The phone scans the QR and the instance
//! connects; the contact writes from the phone and the inbox shows it; the inbox answers and
//! the phone shows it with its receipt; the contact reads it and the inbox shows `read`;
//! media both ways; automation pause / resume with the archive rule, and a send refused
//! while automation is active; another tenant, another engine and a missing CSRF header are
//! refused.

use base64::Engine as _;
use serde_json::{Value, json};
use zapini_e2e::dashboard::{Dashboard, attr, bubble_with, tag_with, unescape};
use zapini_e2e::eventually;

use crate::support::{T, paired, setup, unpaired};

const CONTACT: &str = "5511988887777";
/// A 1×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

fn png() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(PNG)
        .expect("png")
}

/// Reloads `path` until `pred` holds for its body; returns the body.
async fn page_until(
    dash: &Dashboard,
    path: &str,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
    eventually(T, what, || async {
        let (status, body) = dash.get(path).await;
        assert_eq!(status, 200, "{path}: {body:.500}");
        pred(&body).then_some(body)
    })
    .await
}

/// The `data-status` of the bubble showing `text`.
fn status_of(thread: &str, text: &str) -> Option<String> {
    let bubble = bubble_with(thread, text)?;
    attr(tag_with(bubble, "class=\"bubble")?, "data-status")
}

/// The bubble showing `text` is on the right (`.bubble.me`).
fn is_mine(thread: &str, text: &str) -> bool {
    bubble_with(thread, text).is_some_and(|b| b.starts_with("<article class=\"bubble me"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_chat_as_the_contact_and_answer_from_the_inbox() {
    let s = setup().await;
    let p = unpaired(&s, "Demo").await;
    let dash = Dashboard::admin(&s.cp).await;
    let phone = format!("/dashboard/instances/{}/phone", p.uuid);

    // Not connected: the QR code and the scan button, the screen reloading on status news.
    let (status, page) = dash.get(&phone).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"phone-scan\""), "{page}");
    assert!(
        unescape(&page).contains("data:image/png;base64,"),
        "the QR code"
    );
    let screen = tag_with(&page, "id=\"phone-screen\"").unwrap();
    assert_eq!(attr(screen, "data-live").as_deref(), Some("status"));

    // Scanning connects the instance; the phone shows the contact form.
    let a = dash
        .post(
            &format!("{phone}/scan"),
            &[("phone_number", "5511999991234")],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("id=\"phone-open\""), "{}", a.body);
    assert!(a.body.contains("id=\"phone-contact\""), "{}", a.body);
    assert!(a.body.contains("id=\"phone-disconnect\"") && a.body.contains("id=\"phone-logout\""));
    let (_, inst) = s
        .get(&format!("/api/v1/instances/{}", p.uuid), &s.user)
        .await;
    assert_eq!(inst["data"]["instance"]["status"], "connected", "{inst}");
    assert_eq!(inst["data"]["instance"]["phone_number"], "5511999991234");

    // The contact writes from the phone.
    let chat = format!("{phone}/chat?contact={CONTACT}&name=Maria");
    let (status, page) = dash.get(&chat).await;
    assert_eq!(status, 200, "{page}");
    for id in ["phone-thread", "phone-composer", "phone-text", "phone-send"] {
        assert!(page.contains(&format!("id=\"{id}\"")), "{id}");
    }
    let a = dash
        .post(
            &format!("{phone}/send"),
            &[
                ("contact", CONTACT),
                ("name", "Maria"),
                ("text", "Oi, tudo bem? <3"),
            ],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.trigger.as_deref(), Some("thread-changed"));
    assert!(a.body.contains("id=\"phone-composer\""));

    // The inbox lists the conversation with the contact's name and message, unread.
    let list = page_until(&dash, "/dashboard/inbox", "the conversation listed", |b| {
        b.contains("data-conversation=\"")
    })
    .await;
    let entry = tag_with(&list, "data-conversation=\"").unwrap();
    let conv = attr(entry, "data-conversation").unwrap();
    assert!(list.contains("id=\"conversations\""));
    let text = unescape(&list);
    assert!(
        text.contains("Maria") && text.contains("Oi, tudo bem? <3"),
        "{list}"
    );
    assert!(list.contains("data-unread=\"1\""), "{list}");

    // The conversation's thread: the contact's message on the left.
    let inbox = format!("/dashboard/inbox/{conv}");
    let (status, page) = dash.get(&inbox).await;
    assert_eq!(status, 200, "{page}");
    assert!(bubble_with(&page, "Oi, tudo bem? <3").is_some(), "{page}");
    assert!(!is_mine(&page, "Oi, tudo bem? <3"));
    let thread = tag_with(&page, "id=\"thread\"").unwrap();
    assert_eq!(attr(thread, "data-live").as_deref(), Some("message"));
    for id in ["composer", "composer-text", "composer-send", "automation"] {
        assert!(page.contains(&format!("id=\"{id}\"")), "{id}");
    }

    // The inbox answers; the phone shows it on the left with its receipt ticks.
    let a = dash
        .post(
            &format!("{inbox}/send"),
            &[("text", "Olá Maria! Tudo ótimo.")],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.trigger.as_deref(), Some("thread-changed"));
    let thread_url = format!("{phone}/thread?contact={CONTACT}");
    let on_phone = page_until(&dash, &thread_url, "the answer on the phone", |b| {
        bubble_with(b, "Olá Maria! Tudo ótimo.").is_some()
    })
    .await;
    assert!(!is_mine(&on_phone, "Olá Maria! Tudo ótimo."));
    assert!(is_mine(&on_phone, "Oi, tudo bem? <3"));
    assert_eq!(
        status_of(&on_phone, "Olá Maria! Tudo ótimo.").as_deref(),
        Some("sent")
    );
    assert!(
        bubble_with(&on_phone, "Olá Maria! Tudo ótimo.")
            .unwrap()
            .contains("class=\"ticks sent\"")
    );

    // The contact reads it: the inbox shows `read`.
    let a = dash
        .post(&format!("{phone}/read"), &[("contact", CONTACT)])
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let thread_page = page_until(
        &dash,
        &format!("{inbox}/thread"),
        "read in the inbox",
        |b| status_of(b, "Olá Maria! Tudo ótimo.").as_deref() == Some("read"),
    )
    .await;
    assert!(is_mine(&thread_page, "Olá Maria! Tudo ótimo."));
    let (_, hist) = s
        .get(&format!("/api/v1/conversations/{conv}/messages"), &s.user)
        .await;
    let ours = hist["data"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["is_from_me"] == true)
        .unwrap()
        .clone();
    assert_eq!(ours["status"], "read");
    let ours_id = ours["message_id"].as_str().unwrap().to_owned();

    // The contact reacts and answers with a reply: both in the inbox.
    let a = dash
        .post(
            &format!("{phone}/react"),
            &[
                ("contact", CONTACT),
                ("message_id", &ours_id),
                ("emoji", "👍"),
            ],
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let a = dash
        .post(
            &format!("{phone}/send"),
            &[
                ("contact", CONTACT),
                ("text", "Que bom!"),
                ("reply_to", &ours_id),
            ],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let thread_page = page_until(
        &dash,
        &format!("{inbox}/thread"),
        "the reply and reaction",
        |b| {
            bubble_with(b, "Que bom!").is_some()
                && bubble_with(b, "Olá Maria! Tudo ótimo.").is_some_and(|m| m.contains("👍"))
        },
    )
    .await;
    let reply = bubble_with(&thread_page, "Que bom!").unwrap();
    assert!(
        unescape(reply).contains("class=\"quote\"") && unescape(reply).contains("Olá Maria!"),
        "{reply}"
    );

    // The contact edits, then deletes their reply: the inbox shows both.
    let reply_id = attr(tag_with(reply, "class=\"bubble").unwrap(), "data-message").unwrap();
    let a = dash
        .post(
            &format!("{phone}/edit"),
            &[
                ("contact", CONTACT),
                ("message_id", &reply_id),
                ("text", "Que ótimo!"),
            ],
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    page_until(&dash, &format!("{inbox}/thread"), "the edit", |b| {
        bubble_with(b, "Que ótimo!").is_some_and(|m| m.contains("class=\"edited\""))
    })
    .await;
    let a = dash
        .post(
            &format!("{phone}/revoke"),
            &[("contact", CONTACT), ("message_id", &reply_id)],
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let thread_page = page_until(&dash, &format!("{inbox}/thread"), "the deletion", |b| {
        bubble_with(b, "This message was deleted").is_some()
    })
    .await;
    assert!(
        bubble_with(&thread_page, "Que ótimo!").is_none(),
        "deleted text is not shown"
    );

    // Media both ways: an upload from the phone shows inline in the inbox, from its signed
    // URL on the page's own origin.
    let form = reqwest::multipart::Form::new()
        .text("contact", CONTACT)
        .text("text", "A photo")
        .part(
            "file",
            reqwest::multipart::Part::bytes(png())
                .file_name("dot.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let a = dash.post_multipart(&format!("{phone}/send"), form).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let thread_page = page_until(&dash, &format!("{inbox}/thread"), "the photo", |b| {
        bubble_with(b, "A photo").is_some_and(|m| m.contains("<img"))
    })
    .await;
    let img = tag_with(bubble_with(&thread_page, "A photo").unwrap(), "<img").unwrap();
    let src = attr(img, "src").unwrap();
    assert!(src.starts_with("/api/v1/messages/"), "{src}");
    let resp = reqwest::get(s.cp.url(&src)).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), png().as_slice());

    // An upload from the inbox (through the media library) reaches the phone.
    let form = reqwest::multipart::Form::new()
        .text("text", "Our logo")
        .part(
            "file",
            reqwest::multipart::Part::bytes(png())
                .file_name("logo.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let a = dash.post_multipart(&format!("{inbox}/send"), form).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let on_phone = page_until(&dash, &thread_url, "the logo on the phone", |b| {
        bubble_with(b, "Our logo").is_some_and(|m| m.contains("<img"))
    })
    .await;
    assert!(!is_mine(&on_phone, "Our logo"));

    // Mark read from the inbox: the unread count drops to 0.
    let a = dash.post(&format!("{inbox}/read"), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, c) = s
        .get(&format!("/api/v1/conversations/{conv}"), &s.user)
        .await;
    assert_eq!(c["data"]["unread_count"], 0, "{c}");

    // A fault from the phone: the instance drops, the screen offers to reconnect.
    let a = dash
        .post(&format!("{phone}/fault"), &[("fault", "disconnect")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("id=\"phone-reconnect\""), "{}", a.body);
    let (_, inst) = s
        .get(&format!("/api/v1/instances/{}", p.uuid), &s.user)
        .await;
    assert_eq!(inst["data"]["instance"]["status"], "disconnected", "{inst}");
    let a = dash.post(&format!("{phone}/reconnect"), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    eventually(T, "connected again", || async {
        let (_, inst) = s
            .get(&format!("/api/v1/instances/{}", p.uuid), &s.user)
            .await;
        (inst["data"]["instance"]["status"] == "connected").then_some(())
    })
    .await;
    p.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automation_pause_resume_and_the_archive_rule() {
    let s = setup().await;
    let p = paired(&s, "Bot desk", "5511999991235").await;
    let dash = Dashboard::admin(&s.cp).await;
    let phone = format!("/dashboard/instances/{}/phone", p.uuid);
    let a = dash
        .post(
            &format!("{phone}/send"),
            &[("contact", CONTACT), ("text", "Hello?")],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let list = page_until(&dash, "/dashboard/inbox", "the conversation", |b| {
        b.contains("data-conversation=\"")
    })
    .await;
    let conv = attr(
        tag_with(&list, "data-conversation=\"").unwrap(),
        "data-conversation",
    )
    .unwrap();
    let inbox = format!("/dashboard/inbox/{conv}");

    // Tags and filters.
    let (status, tag) = s
        .post(
            "/api/v1/tags",
            &s.user,
            json!({"name": "VIP", "color": "#f59e0b"}),
        )
        .await;
    assert_eq!(status, 201, "{tag}");
    let tag_id = tag["data"]["tag"]["id"].as_str().unwrap().to_owned();
    let a = dash
        .post(&format!("{inbox}/tags"), &[("tag_ids", &tag_id)])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, c) = s
        .get(&format!("/api/v1/conversations/{conv}"), &s.user)
        .await;
    assert_eq!(c["data"]["tags"][0]["name"], "VIP", "{c}");
    let (_, page) = dash.get(&format!("/dashboard/inbox?tag={tag_id}")).await;
    assert!(page.contains(&format!("data-conversation=\"{conv}\"")));
    let (_, page) = dash.get("/dashboard/inbox?search=nobody-like-this").await;
    assert!(!page.contains("data-conversation=\""));
    let (_, page) = dash
        .get(&format!("/dashboard/inbox?instance={}&unread=1", p.uuid))
        .await;
    assert!(page.contains(&format!("data-conversation=\"{conv}\"")));
    let a = dash
        .post(&format!("{inbox}/tags"), &[("tag_ids", "not-a-uuid")])
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body.contains("tag_ids"));

    // An active flow: the panel says so, with the archive rule in plain sight.
    let (status, flow) = s
        .post(
            "/api/v1/automation/flows",
            &s.user,
            json!({"instance_id": p.uuid.to_string(), "name": "Bot"}),
        )
        .await;
    assert_eq!(status, 201, "{flow}");
    let (_, page) = dash.get(&inbox).await;
    let panel = tag_with(&page, "id=\"automation\"").unwrap();
    assert_eq!(
        attr(panel, "data-automation-status").as_deref(),
        Some("active")
    );
    let rule = unescape(&page);
    assert!(
        rule.contains("To resume, archive the conversation first: archiving closes the manual session, and resuming unarchives it."),
        "{page}"
    );
    assert!(page.contains("id=\"pause-automation\"") && page.contains("id=\"resume-automation\""));

    // A send while automation is active: refused with the API's message.
    let a = dash
        .post(&format!("{inbox}/send"), &[("text", "By hand")])
        .await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(a.body.contains("AUTOMATION_ACTIVE"), "{}", a.body);
    assert!(
        a.body.contains("Cannot send messages. This conversation has active automation. Pause the automation first to send messages manually."),
        "{}",
        a.body
    );

    // Paused: sending by hand works.
    let a = dash
        .post(&format!("{inbox}/pause"), &[("reason", "Carla takes over")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        attr(
            tag_with(&a.body, "id=\"automation\"").unwrap(),
            "data-automation-status"
        )
        .as_deref(),
        Some("paused")
    );
    assert!(a.body.contains("Carla takes over"));
    let a = dash
        .post(&format!("{inbox}/send"), &[("text", "By hand")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);

    // Resuming needs the conversation archived: the API's refusal is shown.
    let a = dash.post(&format!("{inbox}/resume"), &[]).await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(
        a.body
            .contains("Archive the conversation before resuming automation"),
        "{}",
        a.body
    );
    let a = dash.post(&format!("{inbox}/archive"), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("id=\"restore\""));
    let (_, c) = s
        .get(&format!("/api/v1/conversations/{conv}"), &s.user)
        .await;
    assert_eq!(c["data"]["is_archived"], true);
    let (_, page) = dash.get("/dashboard/inbox?archived=1").await;
    assert!(page.contains(&format!("data-conversation=\"{conv}\"")));
    let a = dash.post(&format!("{inbox}/resume"), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        attr(
            tag_with(&a.body, "id=\"automation\"").unwrap(),
            "data-automation-status"
        )
        .as_deref(),
        Some("active")
    );
    let (_, c) = s
        .get(&format!("/api/v1/conversations/{conv}"), &s.user)
        .await;
    assert_eq!(c["data"]["is_archived"], false, "resuming unarchives");
    assert_eq!(c["data"]["automation_status"], "active");

    // Archive and restore by hand.
    dash.post(&format!("{inbox}/archive"), &[]).await;
    let a = dash.post(&format!("{inbox}/restore"), &[]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, c) = s
        .get(&format!("/api/v1/conversations/{conv}"), &s.user)
        .await;
    assert_eq!(c["data"]["is_archived"], false);
    p.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_tenants_other_engines_and_forged_posts_are_refused() {
    let s = setup().await;
    let p = paired(&s, "Ours", "5511999991236").await;
    let dash = Dashboard::admin(&s.cp).await;
    let phone = format!("/dashboard/instances/{}/phone", p.uuid);
    let a = dash
        .post(
            &format!("{phone}/send"),
            &[("contact", CONTACT), ("text", "Private")],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let list = page_until(&dash, "/dashboard/inbox", "the conversation", |b| {
        b.contains("data-conversation=\"")
    })
    .await;
    let conv = attr(
        tag_with(&list, "data-conversation=\"").unwrap(),
        "data-conversation",
    )
    .unwrap();
    let inbox = format!("/dashboard/inbox/{conv}");
    let count = || async {
        let (_, h) = s
            .get(&format!("/api/v1/conversations/{conv}/messages"), &s.user)
            .await;
        h["data"]["messages"].as_array().map_or(0, Vec::len)
    };
    let before = count().await;

    // Without the CSRF header: refused, nothing sent.
    for (path, form) in [
        (
            format!("{phone}/send"),
            vec![("contact", CONTACT), ("text", "forged")],
        ),
        (format!("{inbox}/send"), vec![("text", "forged")]),
        (format!("{phone}/fault"), vec![("fault", "logged_out")]),
        (format!("{inbox}/archive"), vec![]),
    ] {
        let a = dash.post_without_csrf(&path, &form).await;
        assert_eq!(a.status, 403, "{path}: {}", a.body);
        assert!(a.body.contains("CSRF"), "{}", a.body);
    }
    assert_eq!(count().await, before);
    let (_, inst) = s
        .get(&format!("/api/v1/instances/{}", p.uuid), &s.user)
        .await;
    assert_eq!(inst["data"]["instance"]["status"], "connected");

    // Bad input: the API's 422 naming the field.
    let a = dash
        .post(
            &format!("{phone}/send"),
            &[("contact", "not a number"), ("text", "x")],
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body.contains("contact"), "{}", a.body);
    let a = dash
        .post(&format!("{phone}/send"), &[("contact", CONTACT)])
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body.contains("message"), "{}", a.body);
    let (status, _) = dash.get(&format!("{phone}/chat?contact=abc")).await;
    assert_eq!(status, 422);

    // Another tenant: 404 on every phone and inbox route for our instance and conversation.
    s.other_tenant("other@e2e.local").await;
    let other = Dashboard::sign_in(&s.cp, "other@e2e.local", "other-password-1").await;
    let gets = [
        phone.clone(),
        format!("{phone}/screen"),
        format!("{phone}/chats"),
        format!("{phone}/chat?contact={CONTACT}"),
        format!("{phone}/thread?contact={CONTACT}"),
        inbox.clone(),
        format!("{inbox}/thread"),
        format!("{inbox}/panel"),
        format!("/dashboard/inbox?instance={}", p.uuid),
    ];
    for path in &gets {
        let (status, body) = other.get(path).await;
        assert_eq!(status, 404, "{path}: {body:.300}");
        assert!(!body.contains("Private"), "{path}");
    }
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("{phone}/scan"),
            vec![("phone_number", "5511999991237")],
        ),
        (format!("{phone}/fault"), vec![("fault", "logged_out")]),
        (format!("{phone}/reconnect"), vec![]),
        (
            format!("{phone}/send"),
            vec![("contact", CONTACT), ("text", "intruder")],
        ),
        (
            format!("{phone}/react"),
            vec![("contact", CONTACT), ("message_id", "X"), ("emoji", "👍")],
        ),
        (format!("{phone}/read"), vec![("contact", CONTACT)]),
        (
            format!("{phone}/edit"),
            vec![("contact", CONTACT), ("message_id", "X"), ("text", "y")],
        ),
        (
            format!("{phone}/revoke"),
            vec![("contact", CONTACT), ("message_id", "X")],
        ),
        (format!("{inbox}/send"), vec![("text", "intruder")]),
        (format!("{inbox}/read"), vec![]),
        (format!("{inbox}/archive"), vec![]),
        (format!("{inbox}/restore"), vec![]),
        (format!("{inbox}/tags"), vec![]),
        (format!("{inbox}/pause"), vec![]),
        (format!("{inbox}/resume"), vec![]),
        (format!("{inbox}/transcribe"), vec![("message", "X")]),
    ];
    for (path, form) in &posts {
        let a = other.post(path, form).await;
        assert_eq!(a.status, 404, "{path}: {}", a.body);
    }
    assert_eq!(count().await, before);
    let (_, c) = s
        .get(&format!("/api/v1/conversations/{conv}"), &s.user)
        .await;
    assert_eq!(c["data"]["is_archived"], false);
    assert_eq!(c["data"]["automation_paused_at"], Value::Null, "{c}");
    let (_, inst) = s
        .get(&format!("/api/v1/instances/{}", p.uuid), &s.user)
        .await;
    assert_eq!(inst["data"]["instance"]["status"], "connected");
    // Their own inbox is empty.
    let (status, page) = other.get("/dashboard/inbox").await;
    assert_eq!(status, 200);
    assert!(!page.contains("data-conversation=\""));

    // An instance on the WhatsApp engine has no sandbox phone.
    let (status, body) = s
        .post(
            "/api/v1/instances",
            &s.user,
            json!({"name": "Real phone", "engine": "whatsapp"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let real: Value = body["data"]["instance"]["uuid"].clone();
    let real_phone = format!("/dashboard/instances/{}/phone", real.as_str().unwrap());
    let (status, page) = dash.get(&real_phone).await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("for sandbox instances only"), "{page}");
    let a = dash
        .post(
            &format!("{real_phone}/scan"),
            &[("phone_number", "5511999991238")],
        )
        .await;
    assert_eq!(a.status, 409, "{}", a.body);
    let a = dash
        .post(
            &format!("{real_phone}/send"),
            &[("contact", CONTACT), ("text", "x")],
        )
        .await;
    assert_eq!(a.status, 409, "{}", a.body);
    p.node.stop().await;
}
