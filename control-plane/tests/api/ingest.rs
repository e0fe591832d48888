//! One ingest batch holding the first messages of several new chats (a burst, a history
//! sync): the contacts and conversations it creates up front end as the messages one by one
//! would leave them, and each new or renamed contact is one `contact.update`.

use control_plane::service::ingest::{EventKind, InMessage};
use reqwest::Method;
use serde_json::{Value, json};

use crate::inbox_setup::Inbox;

fn message(id: &str, chat: &str, sender: &str, from_me: bool, push_name: &str) -> EventKind {
    EventKind::Message(InMessage {
        id: id.into(),
        chat_jid: chat.into(),
        sender_jid: sender.into(),
        from_me,
        push_name: push_name.into(),
        message_type: "text".into(),
        text: format!("text of {id}"),
        timestamp: chrono::Utc::now(),
        ..Default::default()
    })
}

/// The instance as the ingest takes it.
async fn instance_row(t: &Inbox) -> control_plane::db::entities::instance::Model {
    t.app
        .services
        .instance_by_uuid(t.uuid.parse().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn first_messages_of_new_chats_in_one_batch() {
    let t = Inbox::with_config(|c| {
        c.allow_private_urls = true;
        c.webhooks.allow_http = true;
    })
    .await;
    let id = t.instance_id();
    // Nothing listens there: the deliveries stay in the log, which is what this test reads.
    let (status, body) = t
        .call(
            Method::PUT,
            &format!("/instances/{id}/webhook"),
            Some(json!({"webhook_url": "http://127.0.0.1:9/hook", "webhook_secret": "batch-secret-0001",
                        "events": ["contact.update", "message.received", "message.sent"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let ana = "5511900000001@s.whatsapp.net";
    let bruno = "5511900000002@s.whatsapp.net";
    let caio = "5511900000003@s.whatsapp.net";
    let group = "120363000000000001@g.us";
    let events = vec![
        message("A1", ana, ana, false, "Ana"),
        message("A2", ana, ana, false, "Ana"),
        // We wrote to Bruno first: his contact starts without a name.
        message("B1", bruno, "", true, ""),
        message("B2", bruno, bruno, false, "Bruno"),
        message("G1", group, caio, false, "Caio"),
        // Ana, in the group, under a new name.
        message("G2", group, ana, false, "Ana Maria"),
        // A repeat of A1: ignored.
        message("A1", ana, ana, false, "Someone Else"),
    ];
    let instance = instance_row(&t).await;
    t.app
        .services
        .ingest_external(&instance, events)
        .await
        .unwrap();

    let conversations = t.get("/conversations?per_page=100").await["data"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(conversations.len(), 3, "{conversations:?}");
    let conv = |number: &str| -> Value {
        conversations
            .iter()
            .find(|c| c["contact_number"] == number || c["chat_jid"] == number)
            .cloned()
            .unwrap_or_else(|| panic!("no conversation {number}: {conversations:?}"))
    };
    let with_ana = conv("5511900000001");
    assert_eq!(with_ana["display_name"], "Ana");
    assert_eq!(with_ana["unread_count"], 2);
    assert_eq!(with_ana["last_message"], "text of A2");
    let with_bruno = conv("5511900000002");
    assert_eq!(with_bruno["display_name"], "Bruno");
    assert_eq!(with_bruno["unread_count"], 1);
    let in_group = conversations
        .iter()
        .find(|c| c["is_group"] == true)
        .expect("the group's conversation");
    assert_eq!(in_group["unread_count"], 2);

    // The 1:1 conversations belong to their contacts, which carry the latest names.
    let contacts = t.get("/contacts?per_page=100").await["data"]
        .as_array()
        .unwrap()
        .clone();
    let contact = |number: &str| -> Value {
        contacts
            .iter()
            .find(|c| c["phone_number"] == number)
            .cloned()
            .unwrap_or_else(|| panic!("no contact {number}: {contacts:?}"))
    };
    assert_eq!(contacts.len(), 3, "{contacts:?}");
    assert_eq!(contact("5511900000001")["push_name"], "Ana Maria");
    assert_eq!(contact("5511900000002")["push_name"], "Bruno");
    assert_eq!(contact("5511900000003")["push_name"], "Caio");
    let history = t
        .get(&format!(
            "/conversations/{}/messages?limit=100",
            with_ana["id"].as_str().unwrap()
        ))
        .await;
    let texts: Vec<&Value> = history["data"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["message_body"])
        .collect();
    assert_eq!(
        texts,
        [&json!("text of A1"), &json!("text of A2")],
        "{history}"
    );

    // One `contact.update` per contact that appeared or changed its name: Ana (new, renamed),
    // Bruno (new without a name, then named), Caio (new).
    let deliveries = t
        .get(&format!("/instances/{id}/webhook/deliveries?per_page=100"))
        .await["data"]
        .as_array()
        .unwrap()
        .clone();
    let count = |event: &str| deliveries.iter().filter(|d| d["event"] == event).count();
    assert_eq!(count("contact.update"), 5, "{deliveries:?}");
    assert_eq!(count("message.received"), 5, "{deliveries:?}");
    assert_eq!(count("message.sent"), 1, "{deliveries:?}");
}

/// Two writers meeting on a new chat (a send's own record and the node's report of another
/// message, say): neither fails on the unique keys, and the chat has one contact and one
/// conversation holding both messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_share_a_new_chats_contact_and_conversation() {
    let t = Inbox::new().await;
    let instance = instance_row(&t).await;
    let mut writers = tokio::task::JoinSet::new();
    for n in 0..20 {
        let jid = format!("55119100000{n:02}@s.whatsapp.net");
        for side in ["X", "Y"] {
            let services = t.app.services.clone();
            let instance = instance.clone();
            let event = message(&format!("{side}{n}"), &jid, &jid, false, "Twin");
            writers.spawn(async move { services.ingest_external(&instance, vec![event]).await });
        }
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap().expect("both writers succeed");
    }
    let conversations = t.get("/conversations?per_page=100").await;
    assert_eq!(conversations["meta"]["pagination"]["total"], 20);
    for c in conversations["data"].as_array().unwrap() {
        assert_eq!(c["unread_count"], 2, "{c}");
    }
    let contacts = t.get("/contacts?per_page=100").await;
    assert_eq!(contacts["data"].as_array().unwrap().len(), 20, "{contacts}");
}
