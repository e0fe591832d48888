//! Conversations: list filters, history paging, the chat format (formatted_body, mentions,
//! grouped reactions), archive/restore, delete, mark-read, unread and last_message.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::assert_error;
use crate::inbox_setup::Inbox;

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn list_filters_unread_and_last_message() {
    let t = Inbox::new().await;
    let now = chrono::Utc::now().timestamp();
    t.inbound_at("5511900000001", "A1", "first", "Alice", now - 30)
        .await;
    t.inbound_at("5511900000002", "B1", "hello bob", "Bob", now - 20)
        .await;
    t.inbound_at("5511900000001", "A2", "second", "Alice", now - 10)
        .await;
    t.outbound("5511900000003", "C1", "we wrote first").await;
    // A group message.
    t.report_to(
        &t.uuid,
        "incoming",
        json!({
            "remoteJid": "120363000000000001@g.us",
            "message": {"conversation": "group hi"},
            "messageTimestamp": now - 5,
            "pushName": "Gina",
            "key": {"remoteJid": "120363000000000001@g.us", "fromMe": false, "id": "G1",
                    "participant": "5511900000004@s.whatsapp.net"}
        }),
    )
    .await;

    let all = t.get("/conversations").await;
    assert_eq!(all["meta"]["pagination"]["total"], 4);
    let first = &all["data"][0];
    for key in [
        "id",
        "contact_number",
        "contact_name",
        "display_name",
        "is_group",
        "profile_picture_url",
        "last_message",
        "last_message_at",
        "unread_count",
        "is_archived",
    ] {
        assert!(first.get(key).is_some(), "{key} missing: {first}");
    }
    let alice = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["contact_number"] == "5511900000001")
        .unwrap();
    assert_eq!(alice["unread_count"], 2);
    assert_eq!(alice["last_message"], "second");
    assert_eq!(alice["display_name"], "Alice");
    let ours = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["contact_number"] == "5511900000003")
        .unwrap();
    assert_eq!(ours["unread_count"], 0);
    assert_eq!(ours["last_message"], "we wrote first");

    assert_eq!(
        t.get("/conversations?unread=true").await["meta"]["pagination"]["total"],
        3
    );
    assert_eq!(
        t.get("/conversations?is_group=true").await["data"][0]["is_group"],
        true
    );
    assert_eq!(
        t.get("/conversations?is_group=false").await["meta"]["pagination"]["total"],
        3
    );
    assert_eq!(
        t.get("/conversations?search=alice").await["meta"]["pagination"]["total"],
        1
    );
    assert_eq!(
        t.get("/conversations?search=0002").await["data"][0]["display_name"],
        "Bob"
    );
    let paged = t.get("/conversations?per_page=2&page=2").await;
    assert_eq!(paged["data"].as_array().unwrap().len(), 2);
    assert_eq!(paged["meta"]["pagination"]["last_page"], 2);
    assert_eq!(
        t.get(&format!("/conversations?instance_id={}", t.uuid))
            .await["meta"]["pagination"]["total"],
        4
    );
    for bad in ["per_page=101", "unread=maybe", "format=xml", "page=0"] {
        let resp = t.app.get(&format!("/conversations?{bad}"), &t.token).await;
        assert_error(resp, 422, "VALIDATION_ERROR").await;
    }

    // format=chat and the chat API list: tags and the instance block.
    let chat = t.get("/api/v1/chat/conversations?unread=true").await;
    assert_eq!(chat["meta"]["pagination"]["total"], 3);
    assert_eq!(chat["data"][0]["instance"]["uuid"], t.uuid.as_str());
    assert!(chat["data"][0]["tags"].is_array());
    let same = t.get("/api/v1/conversations?format=chat&unread=true").await;
    assert_eq!(ids(&same), ids(&chat));

    // mark-read clears the count (the read receipt is best effort: no node here).
    let a = alice["id"].as_str().unwrap();
    let (status, body) = t
        .call(Method::POST, &format!("/conversations/{a}/mark-read"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["marked_messages"], 2);
    assert_eq!(body["data"]["read_receipt_sent"], false);
    assert_eq!(
        t.get(&format!("/conversations/{a}")).await["data"]["unread_count"],
        0
    );
    let (status, _) = t
        .call(
            Method::POST,
            &format!("/api/v1/chat/conversations/{a}/mark-read"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    t.inbound("5511900000001", "A3", "third").await;
    let again = t.get(&format!("/conversations/{a}")).await;
    assert_eq!(again["data"]["unread_count"], 1);
    assert_eq!(again["data"]["last_message"], "third");
    t.app.stop().await;
}

#[tokio::test]
async fn history_pages_by_id_and_time() {
    let t = Inbox::new().await;
    let base = chrono::Utc::now().timestamp() - 1_000;
    for i in 0..30 {
        t.inbound_at(
            "5511900000001",
            &format!("M{i:02}"),
            &format!("m{i}"),
            "Al",
            base + i * 10,
        )
        .await;
    }
    let c = t.conversation_of("5511900000001").await;
    let page = t
        .get(&format!("/conversations/{c}/messages?limit=10"))
        .await;
    let msgs = page["data"]["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 10);
    assert_eq!(msgs[0]["message_body"], "m20");
    assert_eq!(msgs[9]["message_body"], "m29");
    assert_eq!(page["data"]["has_more"], true);
    let oldest = page["data"]["oldest_id"].as_i64().unwrap();
    assert_eq!(page["data"]["newest_id"], msgs[9]["id"]);

    let older = t
        .get(&format!(
            "/conversations/{c}/messages?limit=15&before_id={oldest}"
        ))
        .await;
    let older_msgs = older["data"]["messages"].as_array().unwrap();
    assert_eq!(older_msgs[0]["message_body"], "m5");
    assert_eq!(older_msgs[14]["message_body"], "m19");
    assert_eq!(older["data"]["has_more"], true);
    let first_id = t
        .get(&format!("/conversations/{c}/messages?limit=100"))
        .await["data"]["messages"][0]["id"]
        .as_i64()
        .unwrap();
    let newer = t
        .get(&format!(
            "/conversations/{c}/messages?after_id={first_id}&limit=3"
        ))
        .await;
    let newer_msgs = newer["data"]["messages"].as_array().unwrap();
    assert_eq!(newer_msgs[0]["message_body"], "m1");
    assert_eq!(newer_msgs[2]["message_body"], "m3");

    let from = chrono::DateTime::from_timestamp(base + 100, 0)
        .unwrap()
        .to_rfc3339();
    let to = chrono::DateTime::from_timestamp(base + 140, 0)
        .unwrap()
        .to_rfc3339();
    let window = t
        .get(&format!(
            "/conversations/{c}/messages?from={}&to={}",
            urlencode(&from),
            urlencode(&to)
        ))
        .await;
    let bodies: Vec<&str> = window["data"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message_body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["m10", "m11", "m12", "m13", "m14"]);
    assert_eq!(window["data"]["has_more"], false);

    for bad in ["limit=0", "limit=101", "before_id=x", "from=yesterday"] {
        let resp = t
            .app
            .get(&format!("/conversations/{c}/messages?{bad}"), &t.token)
            .await;
        assert_error(resp, 422, "VALIDATION_ERROR").await;
    }
    t.app.stop().await;
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn chat_format_mentions_and_reactions() {
    let t = Inbox::new().await;
    // John is a saved contact; Maria mentions him (and someone unknown) in a group.
    t.call(
        Method::POST,
        "/contacts",
        Some(json!({"instance_id": t.uuid, "phone_number": "5521999999999", "name": "John <Doe>"})),
    )
    .await;
    let group = "120363000000000009@g.us";
    t.report_to(
        &t.uuid,
        "incoming",
        json!({
            "remoteJid": group,
            "message": {"extendedTextMessage": {
                "text": "Ola @5521999999999 & @5521911112222 <b>!</b>",
                "contextInfo": {"mentionedJid": ["5521999999999@s.whatsapp.net", "5521911112222@s.whatsapp.net"]}
            }},
            "messageTimestamp": chrono::Utc::now().timestamp(),
            "pushName": "Maria",
            "key": {"remoteJid": group, "fromMe": false, "id": "MENTION1",
                    "participant": "5521988887777@s.whatsapp.net"}
        }),
    )
    .await;
    // Two people react with 👍 (one changes their mind first), one with ❤️, one removes theirs.
    for (who, emoji, name) in [
        ("5521988887777", "😂", "Maria"),
        ("5521988887777", "👍", "Maria"),
        ("5521966665555", "👍", "Ana"),
        ("5521955554444", "❤️", "Bea"),
        ("5521944443333", "🙏", "Cy"),
        ("5521944443333", "", "Cy"),
    ] {
        t.report_to(
            &t.uuid,
            "reaction",
            json!({
                "key": {"remoteJid": group, "fromMe": false},
                "senderJid": format!("{who}@s.whatsapp.net"),
                "pushName": name,
                "reaction": {"text": emoji, "key": {"id": "MENTION1"}}
            }),
        )
        .await;
    }
    let convs = t.get("/conversations?is_group=true").await;
    let c = convs["data"][0]["id"].as_str().unwrap();
    let chat = t
        .get(&format!("/api/v1/chat/conversations/{c}/messages?limit=50"))
        .await;
    let m = &chat["data"]["messages"][0];
    assert_eq!(m["unique_id"], "MENTION1");
    assert_eq!(m["direction"], "incoming");
    assert_eq!(m["is_from_me"], false);
    assert_eq!(m["sender_name"], "Maria");
    assert_eq!(
        m["formatted_body"],
        "Ola <span class=\"mention\" data-phone=\"5521999999999\">@John &lt;Doe&gt;</span> &amp; \
         <span class=\"mention\" data-phone=\"5521911112222\">@5521911112222</span> &lt;b&gt;!&lt;/b&gt;"
    );
    assert_eq!(
        m["mentioned_jids"],
        json!([
            "5521999999999@s.whatsapp.net",
            "5521911112222@s.whatsapp.net"
        ])
    );
    let reactions = m["grouped_reactions"].as_array().unwrap();
    assert_eq!(reactions.len(), 2, "{reactions:?}");
    let thumbs = reactions.iter().find(|r| r["emoji"] == "👍").unwrap();
    assert_eq!(thumbs["count"], 2);
    assert_eq!(thumbs["has_my_reaction"], false);
    assert_eq!(
        thumbs["reactors"],
        json!(["5521988887777", "5521966665555"])
    );
    assert_eq!(thumbs["reactor_names"], json!(["Maria", "5521966665555"]));
    assert_eq!(chat["data"]["has_more"], false);
    assert_eq!(chat["data"]["oldest_id"], m["id"]);
    assert_eq!(chat["data"]["newest_id"], m["id"]);

    // ?format=chat on the standard endpoint gives the same; without it, neither field.
    let same = t
        .get(&format!("/conversations/{c}/messages?format=chat"))
        .await;
    assert_eq!(
        same["data"]["messages"][0]["formatted_body"],
        m["formatted_body"]
    );
    let plain = t.get(&format!("/conversations/{c}/messages")).await;
    assert!(plain["data"]["messages"][0].get("formatted_body").is_none());
    assert!(
        plain["data"]["messages"][0]
            .get("grouped_reactions")
            .is_none()
    );
    t.app.stop().await;
}

#[tokio::test]
async fn archive_restore_and_delete() {
    let t = Inbox::new().await;
    t.inbound("5511900000001", "A1", "hi").await;
    t.inbound("5511900000002", "B1", "yo").await;
    let a = t.conversation_of("5511900000001").await;
    let (status, body) = t
        .call(Method::POST, &format!("/conversations/{a}/archive"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Conversation archived.");
    assert_eq!(body["data"]["archived_id"], a.as_str());
    let at = body["data"]["archived_at"].as_str().unwrap();
    assert_eq!(at.len(), "2025-12-29T12:00:00.000000Z".len(), "{at}");
    assert_eq!(
        t.get("/conversations").await["meta"]["pagination"]["total"],
        1
    );
    let archived = t.get("/conversations/archived").await;
    assert_eq!(ids(&archived), [a.as_str()]);
    assert_eq!(archived["data"][0]["is_archived"], true);

    let b = t.conversation_of("5511900000002").await;
    let resp = t
        .app
        .req(
            Method::DELETE,
            &format!("/conversations/{b}/archive"),
            Some(&t.token),
        )
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    let (status, body) = t
        .call(
            Method::DELETE,
            &format!("/api/v1/chat/conversations/{a}/archive"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"conversation_id": a, "restored": true})
    );
    assert_eq!(
        t.get("/conversations").await["meta"]["pagination"]["total"],
        2
    );

    // A message arriving on an archived conversation brings it back to the inbox.
    t.call(
        Method::POST,
        &format!("/chat/conversations/{a}/archive"),
        None,
    )
    .await;
    t.inbound("5511900000001", "A2", "again").await;
    let back = t.get(&format!("/conversations/{a}")).await;
    assert_eq!(back["data"]["is_archived"], false);

    let (status, _) = t
        .call(Method::DELETE, &format!("/conversations/{a}"), None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = t
        .call(Method::GET, &format!("/conversations/{a}/messages"), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        t.get("/conversations").await["meta"]["pagination"]["total"],
        1
    );
    // A new message from the same number starts a fresh conversation.
    t.inbound("5511900000001", "A3", "new start").await;
    let fresh = t.conversation_of("5511900000001").await;
    assert_ne!(fresh, a);
    let msgs = t.get(&format!("/conversations/{fresh}/messages")).await;
    assert_eq!(msgs["data"]["messages"].as_array().unwrap().len(), 1);
    t.app.stop().await;
}

/// The listed rows of `path` (every page of 100).
async fn all_rows(t: &Inbox, path: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    for page in 1.. {
        let sep = if path.contains('?') { '&' } else { '?' };
        let body = t.get(&format!("{path}{sep}per_page=100&page={page}")).await;
        let data = body["data"].as_array().unwrap().clone();
        if data.is_empty() {
            break;
        }
        rows.extend(data);
    }
    rows
}

/// Every filter combination the counters serve (archived or not, `unread`, `is_group`, with and
/// without `instance_id`) answers a `total` equal to the rows the same filters list.
async fn assert_totals(t: &Inbox, step: &str) {
    let instance = format!("instance_id={}", t.uuid);
    for base in ["/conversations", "/conversations/archived"] {
        for scope in ["", instance.as_str()] {
            let everything = all_rows(t, &format!("{base}?{scope}")).await;
            for unread in [None, Some(true), Some(false)] {
                for group in [None, Some(true), Some(false)] {
                    let mut query = scope.to_owned();
                    if let Some(u) = unread {
                        query += &format!("&unread={u}");
                    }
                    if let Some(g) = group {
                        query += &format!("&is_group={g}");
                    }
                    let expected = everything
                        .iter()
                        .filter(|c| {
                            unread.is_none_or(|u| (c["unread_count"].as_i64().unwrap() > 0) == u)
                                && group.is_none_or(|g| c["is_group"] == g)
                        })
                        .count();
                    let body = t.get(&format!("{base}?{query}&per_page=1")).await;
                    assert_eq!(
                        body["meta"]["pagination"]["total"], expected,
                        "{step}: {base}?{query}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn totals_stay_exact_through_every_change() {
    let t = Inbox::new().await;
    let other = t.app.create_instance(&t.token, "Other").await;
    let other_uuid = other["uuid"].as_str().unwrap().to_owned();
    assert_totals(&t, "empty").await;

    t.inbound("5511900000001", "A1", "hi").await;
    t.inbound("5511900000002", "B1", "yo").await;
    t.outbound("5511900000003", "C1", "we wrote first").await;
    t.report_to(
        &t.uuid,
        "incoming",
        json!({
            "remoteJid": "120363000000000009@g.us",
            "message": {"conversation": "group hi"},
            "key": {"remoteJid": "120363000000000009@g.us", "fromMe": false, "id": "G1",
                    "participant": "5511900000004@s.whatsapp.net"}
        }),
    )
    .await;
    t.report_to(
        &other_uuid,
        "incoming",
        json!({
            "remoteJid": "5511900000005@s.whatsapp.net",
            "message": {"conversation": "other instance"},
            "key": {"remoteJid": "5511900000005@s.whatsapp.net", "fromMe": false, "id": "D1"}
        }),
    )
    .await;
    assert_eq!(
        t.get("/conversations?per_page=1").await["meta"]["pagination"]["total"],
        5
    );
    assert_totals(&t, "after ingest").await;

    let a = t.conversation_of("5511900000001").await;
    let b = t.conversation_of("5511900000002").await;
    let c = t.conversation_of("5511900000003").await;
    let (status, _) = t
        .call(Method::POST, &format!("/conversations/{a}/mark-read"), None)
        .await;
    assert_eq!(status, 200);
    assert_totals(&t, "after mark-read").await;

    let (status, _) = t
        .call(Method::POST, &format!("/conversations/{b}/archive"), None)
        .await;
    assert_eq!(status, 200);
    assert_totals(&t, "after archive").await;
    // A message on the archived conversation brings it back, unread.
    t.inbound("5511900000002", "B2", "again").await;
    assert_totals(&t, "after a message unarchived one").await;
    // Archived and read, then restored.
    t.call(Method::POST, &format!("/conversations/{b}/mark-read"), None)
        .await;
    t.call(Method::POST, &format!("/conversations/{b}/archive"), None)
        .await;
    assert_totals(&t, "archived and read").await;
    t.call(Method::DELETE, &format!("/conversations/{b}/archive"), None)
        .await;
    assert_totals(&t, "after restore").await;

    let (status, _) = t
        .call(Method::DELETE, &format!("/conversations/{c}"), None)
        .await;
    assert_eq!(status, 200);
    assert_totals(&t, "after delete").await;

    // Deleting an instance takes its conversations out of the tenant's totals.
    let (status, _) = t
        .call(Method::DELETE, &format!("/instances/{other_uuid}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        t.get("/conversations?per_page=1").await["meta"]["pagination"]["total"],
        3
    );
    assert_totals(&t, "after instance delete").await;
    t.app.stop().await;
}

#[tokio::test]
async fn a_sent_messages_echo_brings_the_engines_media_handle_hidden_from_clients() {
    use control_plane::db::entities::message;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let t = Inbox::new().await;
    let jid = "5511900000007@s.whatsapp.net";
    let image = |url: &str| {
        json!({
            "remoteJid": jid,
            "message": {"imageMessage": {"mimetype": "image/jpeg", "url": url, "caption": "pic"}},
            "key": {"remoteJid": jid, "fromMe": true, "id": "SENT1"}
        })
    };
    // First stored with the link it was sent from, then the engine's echo with its handle.
    t.report_to(&t.uuid, "incoming", image("https://example.com/pic.jpg"))
        .await;
    t.report_to(&t.uuid, "incoming", image("wa-media:eyJ2IjoxfQ"))
        .await;
    let row = message::Entity::find()
        .filter(message::Column::WaMessageId.eq("SENT1"))
        .one(&t.app.services.db)
        .await
        .unwrap()
        .unwrap();
    let media = row.media.unwrap();
    assert_eq!(media["source_url"], "https://example.com/pic.jpg");
    assert_eq!(media["engine_handle"], "wa-media:eyJ2IjoxfQ");

    let c = t.conversation_of("5511900000007").await;
    let history = t.get(&format!("/conversations/{c}/messages")).await;
    let text = history.to_string();
    assert!(!text.contains("wa-media:"), "the handle leaked: {text}");
    assert!(text.contains("https://example.com/pic.jpg"), "{text}");
    t.app.stop().await;
}
