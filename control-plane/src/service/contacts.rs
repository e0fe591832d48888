//! Contacts of a tenant's instances: list/search, create (phone normalized, one contact per
//! instance and number), read, update, delete, bulk import and export (JSON or CSV).

use std::collections::HashSet;

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::Serialize;
use uuid::Uuid;
use zapini_shared::error::{ErrorBody, ErrorCode};
use zapini_shared::phone::PhoneNumber;
use zapini_shared::time::format_secs;

use super::Services;
use super::live::Topic;
use crate::db::TenantScoped;
use crate::db::entities::{contact, conversation, instance};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};

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

/// One row of an import.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub phone_number: String,
    pub fields: ContactFields,
}

/// A row an import refused.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ContactImportError)]
pub struct ImportError {
    /// The row's index in `contacts` (from 0).
    pub index: usize,
    /// The number as given.
    pub phone_number: String,
    pub message: String,
}

/// What an import did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ContactImportResult)]
pub struct ImportOutcome {
    pub imported: usize,
    /// Numbers already contacts of the instance, or repeated in the import.
    pub skipped: usize,
    /// Rows refused (an invalid number or field), by index.
    pub errors: Vec<ImportError>,
}

pub struct ContactFilter {
    pub instance: Option<String>,
    pub search: Option<String>,
    pub page: u64,
    pub per_page: u64,
}

pub const MAX_IMPORT_ROWS: usize = 10_000;

/// A contact's editable fields as a client gave them (`None`: absent, `Some(None)`: null),
/// before [`ContactFieldsInput::parse`].
#[derive(Debug, Default, Clone)]
pub struct ContactFieldsInput {
    pub name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub company: Option<Option<String>>,
    pub notes: Option<Option<String>>,
}

/// One row of an import as given.
#[derive(Debug, Clone)]
pub struct ImportItem {
    pub phone_number: String,
    pub fields: ContactFieldsInput,
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
    async fn contact_instance_uuids(
        &self,
        caller: &Caller,
    ) -> AppResult<std::collections::HashMap<i64, Uuid>> {
        Ok(instance::Entity::scoped(caller.tenant())
            .all(&self.db)
            .await?
            .into_iter()
            .map(|i| (i.id, i.uuid))
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
        let total = query.clone().count(&self.db).await?;
        let rows = query
            .order_by_desc(contact::Column::Id)
            // Databases take a signed 64-bit offset: a page past it is simply empty.
            .offset(std::cmp::min(
                (filter.page - 1).saturating_mul(filter.per_page),
                i64::MAX.unsigned_abs(),
            ))
            .limit(filter.per_page)
            .all(&self.db)
            .await?;
        let uuids = self.contact_instance_uuids(caller).await?;
        Ok((
            rows.iter()
                .map(|c| view(c, uuids.get(&c.instance_id).copied().unwrap_or_default()))
                .collect(),
            total,
        ))
    }

    /// Every contact matching, for an export (oldest first).
    pub async fn export_contacts(
        &self,
        caller: &Caller,
        instance_ref: Option<&str>,
    ) -> AppResult<Vec<ContactView>> {
        let rows = self
            .contacts_query(caller, instance_ref, None)
            .await?
            .order_by_asc(contact::Column::Id)
            .all(&self.db)
            .await?;
        let uuids = self.contact_instance_uuids(caller).await?;
        Ok(rows
            .iter()
            .map(|c| view(c, uuids.get(&c.instance_id).copied().unwrap_or_default()))
            .collect())
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
        let uuid = instance::Entity::find_by_id(c.instance_id)
            .one(&self.db)
            .await?
            .map(|i| i.uuid)
            .unwrap_or_default();
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
        if let Some(i) = instance::Entity::find_by_id(c.instance_id)
            .one(&self.db)
            .await?
        {
            self.live.instance(c.tenant_id, i.uuid, Topic::Contact);
        }
        Ok(())
    }

    /// Imports rows: invalid numbers are errors (by row index), numbers already present (on
    /// the instance, or earlier in the same import) are skipped, the rest inserted in bulk.
    /// An import as a client gave it: 1 to [`MAX_IMPORT_ROWS`] rows (else 422 on
    /// `contacts`); a row whose fields are invalid is an error of its own (`index` into
    /// `items`), the others are imported.
    pub async fn import_contact_items(
        &self,
        caller: &Caller,
        instance_ref: &str,
        items: Vec<ImportItem>,
    ) -> AppResult<ImportOutcome> {
        if items.is_empty() {
            return Err(AppError::validation(
                "contacts",
                "The contacts field must have at least 1 item.",
            ));
        }
        if items.len() > MAX_IMPORT_ROWS {
            return Err(AppError::validation(
                "contacts",
                format!("The contacts field must not have more than {MAX_IMPORT_ROWS} items."),
            ));
        }
        let mut rows = Vec::with_capacity(items.len());
        let mut indexes = Vec::with_capacity(items.len());
        let mut invalid = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            match item.fields.parse() {
                Ok(fields) => {
                    indexes.push(index);
                    rows.push(ImportRow {
                        phone_number: item.phone_number,
                        fields,
                    });
                }
                Err(AppError::Client(e)) => invalid.push(ImportError {
                    index,
                    phone_number: item.phone_number,
                    message: e.message,
                }),
                Err(e) => return Err(e),
            }
        }
        let mut outcome = self.import_contacts(caller, instance_ref, rows).await?;
        // Row numbers refer to the items given.
        for e in &mut outcome.errors {
            e.index = indexes.get(e.index).copied().unwrap_or(e.index);
        }
        outcome.errors.extend(invalid);
        outcome.errors.sort_by_key(|e| e.index);
        Ok(outcome)
    }

    pub async fn import_contacts(
        &self,
        caller: &Caller,
        instance_ref: &str,
        rows: Vec<ImportRow>,
    ) -> AppResult<ImportOutcome> {
        let inst = self.find_instance(caller, instance_ref).await?;
        let mut errors = Vec::new();
        let mut skipped = 0;
        let mut seen = HashSet::new();
        let mut candidates = Vec::new();
        for (index, row) in rows.into_iter().enumerate() {
            match PhoneNumber::parse(&row.phone_number) {
                Ok(phone) => {
                    let jid = phone.to_jid().to_string();
                    if seen.insert(jid.clone()) {
                        candidates.push((jid, phone, row.fields));
                    } else {
                        skipped += 1;
                    }
                }
                Err(e) => errors.push(ImportError {
                    index,
                    phone_number: row.phone_number,
                    message: e.into_error_body("phone_number").message,
                }),
            }
        }
        let mut existing = HashSet::new();
        let jids: Vec<String> = candidates.iter().map(|(j, _, _)| j.clone()).collect();
        for chunk in jids.chunks(500) {
            let found: Vec<String> = contact::Entity::find()
                .select_only()
                .column(contact::Column::Jid)
                .filter(contact::Column::InstanceId.eq(inst.id))
                .filter(contact::Column::Jid.is_in(chunk.to_vec()))
                .into_tuple()
                .all(&self.db)
                .await?;
            existing.extend(found);
        }
        let now = Utc::now();
        let mut new_rows = Vec::new();
        for (jid, phone, fields) in candidates {
            if existing.contains(&jid) {
                skipped += 1;
                continue;
            }
            new_rows.push(contact::ActiveModel {
                uuid: Set(Uuid::new_v4()),
                tenant_id: Set(inst.tenant_id),
                instance_id: Set(inst.id),
                jid: Set(jid),
                phone_number: Set(Some(phone.into_string())),
                name: Set(fields.name.flatten()),
                push_name: Set(None),
                email: Set(fields.email.flatten()),
                company: Set(fields.company.flatten()),
                notes: Set(fields.notes.flatten()),
                is_business: Set(false),
                profile_picture_url: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            });
        }
        let wanted = new_rows.len();
        let mut imported = 0;
        {
            let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
            while !new_rows.is_empty() {
                let rest = new_rows.split_off(new_rows.len().min(200));
                let chunk = std::mem::replace(&mut new_rows, rest);
                let n = contact::Entity::insert_many(chunk)
                    .on_conflict(
                        OnConflict::columns([contact::Column::InstanceId, contact::Column::Jid])
                            .do_nothing()
                            .to_owned(),
                    )
                    .exec_without_returning(&txn)
                    .await?;
                imported += usize::try_from(n).unwrap_or(0);
            }
            txn.commit().await?;
        }
        // Rows another writer inserted between the check and the insert were skipped too.
        skipped += wanted - imported.min(wanted);
        if imported > 0 {
            self.live
                .instance(inst.tenant_id, inst.uuid, Topic::Contact);
        }
        Ok(ImportOutcome {
            imported,
            skipped,
            errors,
        })
    }
}

/// A free-text cell made safe for spreadsheets: text starting with `=`, `+`, `-`, `@`, a tab
/// or a carriage return would be run as a formula by Excel, LibreOffice or Google Sheets
/// (CSV injection; push names are chosen by whoever messages the number), so it gets a
/// leading `'`, which spreadsheets show as plain text.
fn spreadsheet_safe(v: &Option<String>) -> String {
    match v.as_deref() {
        Some(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{s}"),
        Some(s) => s.to_owned(),
        None => String::new(),
    }
}

/// Contacts as CSV: a header row, every field quoted as needed, UTF-8. Free-text fields are
/// guarded against formula injection ([`spreadsheet_safe`]); ids, numbers and dates are ours.
pub fn contacts_csv(contacts: &[ContactView]) -> AppResult<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "id",
        "uuid",
        "instance_id",
        "phone_number",
        "name",
        "display_name",
        "push_name",
        "email",
        "company",
        "notes",
        "is_business",
        "created_at",
    ];
    let fail = |e: csv::Error| AppError::internal(format!("csv: {e}"));
    w.write_record(header).map_err(fail)?;
    for c in contacts {
        let text = spreadsheet_safe;
        w.write_record([
            c.id.to_string(),
            c.uuid.to_string(),
            c.instance_id.to_string(),
            c.phone_number.clone().unwrap_or_default(),
            text(&c.name),
            text(&c.display_name),
            text(&c.push_name),
            text(&c.email),
            text(&c.company),
            text(&c.notes),
            c.is_business.to_string(),
            c.created_at.clone(),
        ])
        .map_err(fail)?;
    }
    w.into_inner()
        .map_err(|e| AppError::internal(format!("csv: {e}")))
}
