//! End to end: the inbox against a real sandbox node — chat sends, edit, delete for
//! everyone, reactions and mark-read go through the node and its engine and show in history
//! and webhooks; `AUTOMATION_ACTIVE` is enforced on the node's hot path from the pushed
//! policy, and lifted per conversation by a pause.

use reqwest::Method;
use serde_json::{Value, json};
use zapini_e2e::receiver::Receiver;
use zapini_e2e::{Node, eventually};

use crate::support::{Setup, T, host, paired_via_edge, setup};

async fn paired(s: &Setup, phone: &str) -> (i64, uuid::Uuid, String, Node) {
    let p = paired_via_edge(s, "Inbox", phone).await;
    (p.id, p.uuid, p.sk, p.node)
}

/// The conversation with `number` once it exists.
async fn conversation(s: &Setup, number: &str) -> String {
    eventually(T, "conversation stored", || async {
        let (_, body) = s
            .call(
                Method::GET,
                &format!("/api/v1/conversations?search={number}"),
                None,
            )
            .await;
        body["data"][0]["id"].as_str().map(str::to_owned)
    })
    .await
}

async fn history(s: &Setup, conv: &str) -> Vec<Value> {
    s.ok(
        Method::GET,
        &format!("/api/v1/chat/conversations/{conv}/messages?limit=100"),
        None,
    )
    .await["data"]["messages"]
        .as_array()
        .unwrap()
        .clone()
}

fn events(log: &[zapini_e2e::receiver::Received], name: &str) -> usize {
    log.iter()
        .filter(|r| r.ok() && r.header("x-webhook-event") == name)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_actions_go_through_the_node() {
    let s = setup().await;
    let (id, uuid, sk, node) = paired(&s, "5511988880000").await;
    let rx = Receiver::start().await;
    s.ok(
        Method::PUT,
        &format!("/instances/{id}/webhook"),
        Some(json!({"webhook_url": rx.url, "webhook_secret": "secret-secret", "events": ["message.edited", "message.deleted", "message.reaction", "message.sent"]})),
    )
    .await;

    // The contact writes; unread counts it.
    let (status, _) = s
        .api
        .call(
            Method::POST,
            &s.cp.url("/sandbox/inbound"),
            Some(&sk),
            Some(&host(id)),
            Some(json!({"from": "5511977776666", "message": "Oi <3", "push_name": "Maria"})),
        )
        .await;
    assert_eq!(status, 200);
    let conv = conversation(&s, "5511977776666").await;
    let unread = eventually(T, "unread counted", || async {
        let (_, c) = s
            .call(Method::GET, &format!("/conversations/{conv}"), None)
            .await;
        (c["data"]["unread_count"] == 1).then_some(c)
    })
    .await;
    assert_eq!(unread["data"]["last_message"], "Oi <3");

    // Mark-read sends the receipt through the node.
    let read = s
        .ok(
            Method::POST,
            &format!("/api/v1/chat/conversations/{conv}/mark-read"),
            None,
        )
        .await;
    assert_eq!(read["data"]["read_receipt_sent"], true);
    assert_eq!(read["data"]["unread_count"], 0);

    // A chat send answers the message in the chat shape.
    let sent = s
        .ok(
            Method::POST,
            "/api/v1/chat/send",
            Some(json!({"instance_id": uuid.to_string(), "recipient": "5511977776666", "message": "Hello & <welcome>"})),
        )
        .await;
    let m = &sent["data"];
    assert_eq!(m["is_from_me"], true);
    assert_eq!(m["direction"], "outgoing");
    assert_eq!(m["formatted_body"], "Hello &amp; &lt;welcome&gt;");
    assert_eq!(m["grouped_reactions"], json!([]));
    let wa = m["unique_id"].as_str().unwrap().to_owned();
    let msg_uuid = m["uuid"].as_str().unwrap().to_owned();
    let c = s
        .ok(Method::GET, &format!("/conversations/{conv}"), None)
        .await;
    assert_eq!(c["data"]["last_message"], "Hello & <welcome>");
    assert_eq!(c["data"]["unread_count"], 0);

    // Edit (by WhatsApp id) and react (by our UUID): reflected at once and in webhooks.
    let edited = s
        .ok(
            Method::PATCH,
            &format!("/api/v1/chat/messages/{wa}"),
            Some(json!({"message": "Hello, edited"})),
        )
        .await;
    assert_eq!(edited["data"]["message_body"], "Hello, edited");
    assert_eq!(edited["data"]["is_edited"], true);
    let reacted = s
        .ok(
            Method::POST,
            &format!("/api/v1/chat/messages/{msg_uuid}/reaction"),
            Some(json!({"emoji": "👍"})),
        )
        .await;
    let g = &reacted["data"]["grouped_reactions"][0];
    assert_eq!(g["emoji"], "👍");
    assert_eq!(g["count"], 1);
    assert_eq!(g["has_my_reaction"], true);
    assert_eq!(g["reactors"], json!(["5511988880000"]));
    // The contact reacts too.
    s.api
        .call(
            Method::POST,
            &s.cp.url("/sandbox/reaction"),
            Some(&sk),
            Some(&host(id)),
            Some(json!({"from": "5511977776666", "message_id": wa, "emoji": "👍"})),
        )
        .await;
    let both = eventually(T, "the contact's reaction stored", || async {
        let msgs = history(&s, &conv).await;
        let m = msgs.iter().find(|m| m["unique_id"] == wa.as_str())?.clone();
        (m["grouped_reactions"][0]["count"] == 2).then_some(m)
    })
    .await;
    assert_eq!(
        both["grouped_reactions"][0]["reactor_names"],
        json!(["You", "Maria"])
    );
    let removed = s
        .ok(
            Method::DELETE,
            &format!("/chat/messages/{wa}/reaction"),
            None,
        )
        .await;
    assert_eq!(removed["data"]["grouped_reactions"][0]["count"], 1);
    assert_eq!(
        removed["data"]["grouped_reactions"][0]["has_my_reaction"],
        false
    );

    // Delete for everyone.
    let deleted = s
        .ok(Method::DELETE, &format!("/api/v1/chat/messages/{wa}"), None)
        .await;
    assert_eq!(deleted["data"]["is_deleted"], true);
    // Someone else's message cannot be edited or deleted.
    let incoming = history(&s, &conv).await[0]["unique_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = s
        .call(
            Method::PATCH,
            &format!("/chat/messages/{incoming}"),
            Some(json!({"message": "x"})),
        )
        .await;
    assert_eq!(status, 403, "{incoming}: {body}");

    // Webhooks: each change once, although the node echoes it back.
    rx.wait_until(T, "edit, delete, reactions", |log| {
        events(log, "message.edited") >= 1
            && events(log, "message.deleted") >= 1
            && events(log, "message.reaction") >= 3
    })
    .await;
    // A marker sent after everything: the node's events are stored in order and a chat's
    // deliveries reach the endpoint in order, so once the marker's `message.sent` is here a
    // duplicate of the changes (from the node's echoes) would be here too.
    let marker = s
        .ok(
            Method::POST,
            "/api/v1/chat/send",
            Some(json!({"instance_id": uuid.to_string(), "recipient": "5511977776666", "message": "marker"})),
        )
        .await;
    let marker_id = marker["data"]["unique_id"].as_str().unwrap().to_owned();
    rx.wait_until(T, "the marker's message.sent", |log| {
        log.iter().any(|r| {
            r.ok()
                && r.header("x-webhook-event") == "message.sent"
                && String::from_utf8_lossy(&r.body).contains(&marker_id)
        })
    })
    .await;
    let log = rx.delivered();
    assert_eq!(events(&log, "message.edited"), 1, "edits");
    assert_eq!(events(&log, "message.deleted"), 1, "deletes");
    assert_eq!(
        events(&log, "message.reaction"),
        3,
        "reactions: ours, theirs, our removal"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automation_active_is_enforced_on_the_node_hot_path() {
    let s = setup().await;
    let (id, uuid, sk, node) = paired(&s, "5511988880001").await;
    let send = |to: &'static str| {
        let s = &s;
        let sk = sk.clone();
        async move {
            s.api
                .call(
                    Method::POST,
                    &s.cp.url("/send-message"),
                    Some(&sk),
                    Some(&host(id)),
                    Some(json!({"recipient": to, "message": "manual"})),
                )
                .await
        }
    };
    let (status, body) = send("5511977770001").await;
    assert_eq!(status, 200, "{body}");
    let conv = conversation(&s, "5511977770001").await;

    let flow = s
        .ok(
            Method::POST,
            "/automation/flows",
            Some(json!({"instance_id": uuid.to_string(), "name": "Bot"})),
        )
        .await;
    let flow_id = flow["data"]["id"].as_str().unwrap().to_owned();
    // The node learns it from the pushed policy; no call per send.
    let body = eventually(T, "node refuses manual sends", || async {
        let (status, body) = send("5511977770001").await;
        (status == 409).then_some(body)
    })
    .await;
    assert_eq!(body["error"]["code"], "AUTOMATION_ACTIVE");
    assert_eq!(
        body["error"]["message"],
        "Cannot send messages. This conversation has active automation. Pause the automation first to send messages manually."
    );
    let (status, body) = send("5511977770002").await;
    assert_eq!(status, 409, "a new chat is automated too: {body}");

    s.ok(
        Method::POST,
        &format!("/conversations/{conv}/automation/pause"),
        Some(json!({"reason": "human"})),
    )
    .await;
    eventually(T, "paused chat accepted by the node", || async {
        let (status, _) = send("5511977770001").await;
        (status == 200).then_some(())
    })
    .await;
    let (status, _) = send("5511977770002").await;
    assert_eq!(status, 409, "other chats stay automated");

    // Archive + resume: automated again.
    s.ok(
        Method::POST,
        &format!("/conversations/{conv}/archive"),
        None,
    )
    .await;
    s.ok(
        Method::POST,
        &format!("/conversations/{conv}/automation/resume"),
        None,
    )
    .await;
    eventually(T, "resumed chat refused again", || async {
        let (status, _) = send("5511977770001").await;
        (status == 409).then_some(())
    })
    .await;

    // The flow off: everything goes.
    s.ok(
        Method::PATCH,
        &format!("/automation/flows/{flow_id}"),
        Some(json!({"is_active": false})),
    )
    .await;
    eventually(T, "automation lifted", || async {
        let (status, _) = send("5511977770002").await;
        (status == 200).then_some(())
    })
    .await;
    node.stop().await;
}

/// A new contact's profile picture (made up by the sandbox, fetched by the real engine)
/// shows in conversations, the chat API and contacts, and a `contact.update` carries it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_pictures_reach_conversations_contacts_and_webhooks() {
    let s = setup().await;
    let (id, _uuid, sk, _node) = paired(&s, "5511988880000").await;
    let rx = Receiver::start().await;
    s.ok(
        Method::PUT,
        &format!("/instances/{id}/webhook"),
        Some(json!({"webhook_url": rx.url, "webhook_secret": "secret-secret", "events": ["contact.update"]})),
    )
    .await;
    let (status, _) = s
        .api
        .call(
            Method::POST,
            &s.cp.url("/sandbox/inbound"),
            Some(&sk),
            Some(&host(id)),
            Some(json!({"from": "5511955554444", "message": "hello", "push_name": "Ana"})),
        )
        .await;
    assert_eq!(status, 200);
    let expected = "https://sandbox.zapini.invalid/profile-pictures/5511955554444.jpg";
    let conv = conversation(&s, "5511955554444").await;
    eventually(T, "picture on the conversation", || async {
        let (_, c) = s
            .call(Method::GET, &format!("/api/v1/conversations/{conv}"), None)
            .await;
        (c["data"]["profile_picture_url"] == expected).then_some(())
    })
    .await;
    let chat = s.ok(Method::GET, "/api/v1/chat/conversations", None).await;
    let listed = chat["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == conv.as_str())
        .cloned()
        .unwrap();
    assert_eq!(listed["profile_picture_url"], expected, "{listed}");
    let contacts = s
        .ok(Method::GET, "/api/v1/contacts?search=5511955554444", None)
        .await;
    assert_eq!(
        contacts["data"][0]["profile_picture_url"], expected,
        "{contacts}"
    );
    rx.wait_until(T, "contact.update with the picture", |log| {
        log.iter().any(|r| {
            r.ok()
                && r.header("x-webhook-event") == "contact.update"
                && r.json()["data"]["profile_picture_url"] == expected
        })
    })
    .await;
}
