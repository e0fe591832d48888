//! Contacts in bulk: an import (numbers normalized, invalid rows reported by index, numbers
//! already present skipped, the rest inserted many at a time) and an export, as rows or as
//! CSV made safe for spreadsheets.

use std::collections::HashSet;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use uuid::Uuid;
use zapini_shared::phone::PhoneNumber;

use super::{ContactFields, ContactFieldsInput, ContactView};
use crate::db::entities::contact;
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::live::Topic;
use crate::service::Services;

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

pub const MAX_IMPORT_ROWS: usize = 10_000;

/// One row of an import as given.
#[derive(Debug, Clone)]
pub struct ImportItem {
    pub phone_number: String,
    pub fields: ContactFieldsInput,
}

impl Services {
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
        self.contact_views(caller, &rows).await
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
