//! Every mapping of the real engine, proven offline: protocol messages and events are built
//! with the crate's own types and must come out as the pipeline's engine events.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use whatsapp_rust::types::events::{
    Event, GroupUpdate, LoggedOut, PushNameUpdate, Receipt, ServerAck, StreamReplaced,
    TempBanReason, TemporaryBan,
};
use whatsapp_rust::types::message::{MessageInfo, MessageSource};
use whatsapp_rust::types::presence::ReceiptType;
use whatsapp_rust::wacore::stanza::groups::{GroupNotificationAction, GroupParticipantInfo};
use whatsapp_rust::waproto::buffa::MessageField;
use whatsapp_rust::waproto::whatsapp as wa;
use zapini_shared::jid::Jid;
use zapini_shared::status::MessageStatus;

use super::map::{self, WaJid};
use super::media::MediaHandle;
use super::session::{After, terminal};
use crate::engine::types::*;

const PEER: &str = "5511988887777";
const PEER_LID: &str = "123456789012345";
const ME: &str = "5511999990000";

fn j(s: &str) -> Jid {
    Jid::parse(s).unwrap()
}

fn when() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 0).unwrap()
}

/// An inbound DM from PEER.
fn dm_info(id: &str) -> MessageInfo {
    MessageInfo {
        source: MessageSource {
            chat: WaJid::pn(PEER),
            sender: WaJid::pn_device(PEER, 3),
            is_from_me: false,
            is_group: false,
            ..Default::default()
        },
        id: id.to_owned(),
        push_name: "Maria".to_owned(),
        timestamp: when(),
        ..Default::default()
    }
}

fn received(msg: &wa::Message, info: &MessageInfo) -> WaMessage {
    match map::message_event(msg, info) {
        Some(EngineEvent::MessageReceived(m)) => m,
        other => panic!("expected MessageReceived, got {other:?}"),
    }
}

fn ctx_reply(id: &str) -> MessageField<wa::ContextInfo> {
    MessageField::some(wa::ContextInfo {
        stanza_id: Some(id.to_owned()),
        participant: Some(format!("{ME}@s.whatsapp.net")),
        mentioned_jid: vec![format!("{ME}@s.whatsapp.net")],
        ..Default::default()
    })
}

#[test]
fn plain_text() {
    let msg = wa::Message {
        conversation: Some("Hi! Got it.".to_owned()),
        ..Default::default()
    };
    let m = received(&msg, &dm_info("ABC1"));
    assert_eq!(m.id, "ABC1");
    assert_eq!(m.kind, MessageKind::Text);
    assert_eq!(m.text.as_deref(), Some("Hi! Got it."));
    assert_eq!(m.chat, j(&format!("{PEER}@s.whatsapp.net")));
    // The device part of the author is dropped.
    assert_eq!(m.sender, j(&format!("{PEER}@s.whatsapp.net")));
    assert_eq!(m.push_name.as_deref(), Some("Maria"));
    assert!(!m.from_me);
    assert_eq!(m.timestamp, when());
    assert_eq!(m.quoted_id, None);
}

#[test]
fn extended_text_with_reply_and_mentions() {
    let msg = wa::Message {
        extended_text_message: MessageField::some(wa::message::ExtendedTextMessage {
            text: Some("see https://example.com".to_owned()),
            context_info: ctx_reply("3EB0QUOTED"),
            ..Default::default()
        }),
        ..Default::default()
    };
    let m = received(&msg, &dm_info("ABC2"));
    assert_eq!(m.kind, MessageKind::Text);
    assert_eq!(m.text.as_deref(), Some("see https://example.com"));
    assert_eq!(m.quoted_id.as_deref(), Some("3EB0QUOTED"));
    assert_eq!(m.mentioned_jids, vec![j(&format!("{ME}@s.whatsapp.net"))]);
}

#[test]
fn image_with_caption_and_reply() {
    let msg = wa::Message {
        image_message: MessageField::some(wa::message::ImageMessage {
            mimetype: Some("image/png".to_owned()),
            caption: Some("the receipt".to_owned()),
            file_length: Some(2048),
            file_sha256: Some(vec![0xab, 0xcd]),
            context_info: ctx_reply("3EB0Q"),
            ..Default::default()
        }),
        ..Default::default()
    };
    let m = received(&msg, &dm_info("IMG1"));
    assert_eq!(m.kind, MessageKind::Image);
    assert_eq!(m.text.as_deref(), Some("the receipt"));
    let media = m.media.unwrap();
    assert_eq!(media.mime_type, "image/png");
    assert_eq!(media.caption.as_deref(), Some("the receipt"));
    assert_eq!(media.size, 2048);
    assert_eq!(media.sha256.as_deref(), Some("abcd"));
    assert_eq!(m.quoted_id.as_deref(), Some("3EB0Q"));
}

#[test]
fn video_and_ptv() {
    let video = wa::message::VideoMessage {
        mimetype: Some("video/mp4".to_owned()),
        caption: Some("clip".to_owned()),
        file_length: Some(10),
        seconds: Some(7),
        ..Default::default()
    };
    let msg = wa::Message {
        video_message: MessageField::some(video.clone()),
        ..Default::default()
    };
    let m = received(&msg, &dm_info("V1"));
    assert_eq!(m.kind, MessageKind::Video);
    assert_eq!(m.media.as_ref().unwrap().duration_secs, Some(7));
    assert_eq!(m.text.as_deref(), Some("clip"));
    let ptv = wa::Message {
        ptv_message: MessageField::some(video),
        ..Default::default()
    };
    assert_eq!(received(&ptv, &dm_info("V2")).kind, MessageKind::Video);
}

#[test]
fn audio_and_voice_notes() {
    let audio = |ptt: bool| wa::Message {
        audio_message: MessageField::some(wa::message::AudioMessage {
            mimetype: Some("audio/ogg; codecs=opus".to_owned()),
            seconds: Some(12),
            ptt: Some(ptt),
            file_length: Some(4000),
            ..Default::default()
        }),
        ..Default::default()
    };
    let voice = received(&audio(true), &dm_info("A1"));
    assert_eq!(voice.kind, MessageKind::Voice);
    assert_eq!(voice.media.as_ref().unwrap().duration_secs, Some(12));
    assert_eq!(
        received(&audio(false), &dm_info("A2")).kind,
        MessageKind::Audio
    );
}

#[test]
fn document_with_filename_and_caption() {
    let msg = wa::Message {
        document_message: MessageField::some(wa::message::DocumentMessage {
            mimetype: Some("application/pdf".to_owned()),
            file_name: Some("invoice.pdf".to_owned()),
            caption: Some("January".to_owned()),
            file_length: Some(99),
            ..Default::default()
        }),
        ..Default::default()
    };
    let m = received(&msg, &dm_info("D1"));
    assert_eq!(m.kind, MessageKind::Document);
    let media = m.media.unwrap();
    assert_eq!(media.filename.as_deref(), Some("invoice.pdf"));
    assert_eq!(media.caption.as_deref(), Some("January"));
    assert_eq!(media.mime_type, "application/pdf");
    // A document with a caption arrives wrapped; the wrapper is peeled.
    let wrapped = wa::Message {
        document_with_caption_message: MessageField::some(wa::message::FutureProofMessage {
            message: MessageField::some(msg),
        }),
        ..Default::default()
    };
    assert_eq!(
        received(&wrapped, &dm_info("D2")).kind,
        MessageKind::Document
    );
}

#[test]
fn sticker() {
    let msg = wa::Message {
        sticker_message: MessageField::some(wa::message::StickerMessage {
            mimetype: Some("image/webp".to_owned()),
            file_length: Some(300),
            ..Default::default()
        }),
        ..Default::default()
    };
    let m = received(&msg, &dm_info("S1"));
    assert_eq!(m.kind, MessageKind::Sticker);
    assert_eq!(m.media.unwrap().mime_type, "image/webp");
}

/// The download references of an encrypted media message, as WhatsApp sends them. The
/// direct path carries its own query, as real ones do.
fn refs(seed: u8) -> (String, Vec<u8>, Vec<u8>, Vec<u8>) {
    (
        format!("/v/t62.7118-24/{seed}_123_n.enc?ccb=11-4&oh=01_Q5&oe=67A0B1C2&_nc_sid=5e03e0"),
        vec![seed; 32],
        vec![seed.wrapping_add(1); 32],
        vec![seed.wrapping_add(2); 32],
    )
}

/// The handle in `info.url`, decoded into what the crate downloads with.
fn download_params(info: &MediaInfo) -> whatsapp_rust::download::DownloadParams {
    let url = info
        .url
        .as_deref()
        .expect("media with references has a handle");
    assert!(url.starts_with("wa-media:"), "{url}");
    MediaHandle::parse(url).unwrap().params()
}

#[test]
fn received_media_carries_a_download_handle_that_round_trips() {
    use whatsapp_rust::download::{Downloadable, MediaType};

    let (path, key, enc, sha) = refs(7);
    let image = wa::message::ImageMessage {
        mimetype: Some("image/jpeg".to_owned()),
        direct_path: Some(path.clone()),
        media_key: Some(key.clone()),
        file_enc_sha256: Some(enc.clone()),
        file_sha256: Some(sha.clone()),
        file_length: Some(51_234),
        ..Default::default()
    };
    let msg = wa::Message {
        image_message: MessageField::some(image),
        ..Default::default()
    };
    let media = received(&msg, &dm_info("IMGH")).media.unwrap();
    let p = download_params(&media);
    assert_eq!(p.direct_path, path);
    assert_eq!(p.media_key.as_deref(), Some(key.as_slice()));
    assert_eq!(p.file_enc_sha256.as_deref(), Some(enc.as_slice()));
    assert_eq!(p.file_sha256, sha);
    assert_eq!(p.file_length, 51_234);
    assert_eq!(p.app_info(), MediaType::Image);
    // The public fields stay what they were.
    assert_eq!(media.size, 51_234);
    assert_eq!(media.sha256.as_deref(), Some("09".repeat(32).as_str()));

    let (path, key, enc, sha) = refs(40);
    let doc = wa::Message {
        document_message: MessageField::some(wa::message::DocumentMessage {
            mimetype: Some("application/pdf".to_owned()),
            file_name: Some("invoice.pdf".to_owned()),
            direct_path: Some(path.clone()),
            media_key: Some(key.clone()),
            file_enc_sha256: Some(enc.clone()),
            file_sha256: Some(sha.clone()),
            file_length: Some(99),
            ..Default::default()
        }),
        ..Default::default()
    };
    let p = download_params(&received(&doc, &dm_info("DOCH")).media.unwrap());
    assert_eq!(p.direct_path, path);
    assert_eq!(p.media_key.as_deref(), Some(key.as_slice()));
    assert_eq!(p.file_enc_sha256.as_deref(), Some(enc.as_slice()));
    assert_eq!(p.file_sha256, sha);
    assert_eq!(p.app_info(), MediaType::Document);

    let (path, key, enc, sha) = refs(200);
    let voice = wa::Message {
        audio_message: MessageField::some(wa::message::AudioMessage {
            mimetype: Some("audio/ogg; codecs=opus".to_owned()),
            ptt: Some(true),
            seconds: Some(3),
            direct_path: Some(path.clone()),
            media_key: Some(key.clone()),
            file_enc_sha256: Some(enc.clone()),
            file_sha256: Some(sha.clone()),
            file_length: Some(4_000),
            ..Default::default()
        }),
        ..Default::default()
    };
    let m = received(&voice, &dm_info("PTTH"));
    assert_eq!(m.kind, MessageKind::Voice);
    let p = download_params(&m.media.unwrap());
    assert_eq!(p.direct_path, path);
    assert_eq!(p.media_key.as_deref(), Some(key.as_slice()));
    assert_eq!(p.file_enc_sha256.as_deref(), Some(enc.as_slice()));
    assert_eq!(p.file_sha256, sha);
    assert_eq!(p.file_length, 4_000);
    assert_eq!(p.app_info(), MediaType::Audio);

    // A sticker downloads with the image keys of its own type.
    let (path, key, enc, sha) = refs(9);
    let sticker = wa::Message {
        sticker_message: MessageField::some(wa::message::StickerMessage {
            direct_path: Some(path),
            media_key: Some(key),
            file_enc_sha256: Some(enc),
            file_sha256: Some(sha),
            ..Default::default()
        }),
        ..Default::default()
    };
    let p = download_params(&received(&sticker, &dm_info("STKH")).media.unwrap());
    assert_eq!(p.app_info(), MediaType::Sticker);
}

#[test]
fn media_without_download_references_has_no_handle() {
    let (path, _, enc, sha) = refs(1);
    // No media key: nothing could decrypt it (the handle would be useless).
    let msg = wa::Message {
        image_message: MessageField::some(wa::message::ImageMessage {
            direct_path: Some(path),
            file_enc_sha256: Some(enc),
            file_sha256: Some(sha),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(received(&msg, &dm_info("NOKEY")).media.unwrap().url, None);
}

#[test]
fn our_own_sent_media_carries_a_handle_too() {
    let (path, key, enc, sha) = refs(3);
    let msg = wa::Message {
        video_message: MessageField::some(wa::message::VideoMessage {
            direct_path: Some(path.clone()),
            media_key: Some(key),
            file_enc_sha256: Some(enc),
            file_sha256: Some(sha),
            ..Default::default()
        }),
        ..Default::default()
    };
    let peer = j(&format!("{PEER}@s.whatsapp.net"));
    let me = j(&format!("{ME}@s.whatsapp.net"));
    let m = map::sent_message(&msg, "3EB0VID", &peer, &me, when(), None).unwrap();
    assert_eq!(download_params(&m.media.unwrap()).direct_path, path);
}

#[test]
fn location() {
    let msg = wa::Message {
        location_message: MessageField::some(wa::message::LocationMessage {
            degrees_latitude: Some(-23.5505),
            degrees_longitude: Some(-46.6333),
            name: Some("Office".to_owned()),
            address: Some("Av. Paulista".to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let m = received(&msg, &dm_info("L1"));
    assert_eq!(m.kind, MessageKind::Location);
    let loc = m.location.unwrap();
    assert_eq!(loc.latitude, -23.5505);
    assert_eq!(loc.longitude, -46.6333);
    assert_eq!(loc.name.as_deref(), Some("Office"));
    assert_eq!(loc.address.as_deref(), Some("Av. Paulista"));
}

#[test]
fn contact_card() {
    let vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Ana\nTEL:+5511912345678\nEND:VCARD";
    let msg = wa::Message {
        contact_message: MessageField::some(wa::message::ContactMessage {
            display_name: Some("Ana".to_owned()),
            vcard: Some(vcard.to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let m = received(&msg, &dm_info("C1"));
    assert_eq!(m.kind, MessageKind::Contact);
    let card = m.contact.unwrap();
    assert_eq!(card.display_name, "Ana");
    assert_eq!(card.vcard, vcard);
}

#[test]
fn ephemeral_wrapper_is_peeled() {
    let msg = wa::Message {
        ephemeral_message: MessageField::some(wa::message::FutureProofMessage {
            message: MessageField::some(wa::Message {
                conversation: Some("disappearing".to_owned()),
                ..Default::default()
            }),
        }),
        ..Default::default()
    };
    assert_eq!(
        received(&msg, &dm_info("E1")).text.as_deref(),
        Some("disappearing")
    );
}

fn reaction(emoji: &str, from_me_key: bool) -> wa::Message {
    wa::Message {
        reaction_message: MessageField::some(wa::message::ReactionMessage {
            key: MessageField::some(wa::MessageKey {
                remote_jid: Some(format!("{PEER}@s.whatsapp.net")),
                from_me: Some(from_me_key),
                id: Some("3EB0TARGET".to_owned()),
                participant: None,
            }),
            text: Some(emoji.to_owned()),
            sender_timestamp_ms: Some(when().timestamp_millis() + 1000),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn reactions_added_and_removed() {
    match map::message_event(&reaction("👍", true), &dm_info("R1")) {
        Some(EngineEvent::Reaction {
            message_id,
            chat,
            sender,
            emoji,
            from_me,
            timestamp,
        }) => {
            assert_eq!(message_id, "3EB0TARGET");
            assert_eq!(chat, j(&format!("{PEER}@s.whatsapp.net")));
            assert_eq!(sender, j(&format!("{PEER}@s.whatsapp.net")));
            assert_eq!(emoji, "👍");
            assert!(!from_me);
            assert_eq!(timestamp, when() + chrono::Duration::seconds(1));
        }
        other => panic!("expected a reaction, got {other:?}"),
    }
    match map::message_event(&reaction("", true), &dm_info("R2")) {
        Some(EngineEvent::Reaction { emoji, .. }) => assert_eq!(emoji, ""),
        other => panic!("expected a removed reaction, got {other:?}"),
    }
}

fn protocol(kind: wa::message::protocol_message::Type, edited: Option<&str>) -> wa::Message {
    wa::Message {
        protocol_message: MessageField::some(wa::message::ProtocolMessage {
            key: MessageField::some(wa::MessageKey {
                remote_jid: Some(format!("{PEER}@s.whatsapp.net")),
                from_me: Some(false),
                id: Some("ORIGINAL".to_owned()),
                participant: None,
            }),
            r#type: Some(kind),
            edited_message: match edited {
                Some(t) => MessageField::some(wa::Message {
                    conversation: Some(t.to_owned()),
                    ..Default::default()
                }),
                None => MessageField::none(),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn edits() {
    let msg = protocol(
        wa::message::protocol_message::Type::MESSAGE_EDIT,
        Some("fixed typo"),
    );
    assert_eq!(
        map::message_event(&msg, &dm_info("P1")),
        Some(EngineEvent::MessageEdited {
            message_id: "ORIGINAL".to_owned(),
            chat: j(&format!("{PEER}@s.whatsapp.net")),
            new_text: "fixed typo".to_owned(),
            from_me: false,
        })
    );
    // Edits also arrive wrapped in `editedMessage`.
    let wrapped = wa::Message {
        edited_message: MessageField::some(wa::message::FutureProofMessage {
            message: MessageField::some(msg),
        }),
        ..Default::default()
    };
    assert!(matches!(
        map::message_event(&wrapped, &dm_info("P2")),
        Some(EngineEvent::MessageEdited { .. })
    ));
}

#[test]
fn revokes() {
    let msg = protocol(wa::message::protocol_message::Type::REVOKE, None);
    assert_eq!(
        map::message_event(&msg, &dm_info("P3")),
        Some(EngineEvent::MessageRevoked {
            message_id: "ORIGINAL".to_owned(),
            chat: j(&format!("{PEER}@s.whatsapp.net")),
            from_me: false,
        })
    );
}

#[test]
fn housekeeping_protocol_messages_are_not_messages() {
    let msg = protocol(wa::message::protocol_message::Type::EPHEMERAL_SETTING, None);
    assert_eq!(map::message_event(&msg, &dm_info("P4")), None);
    assert_eq!(
        map::message_event(&wa::Message::default(), &dm_info("P5")),
        None
    );
}

#[test]
fn group_messages_carry_the_participant() {
    let info = MessageInfo {
        source: MessageSource {
            chat: WaJid::group("120363012345678901"),
            sender: WaJid::pn_device(PEER, 1),
            is_from_me: false,
            is_group: true,
            ..Default::default()
        },
        id: "G1".to_owned(),
        push_name: "Maria".to_owned(),
        timestamp: when(),
        ..Default::default()
    };
    let msg = wa::Message {
        conversation: Some("hello group".to_owned()),
        ..Default::default()
    };
    let m = received(&msg, &info);
    assert_eq!(m.chat, j("120363012345678901@g.us"));
    assert!(m.chat.is_group());
    assert_eq!(m.sender, j(&format!("{PEER}@s.whatsapp.net")));
}

#[test]
fn lid_senders_are_normalized_when_the_phone_number_is_known() {
    let mut info = dm_info("LID1");
    info.source.chat = WaJid::lid(PEER_LID);
    info.source.sender = WaJid::lid_device(PEER_LID, 2);
    info.source.sender_alt = Some(WaJid::pn(PEER));
    let msg = wa::Message {
        conversation: Some("from a lid".to_owned()),
        ..Default::default()
    };
    let m = received(&msg, &info);
    assert_eq!(m.sender, j(&format!("{PEER}@s.whatsapp.net")));
    assert_eq!(m.sender_pn, Some(j(&format!("{PEER}@s.whatsapp.net"))));
    assert_eq!(m.chat, j(&format!("{PEER}@s.whatsapp.net")));

    // Without the phone form the LID stays.
    info.source.sender_alt = None;
    let m = received(&msg, &info);
    assert_eq!(m.sender, j(&format!("{PEER_LID}@lid")));
    assert!(m.sender.is_lid());
    assert_eq!(m.sender_pn, None);
    assert_eq!(m.chat, j(&format!("{PEER_LID}@lid")));
}

#[test]
fn lid_group_participants_are_normalized() {
    let info = MessageInfo {
        source: MessageSource {
            chat: WaJid::group("120363012345678901"),
            sender: WaJid::lid(PEER_LID),
            sender_alt: Some(WaJid::pn(PEER)),
            is_group: true,
            ..Default::default()
        },
        id: "GL1".to_owned(),
        timestamp: when(),
        ..Default::default()
    };
    let msg = wa::Message {
        conversation: Some("hi".to_owned()),
        ..Default::default()
    };
    let m = received(&msg, &info);
    assert_eq!(m.chat, j("120363012345678901@g.us"));
    assert_eq!(m.sender, j(&format!("{PEER}@s.whatsapp.net")));
}

#[test]
fn our_messages_from_the_phone_are_sent_messages() {
    let info = MessageInfo {
        source: MessageSource {
            chat: WaJid::lid(PEER_LID),
            sender: WaJid::pn(ME),
            is_from_me: true,
            recipient_alt: Some(WaJid::pn(PEER)),
            ..Default::default()
        },
        id: "3EB0MINE".to_owned(),
        timestamp: when(),
        ..Default::default()
    };
    let msg = wa::Message {
        conversation: Some("typed on the phone".to_owned()),
        ..Default::default()
    };
    match map::message_event(&msg, &info) {
        Some(EngineEvent::MessageSent(m)) => {
            assert!(m.from_me);
            assert_eq!(m.chat, j(&format!("{PEER}@s.whatsapp.net")));
            assert_eq!(m.sender, j(&format!("{ME}@s.whatsapp.net")));
            assert_eq!(m.push_name, None);
        }
        other => panic!("expected MessageSent, got {other:?}"),
    }
}

fn receipt(kind: ReceiptType, group: bool) -> Receipt {
    let source = if group {
        MessageSource {
            chat: WaJid::group("120363012345678901"),
            sender: WaJid::lid(PEER_LID),
            sender_alt: Some(WaJid::pn(PEER)),
            is_group: true,
            ..Default::default()
        }
    } else {
        MessageSource {
            chat: WaJid::pn(PEER),
            sender: WaJid::pn(PEER),
            ..Default::default()
        }
    };
    Receipt::builder()
        .source(source)
        .message_ids(vec!["3EB0A".to_owned(), "3EB0B".to_owned()])
        .timestamp(when())
        .r#type(kind)
        .offline(false)
        .build()
}

#[test]
fn receipts_map_onto_the_reference_statuses() {
    for (kind, status) in [
        (ReceiptType::Sent, MessageStatus::Sent),
        (ReceiptType::Delivered, MessageStatus::Delivered),
        (ReceiptType::Read, MessageStatus::Read),
        (ReceiptType::Played, MessageStatus::Played),
    ] {
        assert_eq!(
            map::receipt_event(&receipt(kind, false)),
            Some(EngineEvent::Receipt {
                message_ids: vec!["3EB0A".to_owned(), "3EB0B".to_owned()],
                chat: j(&format!("{PEER}@s.whatsapp.net")),
                status,
                participant: None,
                timestamp: when(),
            })
        );
    }
    // Receipts about our other devices or retries are not statuses of our sends.
    for kind in [
        ReceiptType::ReadSelf,
        ReceiptType::PlayedSelf,
        ReceiptType::Retry,
        ReceiptType::Sender,
    ] {
        assert_eq!(map::receipt_event(&receipt(kind, false)), None);
    }
}

#[test]
fn group_receipts_name_the_participant() {
    match map::receipt_event(&receipt(ReceiptType::Read, true)) {
        Some(EngineEvent::Receipt {
            chat,
            participant,
            status,
            ..
        }) => {
            assert_eq!(chat, j("120363012345678901@g.us"));
            assert_eq!(participant, Some(j(&format!("{PEER}@s.whatsapp.net"))));
            assert_eq!(status, MessageStatus::Read);
        }
        other => panic!("expected a receipt, got {other:?}"),
    }
}

#[test]
fn server_ack_is_the_sent_receipt() {
    let ack = ServerAck::builder()
        .id("3EB0ACK".to_owned())
        .class("message".to_owned())
        .from(WaJid::pn(PEER))
        .timestamp(when())
        .build();
    assert_eq!(
        map::server_ack_event(&ack),
        Some(EngineEvent::Receipt {
            message_ids: vec!["3EB0ACK".to_owned()],
            chat: j(&format!("{PEER}@s.whatsapp.net")),
            status: MessageStatus::Sent,
            participant: None,
            timestamp: when(),
        })
    );
    let nack = ServerAck::builder()
        .id("3EB0NACK".to_owned())
        .class("message".to_owned())
        .from(WaJid::pn(PEER))
        .error("479".to_owned())
        .build();
    assert_eq!(map::server_ack_event(&nack), None);
    let receipt_ack = ServerAck::builder()
        .id("X".to_owned())
        .class("receipt".to_owned())
        .build();
    assert_eq!(map::server_ack_event(&receipt_ack), None);
}

fn group_update(action: GroupNotificationAction) -> Event {
    Event::GroupUpdate(
        GroupUpdate::builder()
            .group_jid(WaJid::group("120363012345678901"))
            .participant(WaJid::lid(PEER_LID))
            .participant_pn(WaJid::pn(PEER))
            .timestamp(when())
            .is_lid_addressing_mode(true)
            .action(action)
            .build(),
    )
}

#[test]
fn group_notifications() {
    let someone = GroupParticipantInfo {
        jid: WaJid::lid("999"),
        phone_number: Some(WaJid::pn("5511977776666")),
        display_name: None,
        r#type: None,
        lid: None,
        username: None,
        join_time: None,
        group_history_sent_state: None,
    };
    let event = group_update(GroupNotificationAction::Add {
        participants: vec![someone.clone()],
        reason: None,
    });
    assert_eq!(
        map::group_event(&event),
        Some(EngineEvent::GroupUpdate {
            group: j("120363012345678901@g.us"),
            action: "add".to_owned(),
            participants: vec![j("5511977776666@s.whatsapp.net")],
            subject: None,
            actor: Some(j(&format!("{PEER}@s.whatsapp.net"))),
        })
    );
    for (action, name) in [
        (
            GroupNotificationAction::Remove {
                participants: vec![someone.clone()],
                reason: None,
            },
            "remove",
        ),
        (
            GroupNotificationAction::Promote {
                participants: vec![someone.clone()],
            },
            "promote",
        ),
        (
            GroupNotificationAction::Demote {
                participants: vec![someone.clone()],
            },
            "demote",
        ),
    ] {
        match map::group_event(&group_update(action)) {
            Some(EngineEvent::GroupUpdate { action, .. }) => assert_eq!(action, name),
            other => panic!("expected a group update, got {other:?}"),
        }
    }
    match map::group_event(&group_update(GroupNotificationAction::Subject {
        subject: "New name".to_owned(),
        subject_owner: None,
        subject_time: None,
    })) {
        Some(EngineEvent::GroupUpdate {
            action, subject, ..
        }) => {
            assert_eq!(action, "subject");
            assert_eq!(subject.as_deref(), Some("New name"));
        }
        other => panic!("expected a subject change, got {other:?}"),
    }
}

#[test]
fn push_names() {
    let mut info = dm_info("PN1");
    info.source.sender = WaJid::lid(PEER_LID);
    info.source.sender_alt = Some(WaJid::pn(PEER));
    let event = Event::PushNameUpdate(
        PushNameUpdate::builder()
            .jid(WaJid::lid(PEER_LID))
            .message(Box::new(info))
            .old_push_name("Mari".to_owned())
            .new_push_name("Maria".to_owned())
            .build(),
    );
    assert_eq!(
        map::push_name_event(&event),
        Some(EngineEvent::ContactUpdate {
            jid: j(&format!("{PEER}@s.whatsapp.net")),
            push_name: Some("Maria".to_owned()),
            profile_picture: None,
        })
    );
}

#[test]
fn sent_messages_are_recorded_with_their_content() {
    let msg = wa::Message {
        extended_text_message: MessageField::some(wa::message::ExtendedTextMessage {
            text: Some("reply".to_owned()),
            context_info: ctx_reply("IN1"),
            ..Default::default()
        }),
        ..Default::default()
    };
    let peer = j(&format!("{PEER}@s.whatsapp.net"));
    let me = j(&format!("{ME}@s.whatsapp.net"));
    let m = map::sent_message(
        &msg,
        "3EB0NEW",
        &peer,
        &me,
        when(),
        Some("auto:7:0".to_owned()),
    )
    .unwrap();
    assert_eq!(m.id, "3EB0NEW");
    assert_eq!(m.client_ref.as_deref(), Some("auto:7:0"));
    assert!(m.from_me);
    assert_eq!(m.chat, peer);
    assert_eq!(m.sender, me);
    assert_eq!(m.quoted_id.as_deref(), Some("IN1"));
    assert_eq!(m.text.as_deref(), Some("reply"));
}

#[test]
fn terminal_events_never_loop() {
    let cap = Duration::from_secs(1800);
    let logged_out = Event::LoggedOut(
        LoggedOut::builder()
            .on_connect(false)
            .reason(whatsapp_rust::types::events::ConnectFailureReason::LoggedOut)
            .build(),
    );
    assert_eq!(
        terminal(&logged_out, 0, cap),
        Some(("logged_out".to_owned(), After::Wait, true))
    );
    let replaced = Event::StreamReplaced(StreamReplaced::builder().build());
    assert_eq!(
        terminal(&replaced, 0, cap),
        Some(("stream_replaced".to_owned(), After::Wait, false))
    );
    let ban = Event::TemporaryBan(
        TemporaryBan::builder()
            .code(TempBanReason::SentToTooManyPeople)
            .expire(chrono::Duration::seconds(3600))
            .build(),
    );
    let (reason, after, clear) = terminal(&ban, 0, cap).unwrap();
    assert!(reason.starts_with("temporary_ban"), "{reason}");
    assert_eq!(after, After::RestartIn(Duration::from_secs(3600)));
    assert!(!clear);
    // Refused connects back off, doubling to the cap.
    let refused = Event::ConnectFailure(
        whatsapp_rust::types::events::ConnectFailure::builder()
            .reason(whatsapp_rust::types::events::ConnectFailureReason::BadUserAgent)
            .build(),
    );
    assert_eq!(
        terminal(&refused, 0, cap).unwrap().1,
        After::RestartIn(Duration::from_secs(30))
    );
    assert_eq!(
        terminal(&refused, 3, cap).unwrap().1,
        After::RestartIn(Duration::from_secs(240))
    );
    assert_eq!(
        terminal(&refused, 30, cap).unwrap().1,
        After::RestartIn(cap)
    );
    // A transient refusal is the client's own retry, not terminal.
    let transient = Event::ConnectFailure(
        whatsapp_rust::types::events::ConnectFailure::builder()
            .reason(whatsapp_rust::types::events::ConnectFailureReason::ServiceUnavailable)
            .build(),
    );
    assert_eq!(terminal(&transient, 0, cap), None);
    let _ = Arc::new(());
}
