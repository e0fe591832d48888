//! Traffic from others (inbound messages, reactions, edits, deletions) and what faults and
//! logout do to a session.

use super::*;

#[tokio::test]
async fn inbound_messages_one_to_one_and_group() {
    let (e, mut rx) = paired(no_receipts()).await;
    let spec = InboundSpec::from_phone(&phone(ALICE))
        .text("hi there")
        .push_name("Alice")
        .quoting("3EB0AAAA");
    let msg = e.inject_message(spec).await.unwrap();
    assert_eq!(text_of(next(&mut rx).await), msg);
    assert!(!msg.from_me);
    assert_eq!(msg.chat, jid(ALICE));
    assert_eq!(msg.sender, jid(ALICE));
    assert_eq!(msg.kind, MessageKind::Text);
    assert_eq!(msg.push_name.as_deref(), Some("Alice"));
    assert!((20..=32).contains(&msg.id.len()));
    assert!(
        msg.id
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    );

    let group = e
        .create_group("Team", &[jid(ALICE), jid(BOB)])
        .await
        .unwrap();
    next(&mut rx).await;
    let spec = InboundSpec::new(jid(BOB))
        .in_group(group.jid.clone())
        .media(InboundMedia {
            kind: MessageKind::Image,
            mime_type: "image/jpeg".to_owned(),
            caption: Some("look".to_owned()),
            filename: None,
            size: 1234,
            data: None,
        })
        .mentioning(vec![jid(ME)]);
    let msg = e.inject_message(spec).await.unwrap();
    assert_eq!(text_of(next(&mut rx).await), msg);
    assert_eq!(msg.chat, group.jid);
    assert_eq!(msg.sender, jid(BOB));
    assert_eq!(msg.kind, MessageKind::Image);
    assert_eq!(msg.media.as_ref().unwrap().caption.as_deref(), Some("look"));
    assert_eq!(msg.mentioned_jids, vec![jid(ME)]);

    // Someone outside the group cannot post in it; an empty message is no message.
    let outsider = InboundSpec::new(jid("5511955554444"))
        .in_group(group.jid.clone())
        .text("x");
    assert!(matches!(
        e.inject_message(outsider).await,
        Err(EngineError::Invalid(_))
    ));
    assert!(matches!(
        e.inject_message(InboundSpec::new(jid(ALICE))).await,
        Err(EngineError::Invalid(_))
    ));
    let location = InboundSpec::new(jid(ALICE)).location(LocationInfo {
        latitude: -23.5,
        longitude: -46.6,
        name: None,
        address: None,
    });
    assert_eq!(
        e.inject_message(location).await.unwrap().kind,
        MessageKind::Location
    );
}

#[tokio::test]
async fn reactions_edits_and_revokes() {
    let (e, mut rx) = paired(no_receipts()).await;
    let opts = SendOptions::default();
    let alice = jid(ALICE);
    let sent = e.send_text(&alice, "typo", &opts).await.unwrap();
    text_of(next(&mut rx).await);
    next(&mut rx).await;

    e.react(&alice, &sent.message_id, true, "👍").await.unwrap();
    match next(&mut rx).await {
        EngineEvent::Reaction {
            message_id,
            sender,
            emoji,
            from_me,
            ..
        } => {
            assert_eq!(message_id, sent.message_id);
            assert_eq!(sender, jid(ME));
            assert_eq!(emoji, "👍");
            assert!(from_me);
        }
        other => panic!("{other:?}"),
    }

    let edit = e.edit(&alice, &sent.message_id, "fixed").await.unwrap();
    assert_ne!(edit.message_id, sent.message_id);
    assert_eq!(
        next(&mut rx).await,
        EngineEvent::MessageEdited {
            message_id: sent.message_id.clone(),
            chat: alice.clone(),
            new_text: "fixed".to_owned(),
            from_me: true,
        }
    );
    e.revoke(&alice, &sent.message_id).await.unwrap();
    assert_eq!(
        next(&mut rx).await,
        EngineEvent::MessageRevoked {
            message_id: sent.message_id.clone(),
            chat: alice.clone(),
            from_me: true,
        }
    );
    // A revoked message, an unknown one or one in another chat cannot be edited.
    let not_found =
        |r: Result<SentMessage, EngineError>| matches!(r, Err(EngineError::NotFound(_)));
    assert!(not_found(e.edit(&alice, &sent.message_id, "again").await));
    assert!(not_found(e.revoke(&alice, "3EB0FFFFFFFFFFFFFFFF").await));

    let theirs = e
        .inject_message(InboundSpec::new(alice.clone()).text("hey"))
        .await
        .unwrap();
    next(&mut rx).await;
    assert!(not_found(e.edit(&alice, &theirs.id, "mine now").await));
    e.inject_reaction(&alice, &alice, &theirs.id, "❤️")
        .await
        .unwrap();
    assert!(matches!(
        next(&mut rx).await,
        EngineEvent::Reaction { from_me: false, .. }
    ));
    e.inject_edit(&alice, &alice, &theirs.id, "hey!")
        .await
        .unwrap();
    assert!(matches!(
        next(&mut rx).await,
        EngineEvent::MessageEdited { from_me: false, ref new_text, .. } if new_text == "hey!"
    ));
    assert!(matches!(
        e.inject_edit(&jid(BOB), &alice, &theirs.id, "no").await,
        Err(EngineError::NotFound(_))
    ));
    e.inject_revoke(&alice, &alice, &theirs.id).await.unwrap();
    assert!(matches!(
        next(&mut rx).await,
        EngineEvent::MessageRevoked { from_me: false, .. }
    ));
    assert!(matches!(
        e.inject_reaction(&alice, &alice, "UNKNOWN", "x").await,
        Err(EngineError::NotFound(_))
    ));

    e.mark_read(&alice, None, std::slice::from_ref(&theirs.id))
        .await
        .unwrap();
    assert_eq!(e.read_marks(), vec![theirs.id]);
}

#[tokio::test]
async fn disconnect_fault_and_reconnect_without_qr() {
    let (e, mut rx) = paired(no_receipts()).await;
    let opts = SendOptions::default();
    let state = e.fault(Fault::Disconnect).await.unwrap();
    assert_eq!(state.reason.as_deref(), Some("network"));
    expect_connection(next(&mut rx).await, InstanceStatus::Disconnected, "network");
    assert_eq!(
        e.send_text(&jid(ALICE), "hi", &opts).await,
        Err(EngineError::NotConnected)
    );
    e.reconnect().await.unwrap();
    let c = expect_connection(
        next(&mut rx).await,
        InstanceStatus::Connected,
        "reconnected",
    );
    assert_eq!(c.phone_number.as_deref(), Some(ME));
    assert_eq!(e.current_qr().await, None);
    e.send_text(&jid(ALICE), "back", &opts).await.unwrap();
    assert!(matches!(next(&mut rx).await, EngineEvent::MessageSent(_)));
    next(&mut rx).await;

    e.fault(Fault::StreamReplaced).await.unwrap();
    expect_connection(
        next(&mut rx).await,
        InstanceStatus::Disconnected,
        "stream_replaced",
    );
    assert!(e.has_session());
}

#[tokio::test]
async fn logged_out_fault_needs_a_new_qr_and_stops_receipts() {
    let (e, mut rx) = paired(fast()).await;
    e.send_text(&jid(ALICE), "hi", &SendOptions::default())
        .await
        .unwrap();
    text_of(next(&mut rx).await);
    next(&mut rx).await; // sent receipt
    e.fault(Fault::LoggedOut).await.unwrap();
    let c = expect_connection(
        next(&mut rx).await,
        InstanceStatus::Disconnected,
        "logged_out",
    );
    assert_eq!(c.phone_number, None);
    assert!(!e.has_session());
    // The old session's scheduled receipts never arrive.
    tokio::time::sleep(SETTLE).await;
    assert_quiet(&mut rx);

    e.reconnect().await.unwrap();
    expect_connection(next(&mut rx).await, InstanceStatus::QrReady, "qr");
    expect_qr(next(&mut rx).await);
    assert!(e.current_qr().await.is_some());
    assert_eq!(
        e.send_text(&jid(ALICE), "hi", &SendOptions::default())
            .await,
        Err(EngineError::NotConnected)
    );
}

#[tokio::test]
async fn logout_clears_the_session() {
    let (e, mut rx) = paired(no_receipts()).await;
    e.logout().await.unwrap();
    expect_connection(
        next(&mut rx).await,
        InstanceStatus::Disconnected,
        "logged_out",
    );
    e.start().await.unwrap();
    expect_connection(next(&mut rx).await, InstanceStatus::QrReady, "qr");
    expect_qr(next(&mut rx).await);
}
