//! Sandbox tests. The crate's tokio lacks the `test-util` feature (no paused clock), so the
//! timed tests run on the real clock with millisecond schedules from [`fast`]; they check
//! lower bounds and order, never exact instants, so a slow machine cannot make them flaky.

use std::time::Duration;

use super::*;

mod traffic;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::sync::mpsc::Receiver;
use tokio::time::Instant;

const ME: &str = "5511999990001";
const ALICE: &str = "5511988887777";
const BOB: &str = "5511977776666";

fn phone(s: &str) -> PhoneNumber {
    PhoneNumber::parse(s).unwrap()
}

fn jid(s: &str) -> Jid {
    Jid::from_phone(&phone(s))
}

const FIRST_QR: Duration = Duration::from_millis(300);
const ROTATION: Duration = Duration::from_millis(100);
const DELIVERED: Duration = Duration::from_millis(50);
const READ: Duration = Duration::from_millis(150);
const PLAYED: Duration = Duration::from_millis(250);
/// Long enough for any scheduled event of [`fast`] to have fired.
const SETTLE: Duration = Duration::from_millis(500);

/// The default config with millisecond timings.
fn fast() -> SandboxConfig {
    SandboxConfig {
        first_qr_lifetime: FIRST_QR,
        qr_rotation: ROTATION,
        receipt_schedule: Some(ReceiptSchedule {
            delivered_after: Some(DELIVERED),
            read_after: Some(READ),
            played_after: Some(PLAYED),
        }),
        ..SandboxConfig::default()
    }
}

fn engine(config: SandboxConfig) -> (Arc<SandboxEngine>, Receiver<EngineEvent>) {
    let (tx, rx) = mpsc::channel(256);
    (SandboxEngine::new(config, tx), rx)
}

/// The next event, skipping the made-up profile pictures of new senders (tested on their own
/// in `a_new_sender_gets_a_made_up_profile_picture_once`).
async fn next(rx: &mut Receiver<EngineEvent>) -> EngineEvent {
    loop {
        let event = next_any(rx).await;
        if !matches!(
            event,
            EngineEvent::ContactUpdate {
                push_name: None,
                profile_picture: Some(Some(_)),
                ..
            }
        ) {
            return event;
        }
    }
}

async fn next_any(rx: &mut Receiver<EngineEvent>) -> EngineEvent {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an event within 10 s")
        .expect("the channel is open")
}

fn assert_quiet(rx: &mut Receiver<EngineEvent>) {
    if let Ok(event) = rx.try_recv() {
        panic!("unexpected event {event:?}");
    }
}

fn expect_connection(event: EngineEvent, status: InstanceStatus, reason: &str) -> ConnectionState {
    match event {
        EngineEvent::Connection(c) => {
            assert_eq!(c.status, status);
            assert_eq!(c.reason.as_deref(), Some(reason));
            c
        }
        other => panic!("expected a connection event, got {other:?}"),
    }
}

fn expect_qr(event: EngineEvent) -> QrCode {
    match event {
        EngineEvent::Qr(qr) => qr,
        other => panic!("expected a QR event, got {other:?}"),
    }
}

fn expect_receipt(event: EngineEvent, id: &str, status: MessageStatus) {
    match event {
        EngineEvent::Receipt {
            message_ids,
            status: got,
            ..
        } => {
            assert_eq!(message_ids, vec![id.to_owned()]);
            assert_eq!(got, status);
        }
        other => panic!("expected a {status:?} receipt, got {other:?}"),
    }
}

/// A connected engine with the pairing events already consumed.
async fn paired(config: SandboxConfig) -> (Arc<SandboxEngine>, Receiver<EngineEvent>) {
    let (e, mut rx) = engine(config);
    e.start().await.unwrap();
    expect_connection(next(&mut rx).await, InstanceStatus::QrReady, "qr");
    expect_qr(next(&mut rx).await);
    e.scan(&phone(ME), Some("Me")).await.unwrap();
    expect_connection(next(&mut rx).await, InstanceStatus::Connected, "paired");
    (e, rx)
}

fn no_receipts() -> SandboxConfig {
    SandboxConfig {
        receipt_schedule: None,
        ..fast()
    }
}

fn text_of(event: EngineEvent) -> WaMessage {
    match event {
        EngineEvent::MessageSent(m) | EngineEvent::MessageReceived(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test]
async fn pairing_flow_rotates_qr_and_scan_connects() {
    let (e, mut rx) = engine(fast());
    assert_eq!(e.state().await.status, InstanceStatus::Pending);
    e.start().await.unwrap();
    expect_connection(next(&mut rx).await, InstanceStatus::QrReady, "qr");
    let first = expect_qr(next(&mut rx).await);
    assert_eq!(e.current_qr().await.as_ref(), Some(&first));

    let parts: Vec<&str> = first.code.strip_prefix("2@").unwrap().split(',').collect();
    assert_eq!(parts.len(), 4);
    for part in &parts {
        assert!(!STANDARD.decode(part).unwrap().is_empty());
    }
    let b64 = first
        .png_data_url
        .strip_prefix("data:image/png;base64,")
        .unwrap();
    let png = STANDARD.decode(b64).unwrap();
    assert!(png.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]));
    assert!(png.len() > 100);
    assert_eq!(
        (first.expires_at - first.generated_at).num_milliseconds(),
        300
    );

    let t0 = Instant::now();
    let second = expect_qr(next(&mut rx).await);
    assert!(t0.elapsed() >= FIRST_QR);
    assert_ne!(second.code, first.code);
    let third = expect_qr(next(&mut rx).await);
    assert!(t0.elapsed() >= FIRST_QR + ROTATION);
    assert_ne!(third.code, second.code);
    assert_eq!(e.current_qr().await, Some(third));

    let state = e.scan(&phone(ME), None).await.unwrap();
    let event = expect_connection(next(&mut rx).await, InstanceStatus::Connected, "paired");
    assert_eq!(event, state);
    assert_eq!(state.phone_number.as_deref(), Some(ME));
    assert_eq!(state.platform.as_deref(), Some("android"));
    assert_eq!(state.push_name.as_deref(), Some("Sandbox"));
    assert!(state.last_activity_at.is_some());
    assert_eq!(e.current_qr().await, None);
    // Rotation stopped with the scan: no more QR codes, however long we wait.
    tokio::time::sleep(SETTLE).await;
    assert_quiet(&mut rx);
    // A second scan has nothing to pair.
    assert!(matches!(
        e.scan(&phone(ME), None).await,
        Err(EngineError::Invalid(_))
    ));

    // The stored session lets a later start skip the QR.
    e.disconnect().await.unwrap();
    expect_connection(
        next(&mut rx).await,
        InstanceStatus::Disconnected,
        "requested",
    );
    e.start().await.unwrap();
    expect_connection(next(&mut rx).await, InstanceStatus::Connected, "restored");
    assert_quiet(&mut rx);
}

#[tokio::test]
async fn sending_before_pairing_fails() {
    let (e, _rx) = engine(fast());
    let opts = SendOptions::default();
    assert_eq!(
        e.send_text(&jid(ALICE), "hi", &opts).await,
        Err(EngineError::NotConnected)
    );
    e.start().await.unwrap();
    assert_eq!(
        e.send_text(&jid(ALICE), "hi", &opts).await,
        Err(EngineError::NotConnected)
    );
    assert_eq!(
        e.check_numbers(&[phone(ALICE)]).await,
        Err(EngineError::NotConnected)
    );
    assert!(e.sent_ids().is_empty());
}

#[tokio::test]
async fn text_send_gets_receipts_on_schedule() {
    let (e, mut rx) = paired(fast()).await;
    let opts = SendOptions {
        quoted_id: Some("ABC".to_owned()),
        mentioned_jids: vec![jid(BOB)],
        client_ref: Some("auto:7:0".to_owned()),
    };
    let t0 = Instant::now();
    let sent = e.send_text(&jid(ALICE), "hello", &opts).await.unwrap();
    assert!(sent.message_id.starts_with("3EB0") && sent.message_id.len() == 20);
    let msg = text_of(next(&mut rx).await);
    assert_eq!(msg.id, sent.message_id);
    assert!(msg.from_me);
    assert_eq!(msg.sender, jid(ME));
    assert_eq!(msg.chat, jid(ALICE));
    assert_eq!(msg.text.as_deref(), Some("hello"));
    assert_eq!(msg.quoted_id.as_deref(), Some("ABC"));
    assert_eq!(msg.mentioned_jids, vec![jid(BOB)]);
    assert_eq!(msg.client_ref.as_deref(), Some("auto:7:0"));
    expect_receipt(next(&mut rx).await, &sent.message_id, MessageStatus::Sent);
    assert!(t0.elapsed() < DELIVERED);
    expect_receipt(
        next(&mut rx).await,
        &sent.message_id,
        MessageStatus::Delivered,
    );
    assert!(t0.elapsed() >= DELIVERED);
    expect_receipt(next(&mut rx).await, &sent.message_id, MessageStatus::Read);
    assert!(t0.elapsed() >= READ);
    // Text is never played.
    tokio::time::sleep(SETTLE).await;
    assert_quiet(&mut rx);
    assert_eq!(
        e.message_status(&sent.message_id),
        Some(MessageStatus::Read)
    );
    assert_eq!(e.sent_ids(), vec![sent.message_id]);
}

#[tokio::test]
async fn audio_is_played() {
    let (e, mut rx) = paired(fast()).await;
    let media = OutgoingMedia {
        kind: MediaKind::Audio,
        data: bytes::Bytes::from_static(b"OggS fake"),
        mime_type: "audio/ogg; codecs=opus".to_owned(),
        caption: None,
        filename: None,
    };
    let t0 = Instant::now();
    let sent = e
        .send_media(&jid(ALICE), &media, &SendOptions::default())
        .await
        .unwrap();
    let msg = text_of(next(&mut rx).await);
    assert_eq!(msg.kind, MessageKind::Voice);
    assert_eq!(msg.media.as_ref().unwrap().size, 9);
    for status in [
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Read,
        MessageStatus::Played,
    ] {
        expect_receipt(next(&mut rx).await, &sent.message_id, status);
    }
    assert!(t0.elapsed() >= PLAYED);
    assert_eq!(
        e.message_status(&sent.message_id),
        Some(MessageStatus::Played)
    );
}

#[tokio::test]
async fn advance_receipt_never_goes_backwards() {
    let (e, mut rx) = paired(no_receipts()).await;
    let sent = e
        .send_text(&jid(ALICE), "x", &SendOptions::default())
        .await
        .unwrap();
    text_of(next(&mut rx).await);
    expect_receipt(next(&mut rx).await, &sent.message_id, MessageStatus::Sent);
    // No schedule: nothing else arrives on its own.
    tokio::time::sleep(SETTLE).await;
    assert_quiet(&mut rx);

    let id = &sent.message_id;
    assert_eq!(e.advance_receipt(id, MessageStatus::Read).await, Ok(true));
    expect_receipt(next(&mut rx).await, id, MessageStatus::Read);
    assert_eq!(
        e.advance_receipt(id, MessageStatus::Delivered).await,
        Ok(false)
    );
    assert_eq!(e.advance_receipt(id, MessageStatus::Read).await, Ok(false));
    assert_quiet(&mut rx);
    assert!(matches!(
        e.advance_receipt(id, MessageStatus::Played).await,
        Err(EngineError::Invalid(_))
    ));
    assert!(matches!(
        e.advance_receipt("NOPE", MessageStatus::Read).await,
        Err(EngineError::NotFound(_))
    ));
    assert_eq!(e.message_status(id), Some(MessageStatus::Read));
}

#[tokio::test]
async fn scheduled_receipts_skip_statuses_already_reached() {
    let (e, mut rx) = paired(fast()).await;
    let sent = e
        .send_text(&jid(ALICE), "x", &SendOptions::default())
        .await
        .unwrap();
    text_of(next(&mut rx).await);
    expect_receipt(next(&mut rx).await, &sent.message_id, MessageStatus::Sent);
    assert_eq!(
        e.advance_receipt(&sent.message_id, MessageStatus::Read)
            .await,
        Ok(true)
    );
    expect_receipt(next(&mut rx).await, &sent.message_id, MessageStatus::Read);
    tokio::time::sleep(SETTLE).await;
    assert_quiet(&mut rx);
}

#[tokio::test]
async fn sends_validate_their_input() {
    let (e, mut rx) = paired(no_receipts()).await;
    let opts = SendOptions::default();
    let invalid = |r: Result<SentMessage, EngineError>| matches!(r, Err(EngineError::Invalid(_)));
    assert!(invalid(e.send_text(&jid(ALICE), "  ", &opts).await));
    let empty = OutgoingMedia {
        kind: MediaKind::Image,
        data: bytes::Bytes::new(),
        mime_type: "image/png".to_owned(),
        caption: None,
        filename: None,
    };
    assert!(invalid(e.send_media(&jid(ALICE), &empty, &opts).await));
    assert!(invalid(
        e.send_text(&Jid::status_broadcast(), "hi", &opts).await
    ));
    let newsletter = Jid::parse("120363144038483540@newsletter").unwrap();
    assert!(invalid(e.send_text(&newsletter, "hi", &opts).await));
    let stranger_group = Jid::parse("120363025246125486@g.us").unwrap();
    assert!(matches!(
        e.send_text(&stranger_group, "hi", &opts).await,
        Err(EngineError::NotFound(_))
    ));
    assert_quiet(&mut rx);
    // LIDs are fine recipients.
    let lid = Jid::parse("123456789012345@lid").unwrap();
    e.send_text(&lid, "hi", &opts).await.unwrap();
    assert_eq!(text_of(next(&mut rx).await).chat, lid);
}

#[tokio::test]
async fn groups_model() {
    let (e, mut rx) = paired(no_receipts()).await;
    let g = e
        .create_group("Team", &[jid(ALICE), jid(ALICE)])
        .await
        .unwrap();
    assert!(g.jid.is_group());
    assert!(g.jid.user().starts_with("1203630") && g.jid.user().len() == 18);
    assert_eq!(g.owner, Some(jid(ME)));
    assert_eq!(g.participants.len(), 2);
    assert!(g.participants[0].is_super_admin && g.participants[0].jid == jid(ME));
    assert!(matches!(
        next(&mut rx).await,
        EngineEvent::GroupUpdate { ref action, .. } if action == "create"
    ));
    assert!(matches!(
        e.create_group("Bad", &[Jid::parse("123@lid").unwrap()])
            .await,
        Err(EngineError::Invalid(_))
    ));

    let results = e
        .update_participants(&g.jid, ParticipantAction::Add, &[jid(ALICE), jid(BOB)])
        .await
        .unwrap();
    assert!(!results[0].ok);
    assert_eq!(results[0].error.as_deref(), Some("already a participant"));
    assert!(results[1].ok && results[1].error.is_none());
    match next(&mut rx).await {
        EngineEvent::GroupUpdate {
            action,
            participants,
            ..
        } => {
            assert_eq!(action, "add");
            assert_eq!(participants, vec![jid(BOB)]);
        }
        other => panic!("{other:?}"),
    }
    let results = e
        .update_participants(&g.jid, ParticipantAction::Remove, &[jid("5511955554444")])
        .await
        .unwrap();
    assert_eq!(results[0].error.as_deref(), Some("not a participant"));
    assert_quiet(&mut rx);
    e.update_participants(&g.jid, ParticipantAction::Promote, &[jid(BOB)])
        .await
        .unwrap();
    next(&mut rx).await;
    let info = e.group_info(&g.jid).await.unwrap();
    assert!(
        info.participants
            .iter()
            .any(|p| p.jid == jid(BOB) && p.is_admin)
    );

    let long = "x".repeat(101);
    assert!(matches!(
        e.set_group_subject(&g.jid, &long).await,
        Err(EngineError::Invalid(_))
    ));
    e.set_group_subject(&g.jid, &"y".repeat(100)).await.unwrap();
    next(&mut rx).await;
    e.set_group_description(&g.jid, "about").await.unwrap();
    next(&mut rx).await;
    let info = e.group_info(&g.jid).await.unwrap();
    assert_eq!(info.subject, "y".repeat(100));
    assert_eq!(info.description.as_deref(), Some("about"));

    let link = e.invite_link(&g.jid, false).await.unwrap();
    let code = link.strip_prefix("https://chat.whatsapp.com/").unwrap();
    assert_eq!(code.len(), 22);
    assert!(code.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(e.invite_link(&g.jid, false).await.unwrap(), link);
    assert_ne!(e.invite_link(&g.jid, true).await.unwrap(), link);
    next(&mut rx).await;

    assert_eq!(e.list_groups().await.unwrap().len(), 1);
    e.leave_group(&g.jid).await.unwrap();
    next(&mut rx).await;
    assert!(e.list_groups().await.unwrap().is_empty());
    assert!(matches!(
        e.group_info(&g.jid).await,
        Err(EngineError::NotFound(_))
    ));
    assert!(matches!(
        e.send_text(&g.jid, "hi", &SendOptions::default()).await,
        Err(EngineError::NotFound(_))
    ));
}

#[tokio::test]
async fn promote_needs_admin() {
    let (e, mut rx) = paired(no_receipts()).await;
    let g = e
        .inject_group("Theirs", &[jid(ALICE), jid(BOB)], false)
        .await
        .unwrap();
    assert_eq!(g.owner, Some(jid(ALICE)));
    next(&mut rx).await;
    for action in [ParticipantAction::Promote, ParticipantAction::Demote] {
        assert!(matches!(
            e.update_participants(&g.jid, action, &[jid(BOB)]).await,
            Err(EngineError::NotAllowed(_))
        ));
    }
    assert!(matches!(
        e.invite_link(&g.jid, false).await,
        Err(EngineError::NotAllowed(_))
    ));
    // Members may still talk in it.
    e.send_text(&g.jid, "hi", &SendOptions::default())
        .await
        .unwrap();
    assert_eq!(text_of(next(&mut rx).await).chat, g.jid);
}

#[tokio::test]
async fn pair_code_flow() {
    let (e, mut rx) = engine(fast());
    assert!(matches!(
        e.request_pair_code(&phone(ME)).await,
        Err(EngineError::Invalid(_))
    ));
    e.start().await.unwrap();
    next(&mut rx).await;
    expect_qr(next(&mut rx).await);
    let code = e.request_pair_code(&phone(ME)).await.unwrap();
    assert_eq!(code.len(), 9);
    assert_eq!(&code[4..5], "-");
    assert!(
        code.chars()
            .filter(|c| *c != '-')
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    );
    expect_connection(next(&mut rx).await, InstanceStatus::Pending, "pair_code");
    assert_eq!(e.current_qr().await, None);
    // The QR rotation stopped with the pair code.
    tokio::time::sleep(SETTLE).await;
    assert_quiet(&mut rx);

    let wrong = if code.starts_with('A') {
        "BBBB-BBBB"
    } else {
        "AAAA-AAAA"
    };
    assert!(matches!(
        e.enter_pair_code(wrong).await,
        Err(EngineError::Invalid(_))
    ));
    let state = e
        .enter_pair_code(&code.replace('-', "").to_lowercase())
        .await
        .unwrap();
    assert_eq!(state.status, InstanceStatus::Connected);
    assert_eq!(state.phone_number.as_deref(), Some(ME));
    expect_connection(next(&mut rx).await, InstanceStatus::Connected, "paired");
    assert!(matches!(
        e.enter_pair_code(&code).await,
        Err(EngineError::Invalid(_))
    ));
}

#[tokio::test]
async fn check_numbers_follows_the_policy() {
    let (e, _rx) = paired(no_receipts()).await;
    let checks = e
        .check_numbers(&[phone(ALICE), phone("5511912340000")])
        .await
        .unwrap();
    assert_eq!(checks.len(), 2);
    assert!(checks[0].exists);
    assert_eq!(checks[0].jid, Some(jid(ALICE)));
    assert!(!checks[1].exists);
    assert_eq!(checks[1].jid, None);
    assert_eq!(checks[1].phone_number, "5511912340000");

    let only = SandboxConfig {
        known_numbers: KnownNumbers::Only([BOB.to_owned()].into_iter().collect()),
        ..no_receipts()
    };
    let (e, _rx) = paired(only).await;
    let checks = e.check_numbers(&[phone(ALICE), phone(BOB)]).await.unwrap();
    assert_eq!(
        checks.iter().map(|c| c.exists).collect::<Vec<_>>(),
        vec![false, true]
    );
}

#[tokio::test]
async fn background_tasks_stop_when_the_engine_is_dropped() {
    let (e, mut rx) = engine(fast());
    e.start().await.unwrap();
    next(&mut rx).await;
    next(&mut rx).await;
    let weak = Arc::downgrade(&e);
    drop(e);
    assert!(weak.upgrade().is_none());
    // The sender went with the engine, and no task revived it to send another QR.
    tokio::time::sleep(SETTLE).await;
    assert_eq!(rx.recv().await, None);
}
