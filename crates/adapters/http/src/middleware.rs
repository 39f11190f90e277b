//! Cross-cutting HTTP behaviour: request ids, the access log, and problem
//! documents for errors the framework answers itself (404, 405, …).

use actix_web::body::MessageBody;
use actix_web::dev::{ResourceDef, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, Next};
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};
use utoipa::openapi::OpenApi;

use crate::error::problem_response;
use crate::media::{JSON, PROBLEM_JSON, VENDOR_JSON};

/// The request's log span: its id, method and path, then its status. Lighter
/// than tracing-actix-web's default span (which matches the route a second
/// time for `http.route`); its fields are only computed when the span is
/// enabled.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request.extensions().get::<RequestId>().copied();
        tracing::info_span!(
            "request",
            request_id = %request_id.map(|id| id.to_string()).unwrap_or_default(),
            method = %request.method(),
            path = %request.path(),
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, actix_web::Error>) {
        let status = match outcome {
            Ok(response) => response.status(),
            Err(error) => error.as_response_error().status_code(),
        };
        span.record("status", status.as_u16());
    }
}

/// Adds `x-request-id` (the id on the request's log span) to every response
/// and logs one line per request, inside the request's span.
pub async fn request_id_and_access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req.extensions().get::<RequestId>().copied();
    let started = std::time::Instant::now();
    let mut res = next.call(req).await?;
    if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id.to_string()).ok()) {
        res.headers_mut().insert(HeaderName::from_static("x-request-id"), value);
    }
    tracing::info!(status = res.status().as_u16(), elapsed_ms = started.elapsed().as_secs_f64() * 1000.0, "request");
    Ok(res)
}

/// Which methods each route allows, from the spec (so it can't drift).
pub struct AllowedMethods(Vec<(ResourceDef, String)>);

impl AllowedMethods {
    pub fn from_spec(spec: &OpenApi) -> Self {
        let routes = spec
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods: Vec<&str> = [
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("OPTIONS", item.options.is_some()),
                    ("HEAD", item.head.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("TRACE", item.trace.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, present)| present.then_some(m))
                .collect();
                (ResourceDef::new(path.as_str()), methods.join(", "))
            })
            .collect();
        AllowedMethods(routes)
    }

    /// The methods allowed on `path`, if it is a route at all.
    fn for_path(&self, path: &str) -> Option<&str> {
        self.0.iter().find(|(def, _)| def.is_match(path)).map(|(_, allow)| allow.as_str())
    }
}

/// The fallback for requests no route takes: 405 with `Allow` when the path
/// exists under another method, else 404.
pub async fn no_route(req: HttpRequest, allowed: &AllowedMethods) -> HttpResponse {
    match allowed.for_path(req.path()) {
        Some(allow) => {
            let detail = format!("{} is not allowed on {}; allowed: {allow}", req.method(), req.path());
            let mut response = problem_response(StatusCode::METHOD_NOT_ALLOWED, &detail);
            if let Ok(v) = HeaderValue::from_str(allow) {
                response.headers_mut().insert(header::ALLOW, v);
            }
            response
        }
        None => problem_response(
            StatusCode::NOT_FOUND,
            &format!("no resource at {}; the API is described at {}", req.path(), crate::OPENAPI_PATH),
        ),
    }
}

/// Turns any error response that is not already a problem document or a
/// report — the framework's empty 405, a bare 400 from an extractor — into a
/// problem document, so clients never get an empty body or a bare string.
pub fn into_problem<B>(
    res: ServiceResponse<B>,
    allowed: &AllowedMethods,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let ours = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with(PROBLEM_JSON) || ct.starts_with(JSON) || ct.starts_with(VENDOR_JSON));
    if ours {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, old) = res.into_parts();
    let (mut response, allow) = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allow = allowed.for_path(req.path()).unwrap_or("").to_owned();
            let detail = format!("{} is not allowed on {}; allowed: {allow}", req.method(), req.path());
            (problem_response(status, &detail), Some(allow))
        }
        s if s.is_server_error() => (problem_response(status, "internal error; the request was logged"), None),
        s => {
            let detail = old
                .error()
                .map(|e| e.to_string())
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| s.canonical_reason().unwrap_or("error").to_owned());
            (problem_response(status, &detail), None)
        }
    };
    if let Some(allow) = allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH && !response.headers().contains_key(name) {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, response).map_into_right_body()))
}
