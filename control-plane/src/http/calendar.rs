//! The Calendar API (`/calendar/appointments`): list a range, create, show, update, delete,
//! and the transitions `confirm`, `complete`, `cancel`, and `to-kanban`. Times without an
//! offset are in the tenant's time zone; answers carry the offset.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use zapini_shared::envelope::{ApiResponse, MessageOnly, Pagination};
use zapini_shared::error::ErrorEnvelope;

use super::AppState;
use super::conversations::query::{or_blank, page, per_page, query, string};
use super::conversations::{Params, instance_ref_schema};
use super::extract::{Auth, Json};
use crate::crm::calendar::Status;
use crate::crm::calendar::service::AppointmentFilter;
use crate::crm::calendar::views::AppointmentView;
use crate::error::{AppError, AppResult};

const UUID_EXAMPLE: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
const INSTANCE_EXAMPLE: &str = "550e8400-e29b-41d4-a716-446655440000";
const NOT_FOUND_404: &str = "No such appointment for this token (`NOT_FOUND`)";
const CONFLICT_409: &str = "The appointment's current status does not allow it (`CONFLICT`; `details.current_status` names it)";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, delete))
        .routes(routes!(confirm))
        .routes(routes!(complete))
        .routes(routes!(cancel))
        .routes(routes!(to_kanban))
}

fn appointment_example() -> Value {
    json!({
        "uuid": UUID_EXAMPLE,
        "instance_id": INSTANCE_EXAMPLE,
        "title": "Consultation with John Doe",
        "description": null,
        "client_name": "John Doe",
        "client_phone": "5511999999999",
        "client_email": "john@example.com",
        "starts_at": "2026-05-01T10:00:00+00:00",
        "ends_at": "2026-05-01T11:00:00+00:00",
        "duration_minutes": 60,
        "status": "scheduled",
        "color": "#3b82f6",
        "reminder_minutes": 30,
        "location": "Online - Google Meet",
        "notes": null,
        "reminder_sent_at": null,
        "confirmed_at": null,
        "completed_at": null,
        "cancelled_at": null,
        "created_at": "2026-01-01T00:00:00+00:00",
        "updated_at": "2026-01-01T00:00:00+00:00"
    })
}

fn shown_example() -> Value {
    json!({"success": true, "data": appointment_example()})
}

fn created_example() -> Value {
    json!({"success": true, "message": "Appointment created successfully", "data": appointment_example()})
}

fn list_example() -> Value {
    json!({"success": true, "data": [appointment_example()],
        "meta": {"pagination": {"total": 1, "per_page": 50, "current_page": 1, "last_page": 1},
            "range": {"start": "2026-05-01T00:00:00+00:00", "end": "2026-06-01T00:00:00+00:00"}}})
}

/// The listed range (the tenant's time zone).
#[derive(Serialize, ToSchema)]
#[schema(as = AppointmentRange)]
pub struct RangeView {
    /// Included.
    #[schema(format = DateTime, example = "2026-05-01T00:00:00+00:00")]
    start: String,
    /// Excluded.
    #[schema(format = DateTime, example = "2026-06-01T00:00:00+00:00")]
    end: String,
}

#[derive(Serialize, ToSchema)]
#[schema(as = AppointmentListMeta)]
pub struct ListMeta {
    pagination: Pagination,
    range: RangeView,
}

/// A page of appointments.
#[derive(Serialize, ToSchema)]
#[schema(as = AppointmentList)]
pub struct ListResponse {
    success: bool,
    data: Vec<AppointmentView>,
    meta: ListMeta,
}

/// `GET /calendar/appointments`.
struct ListQuery;

impl IntoParams for ListQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            page(),
            per_page(50),
            query(
                "start",
                "Start of the range (ISO 8601 date `2026-05-01` or date-time; without an offset \
                 in the tenant's time zone). Default: the start of the current month (of \
                 `end`'s month when only `end` is given).",
                string(),
            ),
            query(
                "end",
                "End of the range: a date includes that whole day, a date-time is excluded. \
                 Default: the end of `start`'s month (the current month). After `start`, at \
                 most 366 days later.",
                string(),
            ),
            query(
                "status",
                "Only appointments in this status.",
                or_blank(string().enum_values(Some(Status::ALL.map(Status::as_str)))),
            ),
            query(
                "instance_id",
                "Only the appointments of this instance (numeric id or UUID); an `sk_` token \
                 sees its own instance's only.",
                string(),
            ),
        ]
    }
}

/// `POST /calendar/appointments` (documentation: the handler reads the fields one by one and
/// names each failing field).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AppointmentCreateBody)]
#[allow(dead_code)]
pub struct CreateBody {
    /// The instance whose WhatsApp sends the reminder (numeric id or UUID). Required with a
    /// user token; an `sk_` token's own instance by default.
    #[schema(schema_with = instance_ref_schema)]
    instance_id: Option<Value>,
    /// 1 to 255 characters.
    #[schema(max_length = 255, example = "Consultation with John Doe")]
    title: String,
    #[schema(max_length = 5000)]
    description: Option<String>,
    #[schema(max_length = 255, example = "John Doe")]
    client_name: Option<String>,
    /// With the country code; spaces, dashes, brackets and a leading `+` are ignored (8 to 15
    /// digits). The reminder goes to this number.
    #[schema(max_length = 32, example = "5511999999999")]
    client_phone: Option<String>,
    #[schema(max_length = 255, example = "john@example.com")]
    client_email: Option<String>,
    /// ISO 8601; without an offset in the tenant's time zone.
    #[schema(example = "2026-05-01T10:00:00")]
    starts_at: String,
    /// After `starts_at` (at most 31 days). Without it: `starts_at + duration_minutes`.
    #[schema(example = "2026-05-01T11:00:00")]
    ends_at: Option<String>,
    /// Without `ends_at` (default 60); with it, it must match.
    #[schema(minimum = 1, maximum = 44640)]
    duration_minutes: Option<i64>,
    /// `#rrggbb` (default `#3b82f6`).
    #[schema(example = "#3b82f6")]
    color: Option<String>,
    /// Minutes before `starts_at` the client gets a WhatsApp reminder (0 to 10080); `null`:
    /// none. Needs `client_phone`.
    #[schema(minimum = 0, maximum = 10080, example = 30)]
    reminder_minutes: Option<i32>,
    #[schema(max_length = 500, example = "Online - Google Meet")]
    location: Option<String>,
    #[schema(max_length = 10000)]
    notes: Option<String>,
}

/// `PUT /calendar/appointments/{uuid}`: the fields given replace the stored ones (`null`
/// clears the optional ones); moving `starts_at` alone keeps the duration.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AppointmentUpdateBody)]
#[allow(dead_code)]
pub struct UpdateBody {
    /// Move it to another instance of the caller's.
    #[schema(schema_with = instance_ref_schema)]
    instance_id: Option<Value>,
    #[schema(max_length = 255)]
    title: Option<String>,
    description: Option<String>,
    client_name: Option<String>,
    client_phone: Option<String>,
    client_email: Option<String>,
    #[schema(example = "2026-05-01T14:00:00")]
    starts_at: Option<String>,
    ends_at: Option<String>,
    #[schema(minimum = 1, maximum = 44640)]
    duration_minutes: Option<i64>,
    /// A transition as the routes make them (`confirmed`, `completed`, `cancelled`), or
    /// `no_show` from `scheduled` or `confirmed`; others are 409.
    #[schema(value_type = Option<Status>)]
    status: Option<String>,
    color: Option<String>,
    #[schema(minimum = 0, maximum = 10080)]
    reminder_minutes: Option<i32>,
    location: Option<String>,
    notes: Option<String>,
}

/// `POST /calendar/appointments/{uuid}/to-kanban`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AppointmentToKanbanBody)]
pub struct ToKanbanBody {
    /// The board; default the appointment's instance's default board.
    #[schema(value_type = Option<String>, format = Uuid)]
    board_uuid: Option<Value>,
}

/// List appointments
///
/// The appointments starting in a range (default the current month in the tenant's time
/// zone), by start time, paginated.
#[utoipa::path(
    get,
    path = "/calendar/appointments",
    tag = "Calendar",
    operation_id = "calendar_appointments_list",
    params(ListQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "A page of appointments and the range listed.",
            body = ListResponse, example = list_example),
        (status = 403, description = "With an `sk_` token, `instance_id` names another instance (`INSTANCE_FORBIDDEN`)", body = ErrorEnvelope),
        (status = 404, description = "`instance_id` names no instance of the tenant (`INSTANCE_NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "A bad `start`, `end` (before `start`, more than 366 days later), `status`, `page` or `per_page` (`VALIDATION_ERROR`, naming it)", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(s): State<AppState>,
    Auth(c): Auth,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    let params = Params::parse(q);
    let page = params.page(50)?;
    let status = params
        .get("status")
        .map(|v| {
            Status::parse(v).ok_or_else(|| {
                AppError::validation(
                    "status",
                    format!("The status must be one of: {}.", Status::names()),
                )
            })
        })
        .transpose()?;
    let result = s
        .services
        .list_appointments(
            &c,
            AppointmentFilter {
                instance: params.get("instance_id").map(|v| v.trim().to_owned()),
                start: params.get("start").map(str::to_owned),
                end: params.get("end").map(str::to_owned),
                status,
                page: page.page,
                per_page: page.per_page,
            },
        )
        .await?;
    Ok(axum::Json(ListResponse {
        success: true,
        data: result.items,
        meta: ListMeta {
            pagination: page.pagination(result.total),
            range: RangeView {
                start: result.start,
                end: result.end,
            },
        },
    }))
}

/// Create an appointment
///
/// Books an appointment (`scheduled`). With `reminder_minutes` and `client_phone`, the
/// client gets a WhatsApp reminder through the instance at `starts_at - reminder_minutes`.
#[utoipa::path(
    post,
    path = "/calendar/appointments",
    tag = "Calendar",
    operation_id = "calendar_appointments_create",
    request_body(content = CreateBody, example = json!({
        "title": "Consultation with John Doe",
        "client_name": "John Doe",
        "client_phone": "5511999999999",
        "client_email": "john@example.com",
        "starts_at": "2026-05-01T10:00:00",
        "ends_at": "2026-05-01T11:00:00",
        "location": "Online - Google Meet",
        "reminder_minutes": 30
    })),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 201, description = "Created.", body = ApiResponse<AppointmentView>,
            example = created_example),
        (status = 403, description = "With an `sk_` token, `instance_id` names another instance (`INSTANCE_FORBIDDEN`)", body = ErrorEnvelope),
        (status = 404, description = "`instance_id` names no instance of the tenant (`INSTANCE_NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "A field is missing or invalid, `ends_at` is not after `starts_at`, or a user token gave no `instance_id` (`VALIDATION_ERROR`, naming each field)", body = ErrorEnvelope),
    )
)]
pub async fn create(
    State(s): State<AppState>,
    Auth(c): Auth,
    Json(b): Json<Map<String, Value>>,
) -> AppResult<impl IntoResponse> {
    let a = s.services.create_appointment(&c, b).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ApiResponse::message_data(
            "Appointment created successfully",
            a,
        )),
    ))
}

/// Get an appointment
#[utoipa::path(
    get,
    path = "/calendar/appointments/{uuid}",
    tag = "Calendar",
    operation_id = "calendar_appointments_show",
    params(("uuid" = String, Path, description = "The appointment's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The appointment.", body = ApiResponse<AppointmentView>,
            example = shown_example),
        (status = 404, description = NOT_FOUND_404, body = ErrorEnvelope),
    )
)]
pub async fn show(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    Ok(axum::Json(ApiResponse::data(
        s.services.get_appointment(&c, &id).await?,
    )))
}

/// Update an appointment
///
/// Changes the fields given, or the status (`no_show` is set here). Moving the time moves
/// the reminder; a reminder already sent for a time is not sent again for it.
#[utoipa::path(
    put,
    path = "/calendar/appointments/{uuid}",
    tag = "Calendar",
    operation_id = "calendar_appointments_update",
    params(("uuid" = String, Path, description = "The appointment's UUID")),
    request_body(content = Option<UpdateBody>,
        example = json!({"starts_at": "2026-05-01T14:00:00", "reminder_minutes": 60})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Updated.", body = ApiResponse<AppointmentView>),
        (status = 403, description = "With an `sk_` token, `instance_id` names another instance (`INSTANCE_FORBIDDEN`)", body = ErrorEnvelope),
        (status = 404, description = "No such appointment, or `instance_id` names no instance of the tenant (`NOT_FOUND`, `INSTANCE_NOT_FOUND`)", body = ErrorEnvelope),
        (status = 409, description = CONFLICT_409, body = ErrorEnvelope),
        (status = 422, description = "A field is invalid (`VALIDATION_ERROR`, naming each field)", body = ErrorEnvelope),
    )
)]
pub async fn update(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<Map<String, Value>>,
) -> AppResult<impl IntoResponse> {
    let a = s.services.update_appointment(&c, &id, b).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Appointment updated successfully",
        a,
    )))
}

/// Delete an appointment
///
/// Deletes it; its pending reminder is dropped.
#[utoipa::path(
    delete,
    path = "/calendar/appointments/{uuid}",
    tag = "Calendar",
    operation_id = "calendar_appointments_delete",
    params(("uuid" = String, Path, description = "The appointment's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Deleted.", body = MessageOnly,
            example = json!({"success": true, "message": "Appointment deleted successfully"})),
        (status = 404, description = NOT_FOUND_404, body = ErrorEnvelope),
    )
)]
pub async fn delete(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    s.services.delete_appointment(&c, &id).await?;
    Ok(axum::Json(ApiResponse::<()>::message_only(
        "Appointment deleted successfully",
    )))
}

async fn transition(
    s: &AppState,
    c: &crate::domain::Caller,
    id: &str,
    to: Status,
    message: &str,
) -> AppResult<axum::Json<ApiResponse<AppointmentView>>> {
    let a = s.services.transition_appointment(c, id, to).await?;
    Ok(axum::Json(ApiResponse::message_data(message, a)))
}

/// Confirm an appointment
///
/// `scheduled` → `confirmed`.
#[utoipa::path(
    post,
    path = "/calendar/appointments/{uuid}/confirm",
    tag = "Calendar",
    operation_id = "calendar_appointments_confirm",
    params(("uuid" = String, Path, description = "The appointment's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Confirmed.", body = ApiResponse<AppointmentView>),
        (status = 404, description = NOT_FOUND_404, body = ErrorEnvelope),
        (status = 409, description = CONFLICT_409, body = ErrorEnvelope),
    )
)]
pub async fn confirm(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    transition(&s, &c, &id, Status::Confirmed, "Appointment confirmed").await
}

/// Complete an appointment
///
/// `confirmed` → `completed`.
#[utoipa::path(
    post,
    path = "/calendar/appointments/{uuid}/complete",
    tag = "Calendar",
    operation_id = "calendar_appointments_complete",
    params(("uuid" = String, Path, description = "The appointment's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Completed.", body = ApiResponse<AppointmentView>),
        (status = 404, description = NOT_FOUND_404, body = ErrorEnvelope),
        (status = 409, description = CONFLICT_409, body = ErrorEnvelope),
    )
)]
pub async fn complete(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    transition(&s, &c, &id, Status::Completed, "Appointment completed").await
}

/// Cancel an appointment
///
/// `scheduled` or `confirmed` → `cancelled` (a completed appointment cannot be cancelled);
/// its pending reminder is dropped.
#[utoipa::path(
    post,
    path = "/calendar/appointments/{uuid}/cancel",
    tag = "Calendar",
    operation_id = "calendar_appointments_cancel",
    params(("uuid" = String, Path, description = "The appointment's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Cancelled.", body = ApiResponse<AppointmentView>),
        (status = 404, description = NOT_FOUND_404, body = ErrorEnvelope),
        (status = 409, description = CONFLICT_409, body = ErrorEnvelope),
    )
)]
pub async fn cancel(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    transition(&s, &c, &id, Status::Cancelled, "Appointment cancelled").await
}

/// Create a Kanban lead from an appointment
///
/// A lead in `board_uuid` (default: the appointment's instance's default board) with the
/// client's name, phone and email, linked to the appointment. An appointment has one lead:
/// calling again answers it (200) instead of creating another.
#[utoipa::path(
    post,
    path = "/calendar/appointments/{uuid}/to-kanban",
    tag = "Calendar",
    operation_id = "calendar_appointments_to_kanban",
    params(("uuid" = String, Path, description = "The appointment's UUID")),
    request_body(content = Option<ToKanbanBody>,
        example = json!({"board_uuid": "3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b"})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 201, description = "The lead, created.", body = ApiResponse<Object>),
        (status = 200, description = "The appointment's lead, made earlier.", body = ApiResponse<Object>),
        (status = 403, description = "Kanban is not enabled for the tenant (`KANBAN_NOT_ENABLED`)", body = ErrorEnvelope),
        (status = 404, description = "No such appointment, or `board_uuid` names no board of this token, or the instance has no default board (`NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "`board_uuid` is not a UUID (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn to_kanban(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<ToKanbanBody>,
) -> AppResult<impl IntoResponse> {
    let board =
        match b.board_uuid {
            None | Some(Value::Null) => None,
            Some(Value::String(v)) if v.trim().is_empty() => None,
            Some(Value::String(v)) => Some(Uuid::parse_str(v.trim()).map_err(|_| {
                AppError::validation("board_uuid", "The board_uuid must be a UUID.")
            })?),
            Some(_) => {
                return Err(AppError::validation(
                    "board_uuid",
                    "The board_uuid must be a UUID.",
                ));
            }
        };
    let r = s.services.appointment_to_kanban(&c, &id, board).await?;
    let (status, message) = if r.created {
        (StatusCode::CREATED, "Lead created from the appointment")
    } else {
        (StatusCode::OK, "The appointment's lead")
    };
    Ok((
        status,
        axum::Json(ApiResponse::message_data(message, r.lead)),
    ))
}
