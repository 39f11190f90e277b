//! Liveness and readiness.

use actix_web::{HttpResponse, get, web};

use crate::dto::{HealthDto, ProblemDto};
use crate::{ApiError, AppState};

/// Liveness: the process serves requests.
#[utoipa::path(
    get,
    path = "/health/live",
    tag = "health",
    operation_id = "live",
    responses((status = 200, description = "Alive.", body = HealthDto)),
)]
#[get("/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(HealthDto { status: "ok".to_owned() })
}

/// Readiness: the store answers.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "health",
    operation_id = "ready",
    responses(
        (status = 200, description = "Ready: the store answers.", body = HealthDto),
        (status = 503, description = "Not ready: the store is unreachable.", body = ProblemDto, content_type = "application/problem+json", example = json!({"type": "about:blank", "title": "Service Unavailable", "status": 503, "detail": "the user store is unavailable; nothing was written, try again shortly"})),
    ),
)]
#[get("/health/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.readiness.execute().await.map_err(ApiError::NotReady)?;
    Ok(HttpResponse::Ok().json(HealthDto { status: "ok".to_owned() }))
}
