//! `POST …/users` (bulk import) and `GET …/users/report/{reportId}`.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, LOCATION};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use futures_util::StreamExt;
use roster_application::{ReportError, ReportStatus, StartError, StartImport, Upload, UploadError, parse_flag};
use roster_domain::{Issue, IssueCode};

use crate::bulk_body::{BodyError, BulkParser, JsonItems};
use crate::dto::{ProblemDto, ReportDto};
use crate::media::{BulkFormat, bulk_format, negotiate};
use crate::routes::user::{json_response, query_value};
use crate::{ApiError, AppState};

/// The bulk body limit (SPEC §5): 256 MiB.
pub const MAX_IMPORT_BYTES: usize = 256 * 1024 * 1024;

fn report_path(namespace: &str, report_id: &str) -> String {
    format!("/api-ext/domain/{namespace}/users/report/{report_id}")
}

fn too_large() -> ApiError {
    ApiError::TooLarge(format!(
        "the body is larger than {MAX_IMPORT_BYTES} bytes (256 MiB); split the import into several, one after the other"
    ))
}

fn upload_error(e: UploadError) -> ApiError {
    match e {
        UploadError::TooMany { max } => ApiError::TooLarge(format!(
            "an import holds at most {max} users; split it into several, one after the other"
        )),
        UploadError::Unavailable(e) => ApiError::Store(e),
        UploadError::Lost => ApiError::Conflict(
            "the import was dropped while its body arrived (no progress for longer than the import lease); send it again"
                .to_owned(),
        ),
    }
}

/// Upsert many users in the background — or, by default, try them (`commit=false`).
///
/// The body is a JSON array of users (the shape of `POST …/user`), or
/// `text/csv`: a header row naming the fields in any order, then one user a
/// row (RFC 4180 quoting, UTF-8); `roles` and `teams` are `;`-separated
/// lists, `telephonyConfigurations` is `platform:agentId[:extension]`
/// items separated by `;`; empty list items are ignored and an empty cell
/// is an absent field. At most 200,000 users and 256 MiB (413 beyond).
///
/// The body is parsed as it arrives and kept in the store; once it is
/// whole, the answer is **202** with the report (`status: inprogress`,
/// `summary.received`) and a `Location` to follow it. The import then runs
/// in the background, chunk by chunk — each chunk's users, their outcomes
/// and the progress written in one transaction — and resumes after a crash
/// or restart (in this or another process on the same store) without
/// writing any user twice.
///
/// Rules beyond the single upsert's: a later row with the `userId`, email
/// or telephony identity of an earlier valid row is a `duplicate` error (the
/// first is imported); `supervisorId`/`coachId` may name users anywhere in
/// the import; rows are processed in input order, so a user releasing an
/// email lets a *later* row take it. An element that is not JSON, or a CSV
/// row with too many fields, is an error on that row; a body that is not a
/// JSON array (or CSV without a header), or is empty, is answered **400**
/// with a failed report. `index` in the report is the position in the input
/// (for CSV, the data row from 0, the header not counted).
///
/// Only one import runs per namespace at a time, across every roster
/// process sharing the store: another gets **409**.
#[utoipa::path(
    post,
    path = "/api-ext/domain/{namespace}/users",
    tag = "users",
    operation_id = "importUsers",
    security(("oauth2" = []), ("bearer" = [])),
    params(
        ("namespace" = String, Path, description = "The client namespace (tenant).", pattern = "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", example = "acme"),
        ("commit" = Option<bool>, Query, description = "`true` stores the valid users; `false` (the default here) is a dry run: the same validation and report, nothing stored. Exactly `true` or `false`, case-insensitive; anything else is a 400 naming the parameter."),
        ("forceCommit" = Option<bool>, Query, description = "`true` writes users even when they are `unchanged`. Default `false`. Exactly `true` or `false`, case-insensitive."),
    ),
    request_body(
        description = "A JSON array of users, or text/csv with a header row. At most 200,000 users and 256 MiB.",
        content(
            (crate::dto::UserListDto = "application/json"),
            (crate::dto::UserListDto = "application/vnd.cogitocorp.v1+json"),
            (String = "text/csv", example = "userId,firstName,lastName,jobTitle,status,organization,contactCenter,site,roles,telephonyConfigurations,email\na-1001,Ann,Lee,Agent,Active,Acme Corp,Boston,Boston-1,Agent;Trainer,Genesys Cloud:10042:4042,ann.lee@example.com\n"),
        ),
    ),
    responses(
        (status = 202, description = "Accepted: the report, `inprogress`; follow `Location`.",
            headers(("Location" = String, description = "The report: `/api-ext/domain/{namespace}/users/report/{reportId}`.")),
            content((ReportDto = "application/json", example = json!({
                "reportId": "0193a4e2-6f1c-7cc2-9d1e-5b0c3f8a2d43", "namespace": "acme", "kind": "bulk", "status": "inprogress",
                "commit": false, "forceCommit": false, "createdAt": "2026-12-04T10:00:00.000Z", "completedAt": null,
                "summary": {"received": 2500, "processed": 0, "valid": 0, "invalid": 0, "created": 0, "updated": 0, "unchanged": 0, "persisted": 0},
                "errors": [], "users": []
            })), (ReportDto = "application/vnd.cogitocorp.v1+json"))),
        (status = 400, description = "A failed report: a bad `commit`/`forceCommit` or namespace, a body that is not a JSON array (or CSV without a header), or no users. Nothing is imported.",
            content((ReportDto = "application/json"), (ReportDto = "application/vnd.cogitocorp.v1+json"))),
        (status = 401, description = "No usable bearer token.", body = ProblemDto, content_type = "application/problem+json"),
        (status = 403, description = "The token is for another namespace.", body = ProblemDto, content_type = "application/problem+json"),
        (status = 406, description = "`Accept` allows neither JSON media type.", body = ProblemDto, content_type = "application/problem+json"),
        (status = 409, description = "Another import of the namespace is running.", body = ProblemDto, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Conflict", "status": 409, "detail": "import 0193a4e2-6f1c-7cc2-9d1e-5b0c3f8a2d43 of namespace 'acme' is still running, and only one runs per namespace at a time; follow it at /api-ext/domain/acme/users/report/0193a4e2-6f1c-7cc2-9d1e-5b0c3f8a2d43 and send this import when it has finished"})),
        (status = 413, description = "More than 200,000 users, more than 256 MiB, or one user over 1 MiB. Nothing is imported.", body = ProblemDto, content_type = "application/problem+json"),
        (status = 415, description = "`Content-Type` is not JSON, the vendor type or `text/csv`.", body = ProblemDto, content_type = "application/problem+json"),
        (status = 500, description = "The store failed unexpectedly; nothing is imported.", body = ProblemDto, content_type = "application/problem+json"),
        (status = 503, description = "The store is unavailable; nothing is imported. Retry after the `Retry-After` seconds.", body = ProblemDto, content_type = "application/problem+json"),
    ),
)]
#[post("/api-ext/domain/{namespace}/users")]
pub async fn import_users(
    req: HttpRequest,
    namespace: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    crate::auth::authorize(&req, &state, &namespace).await?;
    let response_type = negotiate(&req)?;
    let format = bulk_format(&req)?;
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_IMPORT_BYTES) {
        return Err(too_large());
    }
    let request = StartImport {
        namespace: namespace.into_inner(),
        commit: query_value(&req, "commit"),
        force_commit: query_value(&req, "forceCommit"),
    };
    let upload = match state.bulk.start(request).await {
        Ok(upload) => upload,
        Err(StartError::Refused(report)) => {
            return Ok(json_response(StatusCode::BAD_REQUEST, response_type, &ReportDto::from(&*report)));
        }
        Err(StartError::Busy { report_id }) => {
            let ns = req.match_info().get("namespace").unwrap_or_default();
            return Err(ApiError::Conflict(format!(
                "import {report_id} of namespace '{ns}' is still running, and only one runs per namespace at a time; follow it at {} and send this import when it has finished",
                report_path(ns, &report_id)
            )));
        }
        Err(StartError::Unavailable(e)) => return Err(ApiError::Store(e)),
    };
    let parser = match format {
        BulkFormat::Json => BulkParser::Json(JsonItems::default()),
        BulkFormat::Csv => BulkParser::Csv(Box::default()),
    };
    let report = match receive(upload, parser, payload).await? {
        Received::Report(report) => report,
        Received::Refused(upload, message) => upload
            .refuse(Issue::new(
                "",
                if format == BulkFormat::Json { IssueCode::MalformedJson } else { IssueCode::InvalidFormat },
                message,
            ))
            .await
            .map_err(upload_error)?,
    };
    let status = match report.status {
        ReportStatus::InProgress => StatusCode::ACCEPTED,
        ReportStatus::Completed | ReportStatus::Failed => StatusCode::BAD_REQUEST,
    };
    let mut response = json_response(status, response_type, &ReportDto::from(&report));
    if status == StatusCode::ACCEPTED
        && let Ok(location) = report_path(&report.namespace, &report.report_id).parse()
    {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

enum Received {
    /// Accepted (in progress), or refused as empty (failed).
    Report(roster_application::Report),
    /// Not an import at all (not a JSON array, say): why.
    Refused(Upload, String),
}

/// Streams the body through `parser` into `upload`. An error drops the
/// import (`discard`, or the `Upload`'s drop).
async fn receive(mut upload: Upload, mut parser: BulkParser, mut payload: web::Payload) -> Result<Received, ApiError> {
    let mut items = Vec::new();
    let mut total = 0usize;
    let mut ended = false;
    while !ended {
        let parsed = match payload.next().await {
            Some(Err(e)) => Err(Ok(ApiError::BodyRead(e))),
            Some(Ok(chunk)) => {
                total += chunk.len();
                if total > MAX_IMPORT_BYTES {
                    Err(Ok(too_large()))
                } else {
                    parser.feed(&chunk, &mut items).map_err(Err)
                }
            }
            None => {
                ended = true;
                parser.finish(&mut items).map_err(Err)
            }
        };
        let failed = match parsed {
            Ok(()) => pass_on(&mut upload, &mut items).await.err().map(Ok),
            Err(failed) => Some(failed),
        };
        match failed {
            None => {}
            Some(Err(BodyError::Malformed(message))) => return Ok(Received::Refused(upload, message)),
            Some(Err(BodyError::ItemTooLarge(message))) => {
                upload.discard().await;
                return Err(ApiError::TooLarge(message));
            }
            Some(Ok(error)) => {
                upload.discard().await;
                return Err(error);
            }
        }
    }
    upload.finish().await.map(Received::Report).map_err(upload_error)
}

/// Hands the parsed items to the upload.
async fn pass_on(upload: &mut Upload, items: &mut Vec<roster_application::InputItem>) -> Result<(), ApiError> {
    for item in items.drain(..) {
        upload.push(item).await.map_err(upload_error)?;
    }
    Ok(())
}

/// A report: of a bulk import (with its progress while it runs) or of a
/// single upsert.
///
/// While an import runs, `status` is `inprogress`, `summary.processed`
/// counts the users done so far out of `summary.received`, and `users`
/// holds their outcomes. At the end `status` is `completed` (no user has
/// an error) or `failed`. Reports of other namespaces are 404.
/// `includeUsers=false` leaves `users` out (cheap polling of a big import).
#[utoipa::path(
    get,
    path = "/api-ext/domain/{namespace}/users/report/{reportId}",
    tag = "users",
    operation_id = "getReport",
    security(("oauth2" = []), ("bearer" = [])),
    params(
        ("namespace" = String, Path, description = "The client namespace (tenant).", pattern = "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", example = "acme"),
        ("reportId" = String, Path, description = "The report's id, from an upsert's or an import's answer.", example = "0193a4e2-6f1c-7cc2-9d1e-5b0c3f8a2d43"),
        ("includeUsers" = Option<bool>, Query, description = "`false` leaves out `users` (the summary alone, for polling). Default `true`. Exactly `true` or `false`, case-insensitive."),
    ),
    responses(
        (status = 200, description = "The report.", content((ReportDto = "application/json"), (ReportDto = "application/vnd.cogitocorp.v1+json"))),
        (status = 400, description = "The namespace or `includeUsers` is invalid.", body = ProblemDto, content_type = "application/problem+json"),
        (status = 401, description = "No usable bearer token.", body = ProblemDto, content_type = "application/problem+json"),
        (status = 403, description = "The token is for another namespace.", body = ProblemDto, content_type = "application/problem+json"),
        (status = 404, description = "The namespace has no such report.", body = ProblemDto, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Not Found", "status": 404, "detail": "namespace 'acme' has no report '0193a4e2-6f1c-7cc2-9d1e-5b0c3f8a2d43'"})),
        (status = 406, description = "`Accept` allows neither JSON media type.", body = ProblemDto, content_type = "application/problem+json"),
        (status = 500, description = "The store failed unexpectedly.", body = ProblemDto, content_type = "application/problem+json"),
        (status = 503, description = "The store is unavailable.", body = ProblemDto, content_type = "application/problem+json"),
    ),
)]
#[get("/api-ext/domain/{namespace}/users/report/{reportId}")]
pub async fn get_report(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (namespace, report_id) = path.into_inner();
    crate::auth::authorize(&req, &state, &namespace).await?;
    let response_type = negotiate(&req)?;
    let include_users = parse_flag("includeUsers", query_value(&req, "includeUsers").as_deref(), true)
        .map_err(|issue| ApiError::BadRequest(issue.message))?;
    match state.bulk.report(&namespace, &report_id, include_users).await {
        Ok(Some(report)) => Ok(json_response(StatusCode::OK, response_type, &ReportDto::from(&report))),
        Ok(None) => Err(ApiError::NotFound(format!("namespace '{namespace}' has no report '{report_id}'"))),
        Err(ReportError::InvalidNamespace(message)) => Err(ApiError::BadRequest(message)),
        Err(ReportError::Unavailable(e)) => Err(ApiError::Store(e)),
    }
}
