//! `POST …/user` and `GET …/user/{userId}`.

use actix_web::http::StatusCode;
use actix_web::web::{self, BytesMut};
use actix_web::{HttpRequest, HttpResponse, get, post};
use futures_util::StreamExt;
use roster_application::{Body, ReportStatus, UpsertRequest};

use crate::dto::{ProblemDto, ReportDto, UserDto};
use crate::error::MAX_BODY_BYTES;
use crate::json::parse_body;
use crate::media::{ResponseType, check_content_type, negotiate};
use crate::{ApiError, AppState};

/// Create or update one user — or, with commit=false, try it.
///
/// The user is validated in full (every problem at once), planned against
/// what is stored — `create`, `update` with the `changedFields`, `unchanged`,
/// or `none` when invalid — and, when committing, written whole in one
/// transaction. The answer is always a processing report: **200** when it is
/// `completed` (warnings allowed), **400** when `failed` (any error, in the
/// user or in the request: a malformed body, a bad `commit`/`forceCommit`
/// value, an invalid namespace). A body that is not JSON, or JSON of the
/// wrong shape, is also answered with a report.
///
/// Decisions where the contract is silent: an optional field that is absent,
/// `null` or blank is treated as absent; lists are compared as sets, so the
/// same roles in another order are `unchanged`; `supervisorName` is compared
/// case-insensitively; a request-level error leaves `users` empty and
/// `summary.received` at 0.
#[utoipa::path(
    post,
    path = "/api-ext/domain/{namespace}/user",
    tag = "users",
    operation_id = "upsertUser",
    security(("oauth2" = []), ("bearer" = [])),
    params(
        ("namespace" = String, Path, description = "The client namespace (tenant).", pattern = "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", example = "acme"),
        ("commit" = Option<bool>, Query, description = "`true` (default) stores a valid user; `false` is a dry run: the same validation and report, nothing stored. Exactly `true` or `false`, case-insensitive; anything else is a 400 naming the parameter."),
        ("forceCommit" = Option<bool>, Query, description = "`true` writes the user even when it is `unchanged`. Default `false`. Exactly `true` or `false`, case-insensitive."),
    ),
    request_body(
        description = "One user. At most 1 MiB.",
        content(
            (UserDto = "application/json"),
            (UserDto = "application/vnd.cogitocorp.v1+json"),
        ),
    ),
    responses(
        (status = 200, description = "Report `completed`: the user is valid; with `commit=true` it is stored (or `unchanged`).",
            content((ReportDto = "application/json"), (ReportDto = "application/vnd.cogitocorp.v1+json"))),
        (status = 400, description = "Report `failed`: the errors, with field paths; nothing was stored.",
            content((ReportDto = "application/json", example = json!({
                "reportId": "0193a4e2-6f1c-7cc2-9d1e-5b0c3f8a2d42", "namespace": "acme", "kind": "single", "status": "failed",
                "commit": true, "forceCommit": false, "createdAt": "2026-12-04T10:00:00.000Z", "completedAt": "2026-12-04T10:00:00.001Z",
                "summary": {"received": 1, "processed": 1, "valid": 0, "invalid": 1, "created": 0, "updated": 0, "unchanged": 0, "persisted": 0},
                "errors": [],
                "users": [{"index": 0, "userId": "a-1001", "action": "none", "persisted": false, "changedFields": [],
                    "errors": [{"field": "status", "code": "invalid_value", "message": "status must be one of: Active, Inactive", "value": "active"}],
                    "warnings": [{"field": "emial", "code": "unknown_field", "message": "unknown field 'emial' is ignored"}]}]
            })), (ReportDto = "application/vnd.cogitocorp.v1+json"))),
        (status = 401, description = "No bearer token, or one that is malformed, forged, expired or of a revoked client. `WWW-Authenticate: Bearer` says so.", body = ProblemDto, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "this call needs 'Authorization: Bearer <token>'; get a token with your client credentials from POST /api-ext/domain/{namespace}/token (or POST /api-ext/token; in Swagger UI: Authorize)"})),
        (status = 403, description = "The token is for another namespace.", body = ProblemDto, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Forbidden", "status": 403, "detail": "the token is for namespace 'globex', not 'acme'; use a client registered for 'acme'"})),
        (status = 406, description = "`Accept` allows neither JSON media type.", body = ProblemDto, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Not Acceptable", "status": 406, "detail": "responses are application/json or application/vnd.cogitocorp.v1+json; send an Accept header that allows one of them"})),
        (status = 413, description = "The body is larger than 1 MiB.", body = ProblemDto, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Payload Too Large", "status": 413, "detail": "the body is larger than 1048576 bytes (1 MiB); send one user per request, or use the bulk endpoint"})),
        (status = 415, description = "`Content-Type` is not `application/json` or `application/vnd.cogitocorp.v1+json`.", body = ProblemDto, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Unsupported Media Type", "status": 415, "detail": "send the body as Content-Type: application/json or application/vnd.cogitocorp.v1+json (UTF-8); got 'text/plain'"})),
(status = 500, description = "The store failed unexpectedly; nothing was written. The cause is logged with the request id.", body = ProblemDto, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Internal Server Error", "status": 500, "detail": "internal error; nothing was written, and the cause was logged"})),
        (status = 503, description = "The store is unavailable; nothing was written. Retry after the `Retry-After` seconds.", body = ProblemDto, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Service Unavailable", "status": 503, "detail": "the user store is unavailable; nothing was written, try again shortly"})),
    ),
)]
#[post("/api-ext/domain/{namespace}/user")]
pub async fn upsert_user(
    req: HttpRequest,
    namespace: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    crate::auth::authorize(&req, &state, &namespace).await?;
    let response_type = negotiate(&req)?;
    check_content_type(&req)?;
    let bytes = read_body(&req, payload).await?;
    let body = match parse_body(&bytes) {
        Ok(raw) => Body::Document(raw),
        Err(message) => Body::Malformed(message),
    };
    let request = UpsertRequest {
        namespace: namespace.into_inner(),
        commit: query_value(&req, "commit"),
        force_commit: query_value(&req, "forceCommit"),
        body,
    };
    let report = state.upsert_user.execute(request).await?;
    let status = match report.status {
        ReportStatus::Completed => StatusCode::OK,
        ReportStatus::Failed | ReportStatus::InProgress => StatusCode::BAD_REQUEST,
    };
    Ok(json_response(status, response_type, &ReportDto::from(&report)))
}

/// The stored user.
#[utoipa::path(
    get,
    path = "/api-ext/domain/{namespace}/user/{userId}",
    tag = "users",
    operation_id = "getUser",
    security(("oauth2" = []), ("bearer" = [])),
    params(
        ("namespace" = String, Path, description = "The client namespace (tenant).", pattern = "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", example = "acme"),
        ("userId" = String, Path, description = "The user's key.", example = "a-1001"),
    ),
    responses(
        (status = 200, description = "The user as stored, dates resolved.",
            content((UserDto = "application/json"), (UserDto = "application/vnd.cogitocorp.v1+json"))),
        (status = 400, description = "The namespace is invalid.", body = ProblemDto, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Bad Request", "status": 400, "detail": "namespace '-acme' is invalid: 1-64 characters: letters, digits, '_' and '-', starting with a letter or digit"})),
        (status = 404, description = "The namespace has no such user.", body = ProblemDto, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Not Found", "status": 404, "detail": "namespace 'acme' has no user 'a-1001'"})),
        (status = 401, description = "No bearer token, or one that is malformed, forged, expired or of a revoked client. `WWW-Authenticate: Bearer` says so.", body = ProblemDto, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "this call needs 'Authorization: Bearer <token>'; get a token with your client credentials from POST /api-ext/domain/{namespace}/token (or POST /api-ext/token; in Swagger UI: Authorize)"})),
        (status = 403, description = "The token is for another namespace.", body = ProblemDto, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Forbidden", "status": 403, "detail": "the token is for namespace 'globex', not 'acme'; use a client registered for 'acme'"})),
        (status = 406, description = "`Accept` allows neither JSON media type.", body = ProblemDto, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Not Acceptable", "status": 406, "detail": "responses are application/json or application/vnd.cogitocorp.v1+json; send an Accept header that allows one of them"})),
(status = 500, description = "The store failed unexpectedly; The cause is logged with the request id.", body = ProblemDto, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Internal Server Error", "status": 500, "detail": "internal error; nothing was written, and the cause was logged"})),
        (status = 503, description = "The store is unavailable.", body = ProblemDto, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Service Unavailable", "status": 503, "detail": "the user store is unavailable; nothing was written, try again shortly"})),
    ),
)]
#[get("/api-ext/domain/{namespace}/user/{userId}")]
pub async fn get_user(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (namespace, user_id) = path.into_inner();
    crate::auth::authorize(&req, &state, &namespace).await?;
    let response_type = negotiate(&req)?;
    let user = state.get_user.execute(&namespace, &user_id).await?;
    Ok(json_response(StatusCode::OK, response_type, &UserDto::from(&user)))
}

pub(crate) fn json_response<T: serde::Serialize>(
    status: StatusCode,
    response_type: ResponseType,
    body: &T,
) -> HttpResponse {
    match serde_json::to_vec(body) {
        Ok(bytes) => HttpResponse::build(status).content_type(response_type.as_str()).body(bytes),
        Err(e) => {
            tracing::error!(error = %e, "a response could not be serialised");
            crate::error::problem_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

/// A query parameter's value as sent; a repeated parameter is all of its
/// values joined by `,` (so it is refused as ambiguous, never guessed).
pub(crate) fn query_value(req: &HttpRequest, name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let values: Vec<&str> = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect();
    (!values.is_empty()).then(|| values.join(","))
}

/// Reads the body, refusing more than [`MAX_BODY_BYTES`] (413) before
/// buffering it.
async fn read_body(req: &HttpRequest, mut payload: web::Payload) -> Result<BytesMut, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(8 * 1024));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(ApiError::BodyRead)?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
