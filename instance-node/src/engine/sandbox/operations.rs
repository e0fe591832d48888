//! The [`Engine`] trait on the sandbox: sends, reactions, edits, deletions, read marks,
//! number checks, groups and the connection controls, all against the in-memory network.

use super::*;

/// Validates group participants: user JIDs only, without devices, deduplicated, not us.
pub(super) fn user_participants(participants: &[Jid], me: &Jid) -> Result<Vec<Jid>, EngineError> {
    let mut out: Vec<Jid> = Vec::new();
    for jid in participants {
        if !jid.is_user() {
            return Err(EngineError::Invalid(format!(
                "participant {jid} is not a user JID"
            )));
        }
        let jid = jid.without_device();
        if &jid != me && !out.contains(&jid) {
            out.push(jid);
        }
    }
    Ok(out)
}

pub(super) fn check_subject(subject: &str) -> Result<(), EngineError> {
    let len = subject.trim().chars().count();
    if len == 0 {
        return Err(EngineError::Invalid(
            "the group subject is empty".to_owned(),
        ));
    }
    if subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(EngineError::Invalid(format!(
            "the group subject is longer than {MAX_SUBJECT_CHARS} characters"
        )));
    }
    Ok(())
}

fn outgoing_kind(media: &OutgoingMedia) -> MessageKind {
    match media.kind {
        MediaKind::Image => MessageKind::Image,
        MediaKind::Video => MessageKind::Video,
        // WhatsApp voice notes are Opus in Ogg; other audio is a plain audio file.
        MediaKind::Audio if media.mime_type.contains("opus") => MessageKind::Voice,
        MediaKind::Audio => MessageKind::Audio,
        MediaKind::Document => MessageKind::Document,
        MediaKind::Sticker => MessageKind::Sticker,
    }
}

/// One of our sends as the network records it (without text or media, which the caller adds):
/// from us in `chat`, quoting and mentioning what the send's options say.
fn own_message(
    st: &State,
    id: String,
    chat: Jid,
    me: Jid,
    kind: MessageKind,
    options: &SendOptions,
) -> WaMessage {
    WaMessage {
        id,
        chat,
        sender: me,
        sender_pn: None,
        from_me: true,
        push_name: st.session.as_ref().map(|s| s.push_name.clone()),
        kind,
        text: None,
        quoted_id: options.quoted_id.clone(),
        media: None,
        location: None,
        contact: None,
        mentioned_jids: options.mentioned_jids.clone(),
        timestamp: Utc::now(),
        client_ref: options.client_ref.clone(),
    }
}

fn group_event(group: &Jid, action: &str, participants: Vec<Jid>, me: &Jid) -> EngineEvent {
    EngineEvent::GroupUpdate {
        group: group.clone(),
        action: action.to_owned(),
        participants,
        subject: None,
        actor: Some(me.clone()),
    }
}

#[async_trait]
impl Engine for SandboxEngine {
    fn pacing(&self) -> Option<PacingReport> {
        self.pacer
            .as_ref()
            .map(|p| p.report(std::time::Instant::now()))
    }

    fn kind(&self) -> EngineKind {
        EngineKind::Sandbox
    }

    async fn start(&self) -> Result<(), EngineError> {
        self.connect("restored").await
    }

    async fn state(&self) -> ConnectionState {
        self.lock().conn.clone()
    }

    async fn current_qr(&self) -> Option<QrCode> {
        self.lock().qr.clone()
    }

    async fn request_pair_code(&self, phone: &PhoneNumber) -> Result<String, EngineError> {
        let (code, event) = {
            let mut st = self.lock();
            let waiting = st.conn.status == InstanceStatus::QrReady
                || (st.conn.status == InstanceStatus::Pending && st.pair_code.is_some());
            if !waiting {
                return Err(EngineError::Invalid(
                    "a pair code needs a pairing in progress: call start() first".to_owned(),
                ));
            }
            // Asking for a code replaces the QR, as on WhatsApp's "link with phone number".
            st.end_pairing();
            let code = ids::pair_code();
            st.pair_code = Some((code.clone(), phone.clone()));
            (code, st.set_status(InstanceStatus::Pending, "pair_code"))
        };
        self.emit(vec![event]).await;
        Ok(code)
    }

    async fn send_text(
        &self,
        to: &Jid,
        text: &str,
        options: &SendOptions,
    ) -> Result<SentMessage, EngineError> {
        self.pace(to, text.chars().count()).await?;
        let message = {
            let st = self.lock();
            let me = st.connected_jid()?;
            let chat = st.check_chat(to, &me)?;
            self.check_exists(&chat)?;
            if text.trim().is_empty() {
                return Err(EngineError::Invalid("the text is empty".to_owned()));
            }
            let id = ids::own_message_id();
            WaMessage {
                text: Some(text.to_owned()),
                ..own_message(&st, id, chat, me, MessageKind::Text, options)
            }
        };
        Ok(self.record_send(message).await)
    }

    async fn send_media(
        &self,
        to: &Jid,
        media: &OutgoingMedia,
        options: &SendOptions,
    ) -> Result<SentMessage, EngineError> {
        let caption_chars = media.caption.as_deref().map_or(0, |c| c.chars().count());
        self.pace(to, caption_chars).await?;
        let message = {
            let st = self.lock();
            let me = st.connected_jid()?;
            let chat = st.check_chat(to, &me)?;
            self.check_exists(&chat)?;
            if media.data.is_empty() {
                return Err(EngineError::Invalid("the media is empty".to_owned()));
            }
            if media.mime_type.trim().is_empty() {
                return Err(EngineError::Invalid(
                    "the media has no MIME type".to_owned(),
                ));
            }
            let id = ids::own_message_id();
            self.media_lock().insert(&id, media.data.clone());
            WaMessage {
                media: Some(MediaInfo {
                    mime_type: media.mime_type.clone(),
                    caption: media.caption.clone(),
                    filename: media.filename.clone(),
                    size: media.data.len() as u64,
                    url: None,
                    sha256: None,
                    duration_secs: None,
                }),
                ..own_message(&st, id, chat, me, outgoing_kind(media), options)
            }
        };
        Ok(self.record_send(message).await)
    }

    async fn react(
        &self,
        chat: &Jid,
        message_id: &str,
        from_me: bool,
        emoji: &str,
    ) -> Result<SentMessage, EngineError> {
        let (sent, event) = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            let chat = st.check_chat(chat, &me)?;
            if message_id.is_empty() {
                return Err(EngineError::Invalid("the message id is empty".to_owned()));
            }
            // Like WhatsApp, the target is not verified: reactions to unknown ids are accepted.
            let _ = from_me;
            st.touch();
            let sent = SentMessage {
                message_id: ids::own_message_id(),
                timestamp: Utc::now(),
            };
            let event = EngineEvent::Reaction {
                message_id: message_id.to_owned(),
                chat,
                sender: me,
                emoji: emoji.to_owned(),
                from_me: true,
                timestamp: sent.timestamp,
            };
            (sent, event)
        };
        self.emit(vec![event]).await;
        Ok(sent)
    }

    async fn edit(
        &self,
        chat: &Jid,
        message_id: &str,
        text: &str,
    ) -> Result<SentMessage, EngineError> {
        let (sent, event) = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            let chat = st.check_chat(chat, &me)?;
            if text.trim().is_empty() {
                return Err(EngineError::Invalid("the new text is empty".to_owned()));
            }
            Self::own_message(&mut st, &chat, message_id)?;
            st.touch();
            let sent = SentMessage {
                message_id: ids::own_message_id(),
                timestamp: Utc::now(),
            };
            let event = EngineEvent::MessageEdited {
                message_id: message_id.to_owned(),
                chat,
                new_text: text.to_owned(),
                from_me: true,
            };
            (sent, event)
        };
        self.emit(vec![event]).await;
        Ok(sent)
    }

    async fn revoke(&self, chat: &Jid, message_id: &str) -> Result<SentMessage, EngineError> {
        let (sent, event) = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            let chat = st.check_chat(chat, &me)?;
            Self::own_message(&mut st, &chat, message_id)?.revoked = true;
            st.touch();
            let sent = SentMessage {
                message_id: ids::own_message_id(),
                timestamp: Utc::now(),
            };
            let event = EngineEvent::MessageRevoked {
                message_id: message_id.to_owned(),
                chat,
                from_me: true,
            };
            (sent, event)
        };
        self.emit(vec![event]).await;
        Ok(sent)
    }

    async fn mark_read(
        &self,
        chat: &Jid,
        _sender: Option<&Jid>,
        message_ids: &[String],
    ) -> Result<(), EngineError> {
        let mut st = self.lock();
        let me = st.connected_jid()?;
        st.check_chat(chat, &me)?;
        st.read_marks.extend(message_ids.iter().cloned());
        st.touch();
        Ok(())
    }

    async fn set_presence(&self, chat: &Jid, presence: ChatPresence) -> Result<(), EngineError> {
        let mut st = self.lock();
        let me = st.connected_jid()?;
        let chat = st.check_chat(chat, &me)?;
        if st.presence.len() >= PRESENCE_KEPT {
            st.presence.pop_front();
        }
        st.presence.push_back(PresenceRecord {
            chat,
            presence,
            at: Utc::now(),
        });
        st.touch();
        Ok(())
    }

    async fn check_numbers(&self, phones: &[PhoneNumber]) -> Result<Vec<NumberCheck>, EngineError> {
        let mut st = self.lock();
        st.connected_jid()?;
        st.touch();
        Ok(phones
            .iter()
            .map(|phone| {
                let exists = self.config.known_numbers.exists(phone);
                NumberCheck {
                    phone_number: phone.as_str().to_owned(),
                    exists,
                    jid: exists.then(|| Jid::from_phone(phone)),
                }
            })
            .collect())
    }

    async fn list_groups(&self) -> Result<Vec<GroupInfo>, EngineError> {
        let mut st = self.lock();
        st.connected_jid()?;
        st.touch();
        Ok(st.groups.values().map(|g| g.info.clone()).collect())
    }

    async fn create_group(
        &self,
        subject: &str,
        participants: &[Jid],
    ) -> Result<GroupInfo, EngineError> {
        let (info, event) = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            check_subject(subject)?;
            let others = user_participants(participants, &me)?;
            if others.is_empty() {
                return Err(EngineError::Invalid(
                    "a group needs at least one other participant".to_owned(),
                ));
            }
            let mut members = vec![GroupParticipant {
                jid: me.clone(),
                is_admin: true,
                is_super_admin: true,
            }];
            members.extend(others.iter().map(|jid| GroupParticipant {
                jid: jid.clone(),
                is_admin: false,
                is_super_admin: false,
            }));
            let info = self.insert_group(&mut st, subject, me.clone(), members);
            let event = EngineEvent::GroupUpdate {
                group: info.jid.clone(),
                action: "create".to_owned(),
                participants: others,
                subject: Some(subject.to_owned()),
                actor: Some(me),
            };
            (info, event)
        };
        self.emit(vec![event]).await;
        Ok(info)
    }

    async fn group_info(&self, group: &Jid) -> Result<GroupInfo, EngineError> {
        let mut st = self.lock();
        st.connected_jid()?;
        let info = st.group(group)?.info.clone();
        st.touch();
        Ok(info)
    }

    async fn set_group_subject(&self, group: &Jid, subject: &str) -> Result<(), EngineError> {
        let event = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            check_subject(subject)?;
            st.group_mut(group)?.info.subject = subject.to_owned();
            st.touch();
            EngineEvent::GroupUpdate {
                group: group.clone(),
                action: "subject".to_owned(),
                participants: Vec::new(),
                subject: Some(subject.to_owned()),
                actor: Some(me),
            }
        };
        self.emit(vec![event]).await;
        Ok(())
    }

    async fn set_group_description(
        &self,
        group: &Jid,
        description: &str,
    ) -> Result<(), EngineError> {
        let event = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            if description.chars().count() > MAX_DESCRIPTION_CHARS {
                return Err(EngineError::Invalid(format!(
                    "the group description is longer than {MAX_DESCRIPTION_CHARS} characters"
                )));
            }
            // An empty description clears it, as on WhatsApp.
            st.group_mut(group)?.info.description =
                (!description.is_empty()).then(|| description.to_owned());
            st.touch();
            group_event(group, "description", Vec::new(), &me)
        };
        self.emit(vec![event]).await;
        Ok(())
    }

    async fn update_participants(
        &self,
        group: &Jid,
        action: ParticipantAction,
        participants: &[Jid],
    ) -> Result<Vec<ParticipantResult>, EngineError> {
        let (results, event) = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            let g = st.group_mut(group)?;
            // WhatsApp's default group settings: only admins change membership and roles.
            if !g.is_admin(&me) {
                return Err(EngineError::NotAllowed(format!(
                    "we are not an admin of {group}"
                )));
            }
            let mut results = Vec::new();
            let mut changed = Vec::new();
            for jid in participants {
                let jid = jid.without_device();
                let outcome = apply_participant(g, action, &jid, &me);
                if outcome.is_ok() {
                    changed.push(jid.clone());
                }
                results.push(ParticipantResult {
                    jid,
                    ok: outcome.is_ok(),
                    error: outcome.err().map(str::to_owned),
                });
            }
            st.touch();
            let event = (!changed.is_empty()).then(|| {
                let name = match action {
                    ParticipantAction::Add => "add",
                    ParticipantAction::Remove => "remove",
                    ParticipantAction::Promote => "promote",
                    ParticipantAction::Demote => "demote",
                };
                group_event(group, name, changed, &me)
            });
            (results, event)
        };
        self.emit(event.into_iter().collect()).await;
        Ok(results)
    }

    async fn leave_group(&self, group: &Jid) -> Result<(), EngineError> {
        let event = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            st.group(group)?;
            // Once we leave, the group is gone from our point of view.
            st.groups.remove(group);
            st.touch();
            group_event(group, "leave", vec![me.clone()], &me)
        };
        self.emit(vec![event]).await;
        Ok(())
    }

    async fn invite_link(&self, group: &Jid, reset: bool) -> Result<String, EngineError> {
        let (link, event) = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            let g = st.group_mut(group)?;
            if !g.is_admin(&me) {
                return Err(EngineError::NotAllowed(format!(
                    "only admins can see the invite link of {group}"
                )));
            }
            if reset {
                g.invite_code = ids::invite_code();
            }
            let link = ids::invite_link(&g.invite_code);
            st.touch();
            let event = reset.then(|| group_event(group, "invite_reset", Vec::new(), &me));
            (link, event)
        };
        self.emit(event.into_iter().collect()).await;
        Ok(link)
    }

    async fn download_media(
        &self,
        _chat: &Jid,
        message_id: &str,
        _media: &MediaInfo,
    ) -> Result<bytes::Bytes, EngineError> {
        self.lock().connected_jid()?;
        self.media_lock()
            .get(message_id)
            .ok_or_else(|| EngineError::NotFound(format!("media of message {message_id}")))
    }

    async fn disconnect(&self) -> Result<(), EngineError> {
        let event = {
            let mut st = self.lock();
            st.end_pairing();
            st.set_status(InstanceStatus::Disconnected, "requested")
        };
        self.emit(vec![event]).await;
        Ok(())
    }

    async fn reconnect(&self) -> Result<(), EngineError> {
        self.connect("reconnected").await
    }

    async fn logout(&self) -> Result<(), EngineError> {
        let event = {
            let mut st = self.lock();
            self.clear_session(&mut st)
        };
        self.emit(vec![event]).await;
        Ok(())
    }
}

/// Applies one participant change; the error is the per-participant reason.
fn apply_participant(
    g: &mut Group,
    action: ParticipantAction,
    jid: &Jid,
    me: &Jid,
) -> Result<(), &'static str> {
    let members = &mut g.info.participants;
    let index = members.iter().position(|p| &p.jid == jid);
    match (action, index) {
        (ParticipantAction::Add, Some(_)) => Err("already a participant"),
        (ParticipantAction::Add, None) if !jid.is_user() => Err("not a user JID"),
        (ParticipantAction::Add, None) => {
            members.push(GroupParticipant {
                jid: jid.clone(),
                is_admin: false,
                is_super_admin: false,
            });
            Ok(())
        }
        (_, None) => Err("not a participant"),
        (ParticipantAction::Remove, Some(_)) if jid == me => Err("use leave_group to leave"),
        (ParticipantAction::Remove, Some(i)) if members[i].is_super_admin => {
            Err("the group creator cannot be removed")
        }
        (ParticipantAction::Remove, Some(i)) => {
            members.remove(i);
            Ok(())
        }
        (ParticipantAction::Promote, Some(i)) => {
            members[i].is_admin = true;
            Ok(())
        }
        (ParticipantAction::Demote, Some(i)) if members[i].is_super_admin => {
            Err("the group creator cannot be demoted")
        }
        (ParticipantAction::Demote, Some(i)) => {
            members[i].is_admin = false;
            Ok(())
        }
    }
}
