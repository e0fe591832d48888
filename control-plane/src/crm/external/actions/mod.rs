//! Running an External Function's action through the existing services, acting as its
//! instance: sends through the instance's node (daily limit, automation guard, pacing,
//! history and webhooks as any send), contacts through the contacts service, pause and
//! resume through the inbox's rules, leads through the Kanban service (`leads`).

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Map, Value, json};
use zapini_shared::error::{ErrorBody, ErrorCode};
use zapini_shared::jid::Jid;
use zapini_shared::phone::PhoneNumber;

use super::model::{ActionType, Config, MAX_BUTTONS};
use super::service::{account_caller, acting_caller};
use super::template::{field_text, render};
use crate::db::entities::{contact, conversation, external_function, instance};
use crate::domain::{InstanceId, TenantId};
use crate::error::{AppError, AppResult};
use crate::service::Services;
use crate::service::contacts::ContactFields;
use crate::service::sending::Outgoing;

mod leads;

use leads::lead_call;

/// The longest text a send may carry.
const MAX_TEXT: usize = 65_536;

/// A text field of the call's body (`None` when absent or null).
fn optional_text(fields: &Map<String, Value>, name: &str) -> AppResult<Option<String>> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => Ok(Some(field_text(fields, name)?)),
    }
}

/// The `phone` field of the call's body.
fn phone_of(fields: &Map<String, Value>) -> AppResult<String> {
    match fields.get("phone") {
        None | Some(Value::Null) => Err(AppError::validation(
            "phone",
            "The phone field is required: the recipient's number with country code.",
        )),
        Some(_) => Ok(field_text(fields, "phone")?.trim().to_owned()),
    }
}

/// A configured template rendered, else the body's field of the same name.
fn templated(
    fields: &Map<String, Value>,
    template: Option<&str>,
    name: &str,
) -> AppResult<Option<String>> {
    let v = match template {
        Some(t) => Some(render(t, fields, false)?),
        None => optional_text(fields, name)?,
    };
    Ok(v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()))
}

fn bounded(field: &str, v: Option<String>, max: usize) -> AppResult<Option<String>> {
    if v.as_ref().is_some_and(|s| s.chars().count() > max) {
        return Err(AppError::validation(
            field,
            format!("The {field} may not be greater than {max} characters."),
        ));
    }
    Ok(v)
}

fn valid_email(e: &str) -> bool {
    e.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
    }) && !e.contains(char::is_whitespace)
}

/// The contact fields of a `create_contact` or `update_contact` call.
fn contact_fields(config: &Config, fields: &Map<String, Value>) -> AppResult<ContactFields> {
    let email = bounded(
        "email",
        templated(fields, config.email.as_deref(), "email")?,
        255,
    )?;
    if let Some(e) = &email
        && !valid_email(e)
    {
        return Err(AppError::validation(
            "email",
            "The email must be a valid email address.",
        ));
    }
    let some = |v: Option<String>| v.map(Some);
    Ok(ContactFields {
        name: some(bounded(
            "name",
            templated(fields, config.name.as_deref(), "name")?,
            255,
        )?),
        email: some(email),
        company: some(bounded(
            "company",
            templated(fields, config.company.as_deref(), "company")?,
            255,
        )?),
        notes: some(bounded(
            "notes",
            templated(fields, config.notes.as_deref(), "notes")?,
            10_000,
        )?),
    })
}

/// The text of `send_buttons`: the message, then the options numbered `1.`, `2.`, … one per
/// line, then the footer. WhatsApp does not deliver interactive buttons sent by unofficial
/// clients, so the options travel as a menu the contact answers with a number.
pub fn button_menu(message: &str, buttons: &[String], footer: Option<&str>) -> String {
    let mut out = message.trim_end().to_owned();
    out.push_str("\n\n");
    let lines: Vec<String> = buttons
        .iter()
        .take(MAX_BUTTONS)
        .enumerate()
        .map(|(i, b)| format!("{}. {}", i + 1, b.trim()))
        .collect();
    out.push_str(&lines.join("\n"));
    if let Some(f) = footer.map(str::trim).filter(|f| !f.is_empty()) {
        out.push_str("\n\n");
        out.push_str(f);
    }
    out
}

fn text_to_send(text: String) -> AppResult<String> {
    if text.trim().is_empty() {
        return Err(AppError::validation(
            "message_template",
            "The message is empty once the template is filled: send non-empty values.",
        ));
    }
    if text.chars().count() > MAX_TEXT {
        return Err(AppError::validation(
            "message_template",
            format!("The message may not be greater than {MAX_TEXT} characters once filled."),
        ));
    }
    Ok(text)
}

impl Services {
    /// Runs `action` of `f` with the call body's `fields`; answers what it produced.
    pub(super) async fn run_external_action(
        &self,
        f: &external_function::Model,
        action: ActionType,
        config: &Config,
        fields: &Map<String, Value>,
    ) -> AppResult<Value> {
        let inst = instance::Entity::find_by_id(f.instance_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| AppError::not_found(ErrorCode::InstanceNotFound, "Instance"))?;
        let acting = acting_caller(f, inst.uuid);
        let actor = format!("External function {}", f.name);
        match action {
            ActionType::SendMessage | ActionType::SendButtons => {
                let phone = phone_of(fields)?;
                let message = render(
                    config.message_template.as_deref().unwrap_or_default(),
                    fields,
                    false,
                )?;
                let text = if action == ActionType::SendButtons {
                    let mut labels = Vec::new();
                    let mut error: Option<ErrorBody> = None;
                    for b in config.buttons.iter().flatten() {
                        match render(b, fields, false) {
                            Ok(l) => labels.push(l),
                            Err(e) => error = Some(error.map_or(e.clone(), |prev| merge(prev, e))),
                        }
                    }
                    let footer = config
                        .footer
                        .as_deref()
                        .map(|t| render(t, fields, false))
                        .transpose()?;
                    if let Some(e) = error {
                        return Err(AppError::Client(e));
                    }
                    button_menu(&message, &labels, footer.as_deref())
                } else {
                    message
                };
                let sent = self
                    .send_through_node(
                        &inst,
                        &phone,
                        Outgoing::Text {
                            text: text_to_send(text)?,
                        },
                        None,
                    )
                    .await?;
                Ok(json!(sent))
            }
            ActionType::SendMedia => {
                let phone = phone_of(fields)?;
                let caption = config
                    .caption
                    .as_deref()
                    .map(|t| render(t, fields, false))
                    .transpose()?
                    .unwrap_or_default();
                let filename = config
                    .filename
                    .as_deref()
                    .map(|t| render(t, fields, false))
                    .transpose()?
                    .unwrap_or_default();
                let (url, library, media_type) = match (&config.media_url, &config.media_id) {
                    (Some(u), _) => (
                        render(u, fields, true)?,
                        None,
                        config
                            .media_type
                            .clone()
                            .unwrap_or_else(|| "document".into()),
                    ),
                    (None, Some(id)) => {
                        // A file of the account's library (checked when saved against the
                        // manager's scope).
                        let file = self.media_for_send(&account_caller(f), id).await?;
                        let kind = file.kind.clone();
                        (String::new(), Some(Box::new(file)), kind)
                    }
                    (None, None) => {
                        return Err(AppError::internal("send_media without a source"));
                    }
                };
                // A URL is fetched by the node through its SSRF-guarded client, as any
                // `media_url` send.
                let sent = self
                    .send_through_node(
                        &inst,
                        &phone,
                        Outgoing::Media {
                            media_type,
                            url,
                            caption,
                            filename,
                            library,
                        },
                        None,
                    )
                    .await?;
                Ok(json!(sent))
            }
            ActionType::CreateContact => {
                let phone = PhoneNumber::parse_field("phone", &phone_of(fields)?)?;
                let contact_fields = contact_fields(config, fields)?;
                let c = self
                    .create_contact(&acting, &inst.uuid.to_string(), phone, contact_fields)
                    .await?;
                Ok(json!(c))
            }
            ActionType::UpdateContact => {
                let phone = PhoneNumber::parse_field("phone", &phone_of(fields)?)?;
                let contact_fields = contact_fields(config, fields)?;
                let found = contact::Entity::find()
                    .filter(contact::Column::InstanceId.eq(inst.id))
                    .filter(contact::Column::Jid.eq(phone.to_jid().to_string()))
                    .one(&self.db)
                    .await?
                    .ok_or_else(|| {
                        AppError::Client(
                            ErrorBody::new(
                                ErrorCode::NotFound,
                                format!(
                                    "No contact with phone {} on the function's instance.",
                                    phone.as_str()
                                ),
                            )
                            .with_details(json!({"phone": phone.as_str()})),
                        )
                    })?;
                let c = self
                    .update_contact(&acting, &found.uuid.to_string(), contact_fields)
                    .await?;
                Ok(json!(c))
            }
            ActionType::PauseAutomation | ActionType::ResumeAutomation => {
                let phone = phone_of(fields)?;
                let jid = Jid::parse_recipient(&phone)
                    .map_err(|e| AppError::Client(e.into_error_body("phone")))?
                    .without_device()
                    .to_string();
                let conv = conversation::Entity::find()
                    .filter(conversation::Column::InstanceId.eq(inst.id))
                    .filter(conversation::Column::ChatJid.eq(jid))
                    .one(&self.db)
                    .await?
                    .ok_or_else(|| {
                        AppError::Client(
                            ErrorBody::new(
                                ErrorCode::NotFound,
                                format!("No conversation with {phone} on the function's instance."),
                            )
                            .with_details(json!({"phone": phone})),
                        )
                    })?;
                let view = if action == ActionType::PauseAutomation {
                    let reason = config
                        .reason
                        .as_deref()
                        .map(|t| render(t, fields, false))
                        .transpose()?;
                    self.pause_conversation_as(&conv, &actor, reason.as_deref())
                        .await?
                } else {
                    self.resume_conversation(&conv).await?
                };
                Ok(json!(view))
            }
            ActionType::CreateLead | ActionType::UpdateLead => {
                let call = lead_call(action, config, fields, InstanceId(inst.id), actor)?;
                self.require_kanban(TenantId(f.tenant_id)).await?;
                if action == ActionType::CreateLead {
                    self.external_create_lead(TenantId(f.tenant_id), call).await
                } else {
                    self.external_update_lead(TenantId(f.tenant_id), call).await
                }
            }
        }
    }
}

fn merge(prev: ErrorBody, next: ErrorBody) -> ErrorBody {
    let mut out = prev;
    if let Value::Object(map) = next.details {
        for (field, messages) in map {
            for m in messages.as_array().into_iter().flatten() {
                out = out.with_field_error(&field, m.as_str().unwrap_or_default());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_become_a_numbered_menu() {
        assert_eq!(
            button_menu(
                "Your order shipped. ",
                &["Track".into(), " Talk to us ".into()],
                Some("Reply with a number")
            ),
            "Your order shipped.\n\n1. Track\n2. Talk to us\n\nReply with a number"
        );
        assert_eq!(button_menu("Pick", &["A".into()], None), "Pick\n\n1. A");
    }
}
