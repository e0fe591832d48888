//! Contacts of a tenant's instances: list/search, create (phone normalized, one contact per
//! instance and number), read, update, delete; bulk import and export (JSON or CSV) in
//! [`bulk`].

mod bulk;

pub use bulk::{ImportError, ImportItem, ImportOutcome, ImportRow, MAX_IMPORT_ROWS, contacts_csv};

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;
use uuid::Uuid;
use zapini_shared::error::{ErrorBody, ErrorCode};
use zapini_shared::phone::PhoneNumber;
use zapini_shared::time::format_secs;

use super::Services;
use crate::db::TenantScoped;
use crate::db::entities::{contact, conversation};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::live::Topic;

/// A contact, as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContactView {
    pub id: i64,
    pub uuid: Uuid,
    /// The instance's UUID.
    pub instance_id: Uuid,
    pub jid: String,
    /// Digits, country code first.
    pub phone_number: Option<String>,
    /// The saved name.
    pub name: Option<String>,
    /// The name to show: the saved name, else the push name, else the number.
    pub display_name: Option<String>,
    /// The name the contact gave itself on WhatsApp.
    pub push_name: Option<String>,
    pub email: Option<String>,
    pub company: Option<String>,
    pub notes: Option<String>,
    pub profile_picture_url: Option<String>,
    pub is_business: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// Editable fields, already validated (`Some(None)` clears a field).
#[derive(Debug, Default, Clone)]
pub struct ContactFields {
    pub name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub company: Option<Option<String>>,
    pub notes: Option<Option<String>>,
}

pub struct ContactFilter {
    pub instance: Option<String>,
    pub search: Option<String>,
    pub page: u64,
    pub per_page: u64,
}

/// A contact's editable fields as a client gave them (`None`: absent, `Some(None)`: null),
/// before [`ContactFieldsInput::parse`].
#[derive(Debug, Default, Clone)]
pub struct ContactFieldsInput {
    pub name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub company: Option<Option<String>>,
    pub notes: Option<Option<String>>,
}

fn text(field: &str, v: Option<Option<String>>, max: usize) -> AppResult<Option<Option<String>>> {
    let Some(v) = v else { return Ok(None) };
    let v = v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if v.as_ref().is_some_and(|s| s.chars().count() > max) {
        return Err(AppError::validation(
            field,
            format!("The {field} may not be greater than {max} characters."),
        ));
    }
    Ok(Some(v))
}

impl ContactFieldsInput {
    /// Trims the fields (blank is null), bounds their length and checks the email.
    pub fn parse(self) -> AppResult<ContactFields> {
        let email = text("email", self.email, 255)?;
        if let Some(Some(e)) = &email {
            let ok = e.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }) && !e.contains(char::is_whitespace);
            if !ok {
                return Err(AppError::validation(
                    "email",
                    "The email must be a valid email address.",
                ));
            }
        }
        Ok(ContactFields {
            name: text("name", self.name, 255)?,
            email,
            company: text("company", self.company, 255)?,
            notes: text("notes", self.notes, 10_000)?,
        })
    }
}

fn view(c: &contact::Model, instance_uuid: Uuid) -> ContactView {
    ContactView {
        id: c.id,
        uuid: c.uuid,
        instance_id: instance_uuid,
        jid: c.jid.clone(),
        phone_number: c.phone_number.clone(),
        name: c.name.clone(),
        display_name: c
            .name
            .clone()
            .or_else(|| c.push_name.clone())
            .or_else(|| c.phone_number.clone()),
        push_name: c.push_name.clone(),
        email: c.email.clone(),
        company: c.company.clone(),
        notes: c.notes.clone(),
        profile_picture_url: c.profile_picture_url.clone(),
        is_business: c.is_business,
        created_at: format_secs(c.created_at),
        updated_at: format_secs(c.updated_at),
    }
}

fn duplicate(phone: &str, existing: i64) -> AppError {
    AppError::Client(
        ErrorBody::new(
            ErrorCode::DuplicateEntry,
            format!("A contact with phone number {phone} already exists on this instance."),
        )
        .with_details(serde_json::json!({
            "phone_number": ["This phone number is already a contact of this instance."],
            "contact_id": existing,
        })),
    )
}

impl Services {
    /// Contacts as the API shows them, each with its instance's UUID.
    async fn contact_views(
        &self,
        caller: &Caller,
        rows: &[contact::Model],
    ) -> AppResult<Vec<ContactView>> {
        let uuids = self.tenant_instance_uuids(caller.tenant()).await?;
        Ok(rows
            .iter()
            .map(|c| view(c, uuids.get(&c.instance_id).copied().unwrap_or_default()))
            .collect())
    }

    async fn contacts_query(
        &self,
        caller: &Caller,
        instance_ref: Option<&str>,
        search: Option<&str>,
    ) -> AppResult<sea_orm::Select<contact::Entity>> {
        let mut query = contact::Entity::scoped(caller.tenant());
        let instance_id = match (instance_ref, caller.bound_instance()) {
            (Some(r), _) => Some(self.find_instance(caller, r).await?.id),
            (None, bound) => bound.map(|b| b.0),
        };
        if let Some(id) = instance_id {
            query = query.filter(contact::Column::InstanceId.eq(id));
        }
        if let Some(s) = search.map(str::trim).filter(|s| !s.is_empty()) {
            let digits: String = s.chars().filter(char::is_ascii_digit).collect();
            let mut any = crate::db::listing::contains_any(
                s,
                &[
                    contact::Column::Name,
                    contact::Column::PushName,
                    contact::Column::Email,
                    contact::Column::Company,
                ],
            );
            if !digits.is_empty() {
                any = any.add(contact::Column::PhoneNumber.like(format!("%{digits}%")));
            }
            query = query.filter(any);
        }
        Ok(query)
    }

    pub async fn list_contacts(
        &self,
        caller: &Caller,
        filter: ContactFilter,
    ) -> AppResult<(Vec<ContactView>, u64)> {
        let query = self
            .contacts_query(caller, filter.instance.as_deref(), filter.search.as_deref())
            .await?;
        let (rows, total) = crate::db::listing::page_of(
            &self.db,
            query.order_by_desc(contact::Column::Id),
            filter.page,
            filter.per_page,
        )
        .await?;
        Ok((self.contact_views(caller, &rows).await?, total))
    }

    async fn find_contact(&self, caller: &Caller, reference: &str) -> AppResult<contact::Model> {
        let not_found = || AppError::not_found(ErrorCode::NotFound, "Contact");
        let reference = reference.trim();
        let mut query = contact::Entity::scoped(caller.tenant());
        query = if let Ok(id) = reference.parse::<i64>() {
            query.filter(contact::Column::Id.eq(id))
        } else if let Ok(u) = Uuid::parse_str(reference) {
            query.filter(contact::Column::Uuid.eq(u))
        } else {
            return Err(not_found());
        };
        if let Some(bound) = caller.bound_instance() {
            query = query.filter(contact::Column::InstanceId.eq(bound.0));
        }
        query.one(&self.db).await?.ok_or_else(not_found)
    }

    async fn contact_view(&self, c: &contact::Model) -> AppResult<ContactView> {
        let uuid = self.instance_uuid(c.instance_id).await?.unwrap_or_default();
        Ok(view(c, uuid))
    }

    pub async fn get_contact(&self, caller: &Caller, reference: &str) -> AppResult<ContactView> {
        let c = self.find_contact(caller, reference).await?;
        self.contact_view(&c).await
    }

    pub async fn create_contact(
        &self,
        caller: &Caller,
        instance_ref: &str,
        phone: PhoneNumber,
        fields: ContactFields,
    ) -> AppResult<ContactView> {
        let inst = self.find_instance(caller, instance_ref).await?;
        let jid = phone.to_jid().to_string();
        if let Some(existing) = contact::Entity::find()
            .filter(contact::Column::InstanceId.eq(inst.id))
            .filter(contact::Column::Jid.eq(jid.clone()))
            .one(&self.db)
            .await?
        {
            return Err(duplicate(phone.as_str(), existing.id));
        }
        let now = Utc::now();
        let model = contact::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            tenant_id: Set(inst.tenant_id),
            instance_id: Set(inst.id),
            jid: Set(jid),
            phone_number: Set(Some(phone.as_str().to_owned())),
            name: Set(fields.name.flatten()),
            email: Set(fields.email.flatten()),
            company: Set(fields.company.flatten()),
            notes: Set(fields.notes.flatten()),
            is_business: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        let _permit = self.write_gate.enter().await;
        let saved = match contact::Entity::insert(model)
            .exec_with_returning(&self.db)
            .await
        {
            Ok(m) => m,
            // Created concurrently by the ingest or another request.
            Err(e)
                if matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) =>
            {
                return Err(duplicate(phone.as_str(), 0));
            }
            Err(e) => return Err(e.into()),
        };
        drop(_permit);
        self.live
            .instance(inst.tenant_id, inst.uuid, Topic::Contact);
        Ok(view(&saved, inst.uuid))
    }

    pub async fn update_contact(
        &self,
        caller: &Caller,
        reference: &str,
        fields: ContactFields,
    ) -> AppResult<ContactView> {
        let c = self.find_contact(caller, reference).await?;
        let mut a: contact::ActiveModel = c.into();
        if let Some(v) = fields.name {
            a.name = Set(v);
        }
        if let Some(v) = fields.email {
            a.email = Set(v);
        }
        if let Some(v) = fields.company {
            a.company = Set(v);
        }
        if let Some(v) = fields.notes {
            a.notes = Set(v);
        }
        a.updated_at = Set(Utc::now());
        let saved = {
            let _permit = self.write_gate.enter().await;
            a.update(&self.db).await?
        };
        let v = self.contact_view(&saved).await?;
        self.live
            .instance(saved.tenant_id, v.instance_id, Topic::Contact);
        Ok(v)
    }

    /// Deletes a contact; its conversations stay (they lose the link, and a later message
    /// creates the contact again).
    pub async fn delete_contact(&self, caller: &Caller, reference: &str) -> AppResult<()> {
        let c = self.find_contact(caller, reference).await?;
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        conversation::Entity::update_many()
            .col_expr(
                conversation::Column::ContactId,
                Expr::value(Option::<i64>::None),
            )
            .filter(conversation::Column::ContactId.eq(c.id))
            .exec(&txn)
            .await?;
        contact::Entity::delete_by_id(c.id).exec(&txn).await?;
        txn.commit().await?;
        if let Some(uuid) = self.instance_uuid(c.instance_id).await? {
            self.live.instance(c.tenant_id, uuid, Topic::Contact);
        }
        Ok(())
    }
}
