//! A tenant's feature flags (`kanban_enabled`, `voice_enabled`: the operator turns them on
//! with `control-plane tenant set-features`) and its CRM settings (currency and locale of
//! money, the time zone of calendar times, the appointment reminder text). Readable on
//! `GET /auth/me`; the feature areas check them with [`Services::require_kanban`] and
//! [`Services::require_voice`].

use chrono_tz::Tz;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde::Serialize;
use zapini_shared::error::ErrorCode;

use super::Services;
use crate::db::entities::tenant;
use crate::domain::TenantId;
use crate::error::{AppError, AppResult};

pub const DEFAULT_CURRENCY: &str = "BRL";
pub const DEFAULT_LOCALE: &str = "pt-BR";
pub const DEFAULT_TIMEZONE: Tz = Tz::UTC;

/// What a tenant may use and how its CRM shows money and time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TenantFeatures {
    /// The Kanban API (`KANBAN_NOT_ENABLED` when off).
    pub kanban_enabled: bool,
    /// The Voice & IVR API (`NO_VOICE_ACCESS` when off).
    pub voice_enabled: bool,
    /// ISO 4217 code of lead values (default `BRL`).
    #[schema(example = "BRL")]
    pub currency: String,
    /// Locale money is formatted in (default `pt-BR`).
    #[schema(example = "pt-BR")]
    pub locale: String,
    /// IANA time zone of calendar times given without an offset (default `UTC`).
    #[schema(example = "UTC")]
    pub timezone: String,
    /// The appointment reminder's text with `{{placeholders}}` (`null`: the default text).
    pub reminder_template: Option<String>,
}

impl TenantFeatures {
    pub fn of(t: &tenant::Model) -> TenantFeatures {
        TenantFeatures {
            kanban_enabled: t.kanban_enabled,
            voice_enabled: t.voice_enabled,
            currency: t
                .currency
                .clone()
                .unwrap_or_else(|| DEFAULT_CURRENCY.into()),
            locale: t.locale.clone().unwrap_or_else(|| DEFAULT_LOCALE.into()),
            timezone: t
                .timezone
                .clone()
                .unwrap_or_else(|| DEFAULT_TIMEZONE.name().into()),
            reminder_template: t.reminder_template.clone(),
        }
    }

    /// The time zone (a stored name that no longer parses falls back to UTC).
    pub fn tz(&self) -> Tz {
        self.timezone.parse().unwrap_or(DEFAULT_TIMEZONE)
    }
}

/// A change of flags and settings: `None` leaves a value as it is; for the settings,
/// `Some(None)` returns it to the default.
#[derive(Debug, Clone, Default)]
pub struct FeatureChange {
    pub kanban_enabled: Option<bool>,
    pub voice_enabled: Option<bool>,
    pub currency: Option<Option<String>>,
    pub locale: Option<Option<String>>,
    pub timezone: Option<Option<String>>,
    pub reminder_template: Option<Option<String>>,
}

fn valid_currency(c: &str) -> bool {
    c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())
}

/// `ll` or `ll-RR` (language, region), the forms money formatting knows.
fn valid_locale(l: &str) -> bool {
    let mut parts = l.split('-');
    let lang = parts.next().unwrap_or_default();
    let region = parts.next();
    parts.next().is_none()
        && (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| r.len() == 2 && r.bytes().all(|b| b.is_ascii_uppercase()))
}

impl FeatureChange {
    /// Checks the settings; the error names the field.
    pub fn validate(&self) -> AppResult<()> {
        if let Some(Some(c)) = &self.currency
            && !valid_currency(c)
        {
            return Err(AppError::validation(
                "currency",
                "An ISO 4217 code in capitals, such as BRL or USD.",
            ));
        }
        if let Some(Some(l)) = &self.locale
            && !valid_locale(l)
        {
            return Err(AppError::validation(
                "locale",
                "A language with an optional region, such as pt-BR or en-US.",
            ));
        }
        if let Some(Some(z)) = &self.timezone
            && z.parse::<Tz>().is_err()
        {
            return Err(AppError::validation(
                "timezone",
                "An IANA time zone, such as America/Sao_Paulo or UTC.",
            ));
        }
        if let Some(Some(t)) = &self.reminder_template
            && (t.trim().is_empty() || t.len() > 4096)
        {
            return Err(AppError::validation(
                "reminder_template",
                "Between 1 and 4096 characters.",
            ));
        }
        Ok(())
    }
}

impl Services {
    async fn tenant_model(&self, tenant: TenantId) -> AppResult<tenant::Model> {
        tenant::Entity::find_by_id(tenant.0)
            .one(&self.db)
            .await?
            .ok_or_else(|| AppError::new(ErrorCode::NotFound, "No such tenant."))
    }

    /// The tenant's flags and settings.
    pub async fn tenant_features(&self, tenant: TenantId) -> AppResult<TenantFeatures> {
        Ok(TenantFeatures::of(&self.tenant_model(tenant).await?))
    }

    /// The tenant's flags and settings, or `KANBAN_NOT_ENABLED` (403) when Kanban is off.
    pub async fn require_kanban(&self, tenant: TenantId) -> AppResult<TenantFeatures> {
        let features = self.tenant_features(tenant).await?;
        if !features.kanban_enabled {
            return Err(AppError::new(
                ErrorCode::KanbanNotEnabled,
                ErrorCode::KanbanNotEnabled.default_message(),
            ));
        }
        Ok(features)
    }

    /// The tenant's flags and settings, or `NO_VOICE_ACCESS` (403) when voice is off.
    pub async fn require_voice(&self, tenant: TenantId) -> AppResult<TenantFeatures> {
        let features = self.tenant_features(tenant).await?;
        if !features.voice_enabled {
            return Err(AppError::new(
                ErrorCode::NoVoiceAccess,
                ErrorCode::NoVoiceAccess.default_message(),
            ));
        }
        Ok(features)
    }

    /// Applies an operator's change (the CLI) and returns the result.
    pub async fn set_tenant_features(
        &self,
        tenant: TenantId,
        change: FeatureChange,
    ) -> AppResult<TenantFeatures> {
        change.validate()?;
        let row = self.tenant_model(tenant).await?;
        let mut model = row.into_active_model();
        if let Some(v) = change.kanban_enabled {
            model.kanban_enabled = Set(v);
        }
        if let Some(v) = change.voice_enabled {
            model.voice_enabled = Set(v);
        }
        if let Some(v) = change.currency {
            model.currency = Set(v);
        }
        if let Some(v) = change.locale {
            model.locale = Set(v);
        }
        if let Some(v) = change.timezone {
            model.timezone = Set(v);
        }
        if let Some(v) = change.reminder_template {
            model.reminder_template = Set(v);
        }
        model.updated_at = Set(chrono::Utc::now());
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let row = model.update(&txn).await?;
        txn.commit().await?;
        Ok(TenantFeatures::of(&row))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_and_name_the_field() {
        let ok = FeatureChange {
            currency: Some(Some("USD".into())),
            locale: Some(Some("en-US".into())),
            timezone: Some(Some("America/Sao_Paulo".into())),
            ..Default::default()
        };
        assert!(ok.validate().is_ok());
        for (change, field) in [
            (
                FeatureChange {
                    currency: Some(Some("usd".into())),
                    ..Default::default()
                },
                "currency",
            ),
            (
                FeatureChange {
                    locale: Some(Some("pt_BR".into())),
                    ..Default::default()
                },
                "locale",
            ),
            (
                FeatureChange {
                    timezone: Some(Some("Mars/Olympus".into())),
                    ..Default::default()
                },
                "timezone",
            ),
        ] {
            let err = change.validate().unwrap_err();
            assert!(format!("{err:?}").contains(field), "{err:?}");
        }
        assert!(valid_locale("pt"));
        assert!(!valid_locale("pt-BR-x"));
    }
}
