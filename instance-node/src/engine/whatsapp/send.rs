//! Outgoing side of the real engine: paced sends, protocol messages for text, replies and
//! uploaded media, number checks and the group operations.

use std::sync::Arc;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use whatsapp_rust::download::MediaType;
use whatsapp_rust::features::{
    GroupCreateOptions, GroupDescription, GroupError, GroupParticipantOptions, GroupSubject,
    PreviousDescription,
};
use whatsapp_rust::wacore::proto_helpers::MessageExt;
use whatsapp_rust::waproto::buffa::MessageField;
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::{Client, IqError, SendError, UploadOptions};
use zapini_shared::jid::Jid;
use zapini_shared::phone::PhoneNumber;

use super::WhatsappEngine;
use super::map::{self, WaJid};
use crate::engine::EngineError;
use crate::engine::types::*;

/// Our JID as the crate wants it.
pub(super) fn target(j: &Jid) -> Result<WaJid, EngineError> {
    map::wa_jid(j).ok_or_else(|| EngineError::Invalid(format!("not a WhatsApp JID: {j}")))
}

fn iq_error(e: &IqError) -> EngineError {
    match e {
        IqError::NotConnected | IqError::Socket(_) | IqError::ClientState(_) => {
            EngineError::NotConnected
        }
        IqError::ServerError {
            code: 401 | 403,
            text,
            ..
        } => EngineError::NotAllowed(text.clone()),
        IqError::ServerError {
            code: 404, text, ..
        } => EngineError::NotFound(text.clone()),
        IqError::ServerError {
            code: 400 | 406,
            text,
            ..
        } => EngineError::Invalid(text.clone()),
        other => EngineError::Temporary(other.to_string()),
    }
}

pub(super) fn send_error(e: SendError) -> EngineError {
    match e {
        SendError::NotLoggedIn => EngineError::NotConnected,
        SendError::Iq(iq) => iq_error(&iq),
        SendError::InvalidRequest(why) => EngineError::Invalid(why),
        SendError::Client(c) => match c {
            whatsapp_rust::ClientError::NotConnected | whatsapp_rust::ClientError::NotLoggedIn => {
                EngineError::NotConnected
            }
            other => EngineError::Temporary(other.to_string()),
        },
        other => EngineError::Temporary(format!("{other:#}")),
    }
}

fn group_error(e: GroupError) -> EngineError {
    match e {
        GroupError::Iq(iq) => iq_error(&iq),
        GroupError::InvalidRequest(why) => EngineError::Invalid(why),
        GroupError::DescriptionConflict => {
            EngineError::Temporary("the group description changed meanwhile".to_owned())
        }
        other => EngineError::Temporary(format!("{other:#}")),
    }
}

fn media_type(kind: MediaKind) -> MediaType {
    match kind {
        MediaKind::Image => MediaType::Image,
        MediaKind::Video => MediaType::Video,
        MediaKind::Audio => MediaType::Audio,
        MediaKind::Document => MediaType::Document,
        MediaKind::Sticker => MediaType::Sticker,
    }
}

/// An uploaded media message with its caption, filename and reply context.
pub(super) async fn media_message(
    client: &Client,
    media: &OutgoingMedia,
    context: Option<wa::ContextInfo>,
) -> Result<wa::Message, EngineError> {
    let uploaded = client
        .upload(
            media.data.to_vec(),
            media_type(media.kind),
            UploadOptions::default(),
        )
        .await
        .map_err(|e| EngineError::Temporary(format!("media upload failed: {e:#}")))?;
    let ctx = context.map_or_else(MessageField::none, MessageField::some);
    let caption = media.caption.clone().filter(|c| !c.is_empty());
    let mime = Some(media.mime_type.clone());
    let url = Some(uploaded.url.clone());
    let direct_path = Some(uploaded.direct_path.clone());
    let media_key = Some(uploaded.media_key.to_vec());
    let enc_sha = Some(uploaded.file_enc_sha256.to_vec());
    let sha = Some(uploaded.file_sha256.to_vec());
    let length = Some(uploaded.file_length);
    let key_ts = Some(uploaded.media_key_timestamp);
    // Each media message is its own protobuf type, all with the same fields for the upload.
    macro_rules! uploaded {
        ($ty:ident { $($field:ident: $value:expr),* $(,)? }) => {
            MessageField::some(wa::message::$ty {
                url,
                mimetype: mime,
                file_sha256: sha,
                file_length: length,
                media_key,
                file_enc_sha256: enc_sha,
                direct_path,
                media_key_timestamp: key_ts,
                context_info: ctx,
                $($field: $value,)*
                ..Default::default()
            })
        };
    }
    let mut message = wa::Message::default();
    match media.kind {
        MediaKind::Image => {
            message.image_message = uploaded!(ImageMessage { caption: caption });
        }
        MediaKind::Video => {
            message.video_message = uploaded!(VideoMessage { caption: caption });
        }
        MediaKind::Audio => {
            // Opus in OGG is what phones record: send it as a voice note.
            let ptt = media.mime_type.contains("ogg");
            message.audio_message = uploaded!(AudioMessage { ptt: Some(ptt) });
        }
        MediaKind::Document => {
            let name = media
                .filename
                .clone()
                .unwrap_or_else(|| "document".to_owned());
            message.document_message = uploaded!(DocumentMessage {
                title: Some(name.clone()),
                file_name: Some(name),
                caption: caption,
            });
        }
        MediaKind::Sticker => {
            message.sticker_message = uploaded!(StickerMessage {});
        }
    }
    Ok(message)
}

impl WhatsappEngine {
    /// The reply/mention context of a send, with the quoted message when we still hold it.
    pub(super) fn context(&self, options: &SendOptions, to: &Jid) -> Option<wa::ContextInfo> {
        if options.quoted_id.is_none() && options.mentioned_jids.is_empty() {
            return None;
        }
        let mut ctx = wa::ContextInfo {
            mentioned_jid: options
                .mentioned_jids
                .iter()
                .map(ToString::to_string)
                .collect(),
            ..Default::default()
        };
        if let Some(id) = &options.quoted_id {
            ctx.stanza_id = Some(id.clone());
            let st = self.lock();
            match st.quotes.get(id) {
                Some((_, author, quoted)) => {
                    ctx.participant = Some(author.to_string());
                    ctx.quoted_message = MessageField::from_box(quoted.prepare_for_quote());
                }
                None if !to.is_group() => ctx.participant = Some(to.to_string()),
                None => {}
            }
        }
        Some(ctx)
    }

    pub(super) fn text_message(&self, text: &str, options: &SendOptions, to: &Jid) -> wa::Message {
        match self.context(options, to) {
            None => wa::Message {
                conversation: Some(text.to_owned()),
                ..Default::default()
            },
            Some(ctx) => wa::Message {
                extended_text_message: MessageField::some(wa::message::ExtendedTextMessage {
                    text: Some(text.to_owned()),
                    context_info: MessageField::some(ctx),
                    ..Default::default()
                }),
                ..Default::default()
            },
        }
    }

    /// Paces (gaps, typing indicator, new-chat cap), sends, and reports `MessageSent` (with
    /// the send's `client_ref`) plus the `sent` receipt.
    pub(super) async fn paced_send(
        &self,
        client: &Arc<Client>,
        to: &Jid,
        message: wa::Message,
        options: &SendOptions,
        text_chars: usize,
        voice: bool,
    ) -> Result<SentMessage, EngineError> {
        let wa_to = target(to)?;
        let plan = self
            .pacer
            .admit(&to.to_string(), to.is_group(), text_chars, Instant::now())
            .map_err(EngineError::from)?;
        let queued = (!plan.total().is_zero()).then(crate::metrics::PacingQueued::enter);
        if !plan.wait.is_zero() {
            tokio::time::sleep(plan.wait).await;
        }
        if let Some(typing) = plan.typing {
            let chatstate = client.chatstate();
            let shown = if voice {
                chatstate.send_recording(&wa_to).await
            } else {
                chatstate.send_composing(&wa_to).await
            };
            if let Err(e) = shown {
                tracing::debug!(error = %e, "typing indicator not sent");
            }
            tokio::time::sleep(typing).await;
            let _ = chatstate.send_paused(&wa_to).await;
        }
        drop(queued);
        let sent = client
            .send_message(wa_to, message.clone())
            .await
            .map_err(send_error)?;
        let timestamp = Utc::now();
        let me = super::own_jid(client).unwrap_or_else(|| to.clone());
        let sent_message = map::sent_message(
            &message,
            &sent.message_id,
            to,
            &me,
            timestamp,
            options.client_ref.clone(),
        );
        if let Some(m) = sent_message {
            self.remember_quote(&m.id, to, &me, message);
            self.emit(EngineEvent::MessageSent(m)).await;
            self.emit(EngineEvent::Receipt {
                message_ids: vec![sent.message_id.clone()],
                chat: to.clone(),
                status: zapini_shared::status::MessageStatus::Sent,
                participant: None,
                timestamp,
            })
            .await;
        }
        Ok(SentMessage {
            message_id: sent.message_id,
            timestamp,
        })
    }
}

pub(super) async fn check_numbers(
    client: &Client,
    phones: &[PhoneNumber],
) -> Result<Vec<NumberCheck>, EngineError> {
    let jids: Vec<WaJid> = phones.iter().map(|p| WaJid::pn(p.as_str())).collect();
    let results = client
        .contacts()
        .is_on_whatsapp(&jids)
        .await
        .map_err(|e| match e {
            whatsapp_rust::features::ContactError::Iq(iq) => iq_error(&iq),
            other => EngineError::Invalid(other.to_string()),
        })?;
    Ok(phones
        .iter()
        .map(|phone| {
            let hit = results.iter().find(|r| {
                r.jid.user.as_str() == phone.as_str()
                    || r.pn_jid
                        .as_ref()
                        .is_some_and(|j| j.user.as_str() == phone.as_str())
            });
            NumberCheck {
                phone_number: phone.as_str().to_owned(),
                exists: hit.is_some_and(|r| r.is_registered),
                jid: hit
                    .filter(|r| r.is_registered)
                    .map(|_| Jid::from_phone(phone)),
            }
        })
        .collect())
}

fn group_info_of(m: &whatsapp_rust::features::GroupMetadata) -> Option<GroupInfo> {
    Some(GroupInfo {
        jid: map::jid(&m.id)?,
        subject: m.subject.clone(),
        description: m.description.clone(),
        owner: m
            .creator_pn
            .as_ref()
            .or(m.creator.as_ref())
            .and_then(map::jid),
        created_at: m
            .creation_time
            .and_then(|t| Utc.timestamp_opt(i64::try_from(t).ok()?, 0).single())
            .unwrap_or_else(Utc::now),
        participants: m
            .participants
            .iter()
            .filter_map(|p| {
                Some(GroupParticipant {
                    jid: p
                        .phone_number
                        .as_ref()
                        .and_then(map::jid)
                        .or_else(|| map::jid(&p.jid))?,
                    is_admin: p.is_admin(),
                    is_super_admin: p.is_super_admin(),
                })
            })
            .collect(),
    })
}

pub(super) async fn list_groups(client: &Client) -> Result<Vec<GroupInfo>, EngineError> {
    let groups = client
        .groups()
        .get_participating()
        .await
        .map_err(group_error)?;
    let mut list: Vec<GroupInfo> = groups.values().filter_map(group_info_of).collect();
    list.sort_by(|a, b| a.subject.cmp(&b.subject));
    Ok(list)
}

pub(super) async fn group_info(client: &Client, group: &Jid) -> Result<GroupInfo, EngineError> {
    let metadata = client
        .groups()
        .get_metadata(&target(group)?)
        .await
        .map_err(group_error)?;
    group_info_of(&metadata).ok_or_else(|| EngineError::NotFound(group.to_string()))
}

pub(super) async fn create_group(
    client: &Client,
    subject: &str,
    participants: &[Jid],
) -> Result<GroupInfo, EngineError> {
    let mut people = Vec::with_capacity(participants.len());
    for p in participants {
        people.push(GroupParticipantOptions::builder().jid(target(p)?).build());
    }
    let options = GroupCreateOptions::builder()
        .subject(subject)
        .participants(people)
        .build();
    let created = client
        .groups()
        .create_group(options)
        .await
        .map_err(group_error)?;
    group_info_of(&created.metadata)
        .ok_or_else(|| EngineError::Temporary("the new group has no usable JID".to_owned()))
}

pub(super) async fn set_group_subject(
    client: &Client,
    group: &Jid,
    subject: &str,
) -> Result<(), EngineError> {
    let subject = GroupSubject::new(subject).map_err(|e| EngineError::Invalid(e.to_string()))?;
    client
        .groups()
        .set_subject(target(group)?, subject)
        .await
        .map_err(group_error)
}

pub(super) async fn set_group_description(
    client: &Client,
    group: &Jid,
    description: &str,
) -> Result<(), EngineError> {
    let description = if description.is_empty() {
        None
    } else {
        Some(GroupDescription::new(description).map_err(|e| EngineError::Invalid(e.to_string()))?)
    };
    client
        .groups()
        .set_description(target(group)?, description, PreviousDescription::Resolve)
        .await
        .map_err(group_error)
}

pub(super) async fn update_participants(
    client: &Client,
    group: &Jid,
    action: ParticipantAction,
    participants: &[Jid],
) -> Result<Vec<ParticipantResult>, EngineError> {
    let wa_group = target(group)?;
    let people = participants
        .iter()
        .map(target)
        .collect::<Result<Vec<_>, _>>()?;
    let groups = client.groups();
    let results = match action {
        ParticipantAction::Add => groups.add_participants(wa_group, &people).await,
        ParticipantAction::Remove => groups.remove_participants(wa_group, &people).await,
        ParticipantAction::Promote => groups.promote_participants(wa_group, &people).await,
        ParticipantAction::Demote => groups.demote_participants(wa_group, &people).await,
    }
    .map_err(group_error)?;
    Ok(participants
        .iter()
        .map(|p| {
            let hit = results.iter().find(|r| {
                map::jid(&r.jid).as_ref() == Some(p)
                    || r.phone_number.as_ref().and_then(map::jid).as_ref() == Some(p)
            });
            match hit {
                Some(r) => ParticipantResult {
                    jid: p.clone(),
                    ok: r.is_ok(),
                    error: r.error.clone(),
                },
                // Not listed in the answer: the server accepted the request as a whole.
                None => ParticipantResult {
                    jid: p.clone(),
                    ok: true,
                    error: None,
                },
            }
        })
        .collect())
}

pub(super) async fn leave_group(client: &Client, group: &Jid) -> Result<(), EngineError> {
    client
        .groups()
        .leave(target(group)?)
        .await
        .map_err(group_error)
}

pub(super) async fn invite_link(
    client: &Client,
    group: &Jid,
    reset: bool,
) -> Result<String, EngineError> {
    let code = client
        .groups()
        .get_invite_link(target(group)?, reset)
        .await
        .map_err(group_error)?;
    Ok(if code.starts_with("https://") {
        code
    } else {
        format!("https://chat.whatsapp.com/{code}")
    })
}
