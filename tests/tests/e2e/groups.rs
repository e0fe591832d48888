//! The Groups API end to end on the sandbox engine: every endpoint through the control plane
//! and the node, validation, WhatsApp's refusals as 4xx, and group changes in conversations
//! (`is_group`) and `group.update` webhooks.

use crate::support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{T, paired, setup};
use zapini_e2e::receiver::Receiver;

const ALICE: &str = "5511911110001";
const BOB: &str = "5511911110002";
const CAROL: &str = "5511911110003";

fn jid(phone: &str) -> String {
    format!("{phone}@s.whatsapp.net")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_group_endpoint_through_the_node() {
    let s = setup().await;
    let p = paired(&s, "groups", "5511900000001").await;
    let rx = Receiver::start().await;
    let (status, body) = s
        .send(
            Method::PUT,
            &format!("/api/v1/instances/{}/webhook", p.id),
            &s.user,
            Some(json!({"webhook_url": rx.url, "events": ["group.update"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let base = format!("/api/v1/instances/{}/groups", p.uuid);

    // Create (by UUID), then list (by numeric id and with the sk_ token).
    let (status, body) = s
        .post(
            &base,
            &s.user,
            json!({"subject": "My New Group", "participants": [ALICE, BOB]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["message"], "Group created successfully");
    let group = body["data"]["group"]["jid"].as_str().unwrap().to_owned();
    assert!(group.ends_with("@g.us"), "{body}");
    assert_eq!(body["data"]["group"]["subject"], "My New Group");
    let (status, body) = s
        .get(&format!("/api/v1/instances/{}/groups", p.id), &p.sk)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["total"], 1);
    let listed = &body["data"]["groups"][0];
    assert_eq!(listed["jid"], group.as_str());
    assert_eq!(listed["size"], 3);
    assert_eq!(listed["owner"], jid("5511900000001"));

    // Metadata: roles as the reference shows them; the bare id works too.
    let bare = group.trim_end_matches("@g.us");
    let (status, body) = s.get(&format!("{base}/{bare}"), &s.user).await;
    assert_eq!(status, 200, "{body}");
    let d = &body["data"];
    assert_eq!(d["jid"], group.as_str());
    assert_eq!(d["size"], 3);
    let role = |d: &Value, who: &str| {
        d["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["jid"] == jid(who))
            .map(|p| p["admin"].clone())
    };
    assert_eq!(role(d, "5511900000001"), Some(json!("superadmin")));
    assert_eq!(role(d, ALICE), Some(Value::Null));

    // Subject and description.
    let (status, body) = s
        .send(
            Method::PATCH,
            &format!("{base}/{group}"),
            &s.user,
            Some(json!({"subject": "New Group Name", "description": "Updated description"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["subject"], "New Group Name");
    assert_eq!(body["data"]["description"], "Updated description");

    // Participants and admins.
    let path = format!("{base}/{group}/participants");
    let (status, body) = s
        .post(&path, &s.user, json!({"participants": [CAROL]}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["participants"][0]["success"], true, "{body}");
    let (status, body) = s
        .send(
            Method::DELETE,
            &path,
            &s.user,
            Some(json!({"participants": [BOB]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let admins = format!("{base}/{group}/admins");
    let (status, body) = s
        .post(&admins, &s.user, json!({"participants": [ALICE]}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = s.get(&format!("{base}/{group}"), &s.user).await;
    assert_eq!(role(&body["data"], ALICE), Some(json!("admin")));
    assert_eq!(role(&body["data"], BOB), None);
    assert_eq!(role(&body["data"], CAROL), Some(Value::Null));
    let (status, body) = s
        .send(
            Method::DELETE,
            &admins,
            &s.user,
            Some(json!({"participants": [ALICE]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = s.get(&format!("{base}/{group}"), &s.user).await;
    assert_eq!(role(&body["data"], ALICE), Some(Value::Null));

    // Participant not in the group: 404; a mix: 200 with each outcome.
    let (status, body) = s
        .send(
            Method::DELETE,
            &path,
            &s.user,
            Some(json!({"participants": [BOB]})),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "NOT_FOUND");
    let (status, body) = s
        .post(&admins, &s.user, json!({"participants": [BOB, CAROL]}))
        .await;
    assert_eq!(status, 200, "{body}");
    let results = body["data"]["participants"].as_array().unwrap();
    assert_eq!(
        results.iter().filter(|r| r["success"] == true).count(),
        1,
        "{body}"
    );

    // Invite link, then a new one.
    let (status, body) = s.get(&format!("{base}/{group}/invite"), &s.user).await;
    assert_eq!(status, 200, "{body}");
    let code = body["data"]["code"].as_str().unwrap().to_owned();
    assert_eq!(
        body["data"]["invite_link"],
        format!("https://chat.whatsapp.com/{code}")
    );
    let (status, body) = s
        .send(
            Method::DELETE,
            &format!("{base}/{group}/invite"),
            &s.user,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Invite link revoked");
    assert_ne!(body["data"]["new_code"], code.as_str());
    assert!(
        body["data"]["new_invite_link"]
            .as_str()
            .unwrap()
            .ends_with(body["data"]["new_code"].as_str().unwrap())
    );

    // The group is a group conversation, named by its subject.
    let (conv, _) =
        support::conversation_where(&s, p.uuid, |c| c["chat_jid"] == group.as_str(), 0).await;
    assert_eq!(conv["is_group"], true);
    let (status, body) = s
        .get(
            &format!("/api/v1/conversations?instance_id={}&is_group=true", p.uuid),
            &s.user,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), 1, "{body}");

    // Leave: the group is gone for us.
    let (status, body) = s
        .post(&format!("{base}/{group}/leave"), &s.user, json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s.get(&format!("{base}/{group}"), &s.user).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "NOT_FOUND");

    // Every change reached the webhook as group.update, in order, with what changed.
    let log = rx
        .wait_until(T, "group.update for every change", |log| {
            log.iter()
                .filter(|r| r.ok())
                .any(|r| r.json()["data"]["action"] == "leave")
        })
        .await;
    let actions: Vec<String> = log
        .iter()
        .filter(|r| r.ok() && r.header("x-webhook-event") == "group.update")
        .map(|r| r.json()["data"]["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        [
            "create",
            "subject",
            "description",
            "add",
            "remove",
            "promote",
            "demote",
            "promote",
            "invite_reset",
            "leave"
        ],
    );
    let add = log
        .iter()
        .map(|r| r.json())
        .find(|b| b["data"]["action"] == "add")
        .unwrap();
    assert_eq!(add["data"]["group_jid"], group.as_str());
    assert_eq!(add["data"]["participants"], json!([jid(CAROL)]));
    assert_eq!(add["data"]["participant_numbers"], json!([CAROL]));
    assert_eq!(add["data"]["subject"], "New Group Name");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_errors_are_clear_4xx() {
    let s = setup().await;
    let p = paired(&s, "groups", "5511900000002").await;
    let base = format!("/api/v1/instances/{}/groups", p.id);
    // Validation.
    for (body, field) in [
        (json!({"participants": [ALICE]}), "subject"),
        (json!({"subject": "  ", "participants": [ALICE]}), "subject"),
        (
            json!({"subject": "x".repeat(101), "participants": [ALICE]}),
            "subject",
        ),
        (json!({"subject": "Team"}), "participants"),
        (
            json!({"subject": "Team", "participants": []}),
            "participants",
        ),
        (
            json!({"subject": "Team", "participants": ["not a number"]}),
            "participants.0",
        ),
        (
            json!({"subject": "Team", "participants": ["120363001234567890@g.us"]}),
            "participants.0",
        ),
    ] {
        let (status, resp) = s.post(&base, &s.user, body.clone()).await;
        assert_eq!(status, 422, "{body}: {resp}");
        assert!(
            resp["error"]["details"][field].is_array(),
            "{field}: {resp}"
        );
    }
    for bad in ["5511999999999@s.whatsapp.net", "abc@g.us", "nope"] {
        let (status, resp) = s.get(&format!("{base}/{bad}"), &s.user).await;
        assert_eq!(status, 422, "{bad}: {resp}");
        assert!(resp["error"]["details"]["jid"].is_array(), "{resp}");
    }
    let (status, resp) = s
        .send(
            Method::PATCH,
            &format!("{base}/120363001234567890@g.us"),
            &s.user,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 422, "{resp}");
    // Unknown group: 404.
    let (status, resp) = s
        .get(&format!("{base}/120363001234567890@g.us"), &s.user)
        .await;
    assert_eq!(status, 404, "{resp}");
    assert_eq!(resp["error"]["code"], "NOT_FOUND");
    // A group someone else runs: we are not an admin, WhatsApp refuses (403).
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &p.node.url("/sandbox/groups"),
            Some(&p.sk),
            None,
            Some(json!({"subject": "Their group", "participants": [ALICE, BOB]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let theirs = body["data"]["jid"].as_str().unwrap().to_owned();
    let (status, resp) = s
        .post(
            &format!("{base}/{theirs}/participants"),
            &s.user,
            json!({"participants": [CAROL]}),
        )
        .await;
    assert_eq!(status, 403, "{resp}");
    assert_eq!(resp["error"]["code"], "FORBIDDEN");
    let (status, resp) = s.get(&format!("{base}/{theirs}/invite"), &s.user).await;
    assert_eq!(status, 403, "{resp}");
    // But we can read it and leave it.
    assert_eq!(s.get(&format!("{base}/{theirs}"), &s.user).await.0, 200);
    // Tenancy: another tenant's token does not see the instance; another instance's sk_ is 403.
    let other = s.other_tenant("groups-other@e2e.local").await;
    let (status, resp) = s.get(&base, &other).await;
    assert_eq!(status, 404, "{resp}");
    assert_eq!(resp["error"]["code"], "INSTANCE_NOT_FOUND");
    let (other_id, _) = s.api.create_instance(&s.cp, &s.user, "b").await;
    let other_sk = s.api.create_sk_token(&s.cp, &s.user, other_id).await;
    assert_eq!(s.get(&base, &other_sk).await.0, 403);
    // A node that is not running: 503.
    let (status, resp) = s
        .get(&format!("/api/v1/instances/{other_id}/groups"), &s.user)
        .await;
    assert_eq!(status, 503, "{resp}");
    assert_eq!(resp["error"]["code"], "NODE_UNAVAILABLE");
    p.node.stop().await;
}
