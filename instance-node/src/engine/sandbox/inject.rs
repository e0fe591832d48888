//! The sandbox's controls for traffic from others: inbound messages (with made-up media and a
//! made-up profile picture for a new sender), reactions, edits and deletions by their authors,
//! and groups someone else created with us in them.

use super::*;

impl SandboxEngine {
    /// Simulates a message arriving from someone else, emitting `MessageReceived`.
    pub async fn inject_message(&self, spec: InboundSpec) -> Result<WaMessage, EngineError> {
        let message = {
            let mut st = self.lock();
            st.connected_jid()?;
            if !(spec.from.is_user() || spec.from.is_lid()) {
                return Err(EngineError::Invalid(format!(
                    "sender {} must be a user or LID JID",
                    spec.from
                )));
            }
            let sender = spec.from.without_device();
            let chat = match &spec.group {
                Some(group) => {
                    let g = st.group(group)?;
                    if g.participant(&sender).is_none() {
                        return Err(EngineError::Invalid(format!(
                            "{sender} is not a participant of {group}"
                        )));
                    }
                    group.clone()
                }
                None => sender.clone(),
            };
            let kind = if let Some(media) = &spec.media {
                media.kind
            } else if spec.location.is_some() {
                MessageKind::Location
            } else if spec.contact.is_some() {
                MessageKind::Contact
            } else if spec.text.as_deref().is_some_and(|t| !t.is_empty()) {
                MessageKind::Text
            } else {
                return Err(EngineError::Invalid(
                    "an inbound message needs text, media, a location or a contact".to_owned(),
                ));
            };
            if let Some(m) = &spec.media {
                let given = m.data.as_ref().map_or(0, |d| d.len() as u64);
                if m.size.max(given) > media::MAX_INBOUND_SIZE {
                    return Err(EngineError::Invalid(format!(
                        "inbound media may be at most {} MB",
                        media::MAX_INBOUND_SIZE >> 20
                    )));
                }
            }
            let id = ids::their_message_id();
            let media_info = spec.media.map(|m| {
                let data = m.data.unwrap_or_else(|| {
                    let size = usize::try_from(m.size)
                        .ok()
                        .filter(|s| *s > 0)
                        .unwrap_or(media::DEFAULT_SIZE);
                    media::synthesize(&m.mime_type, size, &id)
                });
                let info = MediaInfo {
                    mime_type: m.mime_type,
                    caption: m.caption,
                    filename: m.filename,
                    size: data.len() as u64,
                    url: None,
                    sha256: None,
                    duration_secs: None,
                };
                self.media_lock().insert(&id, data);
                info
            });
            let message = WaMessage {
                id,
                chat: chat.clone(),
                sender: sender.clone(),
                sender_pn: None,
                from_me: false,
                push_name: spec.push_name,
                kind,
                text: spec.text,
                quoted_id: spec.quoted_id,
                media: media_info,
                location: spec.location,
                contact: spec.contact,
                mentioned_jids: spec.mentioned_jids,
                timestamp: Utc::now(),
                client_ref: None,
            };
            st.inbound.insert(
                message.id.clone(),
                InboundRecord {
                    chat,
                    sender,
                    revoked: false,
                },
            );
            st.touch();
            message
        };
        let mut events = vec![EngineEvent::MessageReceived(message.clone())];
        // As the real engine fetches a new contact's picture, the sandbox makes one up.
        let first_from_sender = {
            let mut st = self.lock();
            if st.pictured.len() >= SENT_KEPT {
                st.pictured.clear();
            }
            st.pictured.insert(message.sender.clone())
        };
        if first_from_sender {
            events.push(EngineEvent::ContactUpdate {
                jid: message.sender.clone(),
                push_name: None,
                profile_picture: Some(Some(ids::profile_picture_url(&message.sender))),
            });
        }
        self.emit(events).await;
        Ok(message)
    }

    /// Simulates someone reacting to a message (ours or theirs) in `chat`.
    pub async fn inject_reaction(
        &self,
        from: &Jid,
        chat: &Jid,
        message_id: &str,
        emoji: &str,
    ) -> Result<(), EngineError> {
        let event = {
            let mut st = self.lock();
            st.connected_jid()?;
            let known = st.sent.get(message_id).map(|r| &r.chat) == Some(chat)
                || st.inbound.get(message_id).map(|r| &r.chat) == Some(chat);
            if !known {
                return Err(EngineError::NotFound(format!("message {message_id}")));
            }
            st.touch();
            EngineEvent::Reaction {
                message_id: message_id.to_owned(),
                chat: chat.clone(),
                sender: from.without_device(),
                emoji: emoji.to_owned(),
                from_me: false,
                timestamp: Utc::now(),
            }
        };
        self.emit(vec![event]).await;
        Ok(())
    }

    /// Finds an injected message that `from` may edit or revoke.
    pub(super) fn their_message<'a>(
        st: &'a mut State,
        from: &Jid,
        chat: &Jid,
        message_id: &str,
    ) -> Result<&'a mut InboundRecord, EngineError> {
        let from = from.without_device();
        match st.inbound.get_mut(message_id) {
            Some(r) if &r.chat == chat && r.sender == from && !r.revoked => Ok(r),
            _ => Err(EngineError::NotFound(format!("message {message_id}"))),
        }
    }

    /// Simulates the author editing one of their injected messages.
    pub async fn inject_edit(
        &self,
        from: &Jid,
        chat: &Jid,
        message_id: &str,
        new_text: &str,
    ) -> Result<(), EngineError> {
        if new_text.is_empty() {
            return Err(EngineError::Invalid("the new text is empty".to_owned()));
        }
        {
            let mut st = self.lock();
            st.connected_jid()?;
            Self::their_message(&mut st, from, chat, message_id)?;
            st.touch();
        }
        self.emit(vec![EngineEvent::MessageEdited {
            message_id: message_id.to_owned(),
            chat: chat.clone(),
            new_text: new_text.to_owned(),
            from_me: false,
        }])
        .await;
        Ok(())
    }

    /// Simulates the author deleting one of their injected messages for everyone.
    pub async fn inject_revoke(
        &self,
        from: &Jid,
        chat: &Jid,
        message_id: &str,
    ) -> Result<(), EngineError> {
        {
            let mut st = self.lock();
            st.connected_jid()?;
            Self::their_message(&mut st, from, chat, message_id)?.revoked = true;
            st.touch();
        }
        self.emit(vec![EngineEvent::MessageRevoked {
            message_id: message_id.to_owned(),
            chat: chat.clone(),
            from_me: false,
        }])
        .await;
        Ok(())
    }

    /// Creates a group someone else made and added us to, e.g. one where we are not admin.
    /// The first participant is its creator unless we are admin (then we are).
    pub async fn inject_group(
        &self,
        subject: &str,
        participants: &[Jid],
        we_are_admin: bool,
    ) -> Result<GroupInfo, EngineError> {
        let (info, event) = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            let others = user_participants(participants, &me)?;
            check_subject(subject)?;
            let owner = if we_are_admin {
                me.clone()
            } else {
                others.first().cloned().ok_or_else(|| {
                    EngineError::Invalid("a group we do not own needs an owner".to_owned())
                })?
            };
            let mut members = vec![GroupParticipant {
                jid: me.clone(),
                is_admin: we_are_admin,
                is_super_admin: we_are_admin,
            }];
            members.extend(others.iter().map(|jid| GroupParticipant {
                jid: jid.clone(),
                is_admin: jid == &owner,
                is_super_admin: jid == &owner,
            }));
            let info = self.insert_group(&mut st, subject, owner.clone(), members);
            let event = EngineEvent::GroupUpdate {
                group: info.jid.clone(),
                action: "add".to_owned(),
                participants: vec![me],
                subject: Some(subject.to_owned()),
                actor: Some(owner),
            };
            (info, event)
        };
        self.emit(vec![event]).await;
        Ok(info)
    }

    pub(super) fn insert_group(
        &self,
        st: &mut State,
        subject: &str,
        owner: Jid,
        participants: Vec<GroupParticipant>,
    ) -> GroupInfo {
        let mut jid = ids::group_jid();
        while st.groups.contains_key(&jid) {
            jid = ids::group_jid();
        }
        let info = GroupInfo {
            jid: jid.clone(),
            subject: subject.to_owned(),
            description: None,
            owner: Some(owner),
            created_at: Utc::now(),
            participants,
        };
        st.groups.insert(
            jid,
            Group {
                info: info.clone(),
                invite_code: ids::invite_code(),
            },
        );
        st.touch();
        info
    }
}
