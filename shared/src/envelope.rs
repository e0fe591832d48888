//! The success envelope `{"success": true, "message"?, "data"?, "meta"?}` and pagination.
//!
//! Every successful API response is wrapped in [`ApiResponse`]. Optional members
//! are omitted rather than sent as `null` because that is what the reference
//! shows and what existing clients were written against.

use serde::{Deserialize, Serialize};

use crate::error::ErrorBody;

/// A successful API response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiResponse<T> {
    /// Always `true` for responses built with the constructors below.
    pub success: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
}

impl<T> ApiResponse<T> {
    /// `{"success": true, "data": data}`.
    pub fn data(data: T) -> Self {
        ApiResponse {
            success: true,
            message: None,
            data: Some(data),
            meta: None,
        }
    }

    /// `{"success": true, "message": msg, "data": data}`.
    pub fn message_data(msg: impl Into<String>, data: T) -> Self {
        ApiResponse {
            success: true,
            message: Some(msg.into()),
            data: Some(data),
            meta: None,
        }
    }

    /// `{"success": true, "data": data, "meta": {"pagination": ...}}`.
    pub fn paginated(data: T, meta: Meta) -> Self {
        ApiResponse {
            success: true,
            message: None,
            data: Some(data),
            meta: Some(meta),
        }
    }

    /// Adds (or replaces) the human-readable message.
    #[must_use]
    pub fn with_message(mut self, msg: impl Into<String>) -> Self {
        self.message = Some(msg.into());
        self
    }
}

/// `{"success": true, "message": "..."}`: the body of [`ApiResponse::message_only`], as the
/// OpenAPI document describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessageOnly {
    pub success: bool,
    pub message: String,
}

impl ApiResponse<()> {
    /// `{"success": true, "message": msg}` with no `data` member at all.
    pub fn message_only(msg: impl Into<String>) -> ApiResponse<()> {
        ApiResponse {
            success: true,
            message: Some(msg.into()),
            data: None,
            meta: None,
        }
    }
}

/// The `meta` object of a paginated response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Meta {
    pub pagination: Pagination,
}

impl Meta {
    /// Shorthand for `Meta { pagination: Pagination::new(..) }`.
    pub fn new(total: u64, per_page: u64, current_page: u64) -> Self {
        Meta {
            pagination: Pagination::new(total, per_page, current_page),
        }
    }
}

impl From<Pagination> for Meta {
    fn from(pagination: Pagination) -> Self {
        Meta { pagination }
    }
}

/// Laravel-style pagination counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Pagination {
    pub total: u64,
    pub per_page: u64,
    pub current_page: u64,
    pub last_page: u64,
}

impl Pagination {
    /// Computes `last_page = max(1, ceil(total / per_page))`.
    ///
    /// An empty listing still has one (empty) page, matching Laravel, so clients
    /// can always render "page 1 of 1". A `per_page` of zero cannot come from a
    /// validated [`PageRequest`]; it is treated as one page instead of panicking.
    pub fn new(total: u64, per_page: u64, current_page: u64) -> Self {
        let last_page = if per_page == 0 {
            1
        } else {
            total.div_ceil(per_page).max(1)
        };
        Pagination {
            total,
            per_page,
            current_page,
            last_page,
        }
    }
}

/// Validated `page` / `per_page` query parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// 1-based page number.
    pub page: u64,
    pub per_page: u64,
}

impl PageRequest {
    /// Applies defaults and bounds to raw query parameters.
    ///
    /// A missing `page` means 1 and a missing `per_page` means `default_per_page`.
    /// Zero values and a `per_page` above `max_per_page` are rejected with a
    /// `VALIDATION_ERROR` naming the field, rather than clamped, so a client
    /// never silently receives a different page size than it asked for.
    pub fn new(
        page: Option<u64>,
        per_page: Option<u64>,
        default_per_page: u64,
        max_per_page: u64,
    ) -> Result<PageRequest, ErrorBody> {
        let page = page.unwrap_or(1);
        if page == 0 {
            return Err(ErrorBody::validation(
                "page",
                "The page field must be at least 1.",
            ));
        }
        let per_page = per_page.unwrap_or(default_per_page);
        if per_page == 0 {
            return Err(ErrorBody::validation(
                "per_page",
                "The per_page field must be at least 1.",
            ));
        }
        if per_page > max_per_page {
            return Err(ErrorBody::validation(
                "per_page",
                format!("The per_page field must not be greater than {max_per_page}."),
            ));
        }
        Ok(PageRequest { page, per_page })
    }

    /// Number of rows to skip; saturates instead of overflowing for absurd page numbers.
    pub fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// Same as `per_page`; named for readability at SQL call sites.
    pub fn limit(&self) -> u64 {
        self.per_page
    }

    /// The pagination block for a listing with `total` matching rows.
    pub fn pagination(&self, total: u64) -> Pagination {
        Pagination::new(total, self.per_page, self.page)
    }

    /// The `meta` block for a listing with `total` matching rows.
    pub fn meta(&self, total: u64) -> Meta {
        Meta::from(self.pagination(total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use serde_json::json;

    #[test]
    fn data_only_omits_message_and_meta() {
        let r = ApiResponse::data(json!({"id": 1}));
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"success": true, "data": {"id": 1}})
        );
    }

    #[test]
    fn message_data_has_both() {
        let r = ApiResponse::message_data("Operation completed", vec![1, 2]);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"success": true, "message": "Operation completed", "data": [1, 2]})
        );
    }

    #[test]
    fn message_only_has_no_data_member() {
        let r = ApiResponse::message_only("Deleted");
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"success": true, "message": "Deleted"})
        );
    }

    #[test]
    fn paginated_matches_reference_shape() {
        let r = ApiResponse::paginated(vec!["a"], Meta::new(100, 20, 1));
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({
                "success": true,
                "data": ["a"],
                "meta": {"pagination": {"total": 100, "per_page": 20, "current_page": 1, "last_page": 5}}
            })
        );
    }

    #[test]
    fn deserializes_with_missing_optionals() {
        let r: ApiResponse<Vec<u32>> =
            serde_json::from_value(json!({"success": true, "data": [7]})).unwrap();
        assert_eq!(r, ApiResponse::data(vec![7]));
        let r: ApiResponse<()> =
            serde_json::from_value(json!({"success": true, "message": "ok"})).unwrap();
        assert_eq!(r, ApiResponse::message_only("ok"));
        let r = ApiResponse::paginated(vec![1u8], Meta::new(3, 2, 2));
        let back: ApiResponse<Vec<u8>> =
            serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn last_page_is_ceiling_and_at_least_one() {
        assert_eq!(Pagination::new(0, 20, 1).last_page, 1);
        assert_eq!(Pagination::new(1, 20, 1).last_page, 1);
        assert_eq!(Pagination::new(20, 20, 1).last_page, 1);
        assert_eq!(Pagination::new(21, 20, 1).last_page, 2);
        assert_eq!(Pagination::new(500, 50, 1).last_page, 10);
        assert_eq!(Pagination::new(50, 15, 1).last_page, 4);
        assert_eq!(Pagination::new(10, 0, 1).last_page, 1);
        assert_eq!(Pagination::new(u64::MAX, 1, 1).last_page, u64::MAX);
    }

    #[test]
    fn page_request_defaults_and_offset() {
        let p = PageRequest::new(None, None, 20, 100).unwrap();
        assert_eq!(
            p,
            PageRequest {
                page: 1,
                per_page: 20
            }
        );
        assert_eq!(p.offset(), 0);
        let p = PageRequest::new(Some(3), Some(50), 20, 100).unwrap();
        assert_eq!(p.offset(), 100);
        assert_eq!(p.limit(), 50);
        assert_eq!(p.meta(101).pagination.last_page, 3);
        assert_eq!(p.pagination(101).current_page, 3);
        let p = PageRequest::new(Some(u64::MAX), Some(100), 20, 100).unwrap();
        assert_eq!(p.offset(), u64::MAX);
        assert!(PageRequest::new(None, Some(100), 20, 100).is_ok());
    }

    #[test]
    fn page_request_rejects_out_of_range_values() {
        let err = PageRequest::new(Some(0), None, 20, 100).unwrap_err();
        assert_eq!(err.code, ErrorCode::ValidationError);
        assert!(err.message.contains("page"));
        assert!(err.details.get("page").is_some());

        let err = PageRequest::new(None, Some(0), 20, 100).unwrap_err();
        assert_eq!(err.code, ErrorCode::ValidationError);
        assert!(err.details.get("per_page").is_some());

        let err = PageRequest::new(None, Some(101), 20, 100).unwrap_err();
        assert_eq!(err.http_status(), 422);
        assert!(err.message.contains("per_page"));
        assert_eq!(
            err.details,
            json!({"per_page": ["The per_page field must not be greater than 100."]})
        );
    }
}
