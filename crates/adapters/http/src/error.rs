//! Every error that is not a processing report: an RFC 9457 problem document.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use problem_details::{ProblemDetails, ProblemType};
use roster_application::{GetUserError, RepositoryError, UpsertError, error_chain};

use crate::media::PROBLEM_JSON;

/// The single-user body limit (SPEC §2).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("no acceptable media type")]
    NotAcceptable,
    #[error("the body is larger than the limit")]
    PayloadTooLarge,
    /// `csv`: whether `text/csv` is allowed too (the bulk endpoint).
    #[error("unsupported media type")]
    UnsupportedMediaType { got: Option<String>, csv: bool },
    /// A bulk body over a limit (413), saying which.
    #[error("{0}")]
    TooLarge(String),
    /// The namespace's import slot is taken (409).
    #[error("{0}")]
    Conflict(String),
    #[error("the body could not be read")]
    BodyRead(#[source] actix_web::error::PayloadError),
    /// The store failed: 503 when it is unreachable (try again), 500 when
    /// it answered with something unexpected. Nothing was written either way.
    #[error("the store failed")]
    Store(#[source] RepositoryError),
    /// Readiness: whatever the store's failure, the service is not ready.
    #[error("the store is not ready")]
    NotReady(#[source] RepositoryError),
    /// No usable bearer token (401): `token_given` says whether one was
    /// sent (then `WWW-Authenticate` says `error="invalid_token"`).
    #[error("{detail}")]
    Unauthorized { detail: String, token_given: bool },
    /// A good token for another namespace (403).
    #[error("{0}")]
    Forbidden(String),
}

impl From<UpsertError> for ApiError {
    fn from(e: UpsertError) -> Self {
        match e {
            UpsertError::Unavailable(source) => ApiError::Store(source),
        }
    }
}

impl From<GetUserError> for ApiError {
    fn from(e: GetUserError) -> Self {
        match e {
            GetUserError::InvalidNamespace(message) => ApiError::BadRequest(message),
            e @ GetUserError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            GetUserError::Unavailable(source) => ApiError::Store(source),
        }
    }
}

impl ApiError {
    /// What the client is told. 5xx details stay opaque; the cause chain is
    /// logged once, at the boundary, by the request's span.
    fn detail(&self) -> String {
        match self {
            ApiError::BadRequest(message) | ApiError::NotFound(message) | ApiError::Forbidden(message) => {
                message.clone()
            }
            ApiError::Unauthorized { detail, .. } => detail.clone(),
            ApiError::MethodNotAllowed { allow } => format!("this resource allows only: {allow}"),
            ApiError::NotAcceptable => {
                "responses are application/json or application/vnd.cogitocorp.v1+json; send an Accept header that allows one of them".to_owned()
            }
            ApiError::PayloadTooLarge => {
                format!("the body is larger than {MAX_BODY_BYTES} bytes (1 MiB); send one user per request, or use the bulk endpoint")
            }
            ApiError::UnsupportedMediaType { got, csv } => format!(
                "send the body as Content-Type: application/json{} or application/vnd.cogitocorp.v1+json (UTF-8); got {}",
                if *csv { ", text/csv" } else { "" },
                got.as_deref().map(|g| format!("'{g}'")).unwrap_or_else(|| "no Content-Type".to_owned())
            ),
            ApiError::TooLarge(message) | ApiError::Conflict(message) => message.clone(),
            ApiError::BodyRead(_) => "the request body could not be read completely; send it again".to_owned(),
            ApiError::Store(RepositoryError::Unavailable(_)) | ApiError::NotReady(_) => {
                "the user store is unavailable; nothing was written, try again shortly".to_owned()
            }
            ApiError::Store(RepositoryError::Internal(_) | RepositoryError::Conflict) => {
                "internal error; nothing was written, and the cause was logged".to_owned()
            }
        }
    }
}

/// A problem document for `status` with `detail`.
pub fn problem_response(status: StatusCode, detail: &str) -> HttpResponse {
    let http_status = http::StatusCode::from_u16(status.as_u16()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let problem = ProblemDetails::from_status_code(http_status).with_type(ProblemType::default()).with_detail(detail);
    HttpResponse::build(status).content_type(PROBLEM_JSON).json(problem)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::BodyRead(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ApiError::PayloadTooLarge | ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Store(RepositoryError::Unavailable(_)) | ApiError::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Store(RepositoryError::Internal(_) | RepositoryError::Conflict) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Store(source) | ApiError::NotReady(source) = self {
            tracing::error!(error = %error_chain(source), "the store failed");
        }
        let mut response = problem_response(self.status_code(), &self.detail());
        match self {
            ApiError::MethodNotAllowed { allow } => {
                if let Ok(v) = allow.parse() {
                    response.headers_mut().insert(actix_web::http::header::ALLOW, v);
                }
            }
            ApiError::Store(RepositoryError::Unavailable(_)) | ApiError::NotReady(_) => {
                response.headers_mut().insert(
                    actix_web::http::header::RETRY_AFTER,
                    actix_web::http::header::HeaderValue::from_static("5"),
                );
            }
            ApiError::Unauthorized { detail, token_given } => {
                let challenge = if *token_given {
                    format!(
                        r#"Bearer realm="roster", error="invalid_token", error_description="{}""#,
                        detail.replace('"', "'")
                    )
                } else {
                    r#"Bearer realm="roster""#.to_owned()
                };
                if let Ok(v) = challenge.parse() {
                    response.headers_mut().insert(actix_web::http::header::WWW_AUTHENTICATE, v);
                }
            }
            ApiError::Store(RepositoryError::Internal(_) | RepositoryError::Conflict)
            | ApiError::Forbidden(_)
            | ApiError::BadRequest(_)
            | ApiError::NotFound(_)
            | ApiError::NotAcceptable
            | ApiError::PayloadTooLarge
            | ApiError::TooLarge(_)
            | ApiError::Conflict(_)
            | ApiError::UnsupportedMediaType { .. }
            | ApiError::BodyRead(_) => {}
        }
        response
    }
}
