//! roster's HTTP adapter (driving): actix-web handlers, DTOs, problem
//! documents, content negotiation and the served OpenAPI spec.
//!
//! Routes are registered through utoipa-actix-web ([`api`]), so the spec is
//! collected from exactly what is served.
#![forbid(unsafe_code)]

mod auth;
mod bulk_body;
mod dto;
mod error;
mod json;
mod media;
mod middleware;
mod routes;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use roster_application::auth::Authenticate;
use roster_application::{BulkImport, CheckReadiness, GetUser, UpsertUser};
use tracing_actix_web::TracingLogger;
use utoipa::openapi::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

pub use error::{ApiError, MAX_BODY_BYTES};
pub use media::{JSON, PROBLEM_JSON, VENDOR_JSON};

/// Where the spec and Swagger UI are served.
pub const OPENAPI_PATH: &str = "/api-docs/openapi.json";
pub const SWAGGER_UI_PATH: &str = "/swagger-ui/";

/// The use cases the handlers call.
pub struct AppState {
    pub upsert_user: UpsertUser,
    pub get_user: GetUser,
    pub readiness: CheckReadiness,
    pub bulk: BulkImport,
    /// `None` when authentication is off (`ROSTER_AUTH=off`, development).
    pub auth: Option<Arc<Authenticate>>,
}

/// Registers every API route; the OpenAPI paths are collected from here.
pub fn api(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(routes::user::upsert_user)
        .service(routes::user::get_user)
        .service(routes::bulk::import_users)
        .service(routes::bulk::get_report)
        .service(routes::token::issue_token)
        .service(routes::token::issue_token_for_client_namespace)
        .service(routes::health::live)
        .service(routes::health::ready);
}

/// The whole application: the API, the spec, Swagger UI, problem documents
/// for every error, request ids and request logging.
pub fn app(
    state: web::Data<AppState>,
    spec: Arc<OpenApi>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let allowed = Arc::new(middleware::AllowedMethods::from_spec(&spec));
    App::new()
        .app_data(state)
        .into_utoipa_app()
        .configure(api)
        .into_app()
        .service(SwaggerUi::new("/swagger-ui/{_:.*}").url(OPENAPI_PATH, (*spec).clone()))
        .service(web::redirect("/swagger-ui", SWAGGER_UI_PATH))
        .default_service(web::to({
            let allowed = allowed.clone();
            move |req| {
                let allowed = allowed.clone();
                async move { middleware::no_route(req, &allowed).await }
            }
        }))
        .wrap(ErrorHandlers::new().default_handler(move |res| middleware::into_problem(res, &allowed)))
        .wrap(from_fn(middleware::request_id_and_access_log))
        .wrap(TracingLogger::<middleware::RequestSpan>::new())
}

/// Serves [`app`] on `listener`. Signals are not handled here: the caller
/// stops the returned server (gracefully) on SIGTERM/SIGINT.
pub fn serve(listener: TcpListener, state: AppState, spec: OpenApi, workers: usize) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let spec = Arc::new(spec);
    Ok(HttpServer::new(move || app(state.clone(), spec.clone()))
        .workers(workers.max(1))
        .disable_signals()
        .shutdown_timeout(30)
        .listen(listener)?
        .run())
}
