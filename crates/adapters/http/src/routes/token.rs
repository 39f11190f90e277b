//! `POST /api-ext/domain/{namespace}/token` (and `POST /api-ext/token`):
//! the OAuth 2.0 client-credentials grant (RFC 6749 §4.4). Errors are
//! RFC 6749 §5.2 documents, not problem documents: that is what OAuth
//! clients (and Swagger UI's Authorize) understand.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, post, web};
use base64::Engine as _;
use roster_application::auth::TokenRequestError;
use roster_domain::Namespace;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{ApiError, AppState};

/// Token request bodies are small.
const MAX_TOKEN_BODY: usize = 16 * 1024;

/// The form of a token request (`application/x-www-form-urlencoded`).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = TokenRequest)]
#[allow(dead_code)] // documents the form; the handler reads the pairs itself
pub struct TokenRequestDto {
    grant_type: GrantType,
    /// The client id, unless sent with HTTP Basic.
    client_id: Option<String>,
    /// The client secret, unless sent with HTTP Basic.
    client_secret: Option<String>,
}

/// The one grant roster supports.
#[derive(Debug, Deserialize, ToSchema)]
pub enum GrantType {
    #[serde(rename = "client_credentials")]
    ClientCredentials,
}

/// A token (RFC 6749 §5.1).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Token)]
pub struct TokenDto {
    /// A JWT bound to the client's namespace; send it as `Authorization: Bearer <token>`.
    access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// Seconds until it expires.
    #[schema(example = 3600)]
    expires_in: u64,
}

/// An RFC 6749 §5.2 error.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OAuthError)]
pub struct OAuthErrorDto {
    /// `invalid_request`, `invalid_client` or `unsupported_grant_type`.
    #[schema(example = "invalid_client")]
    error: &'static str,
    /// What to fix.
    error_description: String,
}

fn oauth_error(status: StatusCode, error: &'static str, description: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(OAuthErrorDto { error, error_description: description.into() })
}

/// `401 invalid_client`. RFC 6749 §5.2 asks for `WWW-Authenticate: Basic`
/// when the client authenticated with HTTP Basic; a browser, though, answers
/// that challenge with its own sign-in pop-up instead of letting the page
/// (Swagger UI's Authorize) show the error. So the challenge goes to every
/// client that used Basic except a browser's script (`Sec-Fetch-Mode`).
fn invalid_client(req: &HttpRequest, description: impl Into<String>) -> HttpResponse {
    let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
    let used_basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() >= 6 && v[..6].eq_ignore_ascii_case("basic "));
    if used_basic && !req.headers().contains_key("sec-fetch-mode") {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="roster""#));
    }
    response
}

fn invalid_request(description: impl Into<String>) -> HttpResponse {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// `%XX` and `+` decoding of one form component (RFC 6749 §2.3.1 asks the
/// Basic credentials to be form-encoded).
fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// `(id, secret)` of `Authorization: Basic …`; `Err` when it is malformed;
/// `None` without one, or with another scheme (a bearer token, say: then
/// the credentials must be in the body).
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, MalformedBasic> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| MalformedBasic)?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(MalformedBasic);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| MalformedBasic)?;
    let decoded = String::from_utf8(decoded).map_err(|_| MalformedBasic)?;
    let (id, secret) = decoded.split_once(':').ok_or(MalformedBasic)?;
    match (form_decode(id), form_decode(secret)) {
        (Some(id), Some(secret)) => Ok(Some((id, secret))),
        _ => Err(MalformedBasic),
    }
}

/// An `Authorization: Basic` header that can't be read.
struct MalformedBasic;

async fn token(
    req: HttpRequest,
    namespace: Option<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(auth) = &state.auth else {
        return Ok(invalid_request("authentication is off on this service (ROSTER_AUTH=off): calls need no token"));
    };
    let namespace = match namespace {
        Some(ns) => match Namespace::parse(&ns) {
            Ok(ns) => Some(ns),
            Err(e) => return Ok(invalid_request(e)),
        },
        None => None,
    };
    let form_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if form_type.as_deref() != Some("application/x-www-form-urlencoded") {
        return Ok(invalid_request("send the request as Content-Type: application/x-www-form-urlencoded"));
    }
    let Ok(body) = payload.to_bytes_limited(MAX_TOKEN_BODY).await else {
        return Ok(invalid_request(format!("the body is larger than {MAX_TOKEN_BODY} bytes")));
    };
    let Ok(body) = body else {
        return Ok(invalid_request("the request body could not be read"));
    };
    let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        return Ok(invalid_request("the body is not a valid form"));
    };
    let mut grant_type = None;
    let mut client_id = None;
    let mut client_secret = None;
    for (key, value) in pairs {
        let slot = match key.as_str() {
            "grant_type" => &mut grant_type,
            "client_id" => &mut client_id,
            "client_secret" => &mut client_secret,
            _ => continue, // RFC 6749 §3.2: unknown parameters are ignored
        };
        if slot.replace(value).is_some() {
            return Ok(invalid_request(format!("{key} is given more than once")));
        }
    }
    match grant_type.as_deref() {
        None => return Ok(invalid_request("grant_type is required: grant_type=client_credentials")),
        Some("client_credentials") => {}
        Some(other) => {
            return Ok(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type '{other}' is not supported; use client_credentials"),
            ));
        }
    }
    let basic = match basic_credentials(&req) {
        Ok(basic) => basic,
        Err(MalformedBasic) => {
            return Ok(invalid_client(
                &req,
                "the Authorization header must be 'Basic base64(client_id:client_secret)'",
            ));
        }
    };
    let (id, secret) = match (basic, client_id, client_secret) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Ok(invalid_request("send the client credentials once: by HTTP Basic or in the body, not both"));
        }
        (Some(credentials), None, None) => credentials,
        (None, Some(id), Some(secret)) => (id, secret),
        (None, _, _) => {
            return Ok(invalid_client(
                &req,
                "client credentials are required: HTTP Basic (client_id:client_secret) or client_id and client_secret in the body",
            ));
        }
    };
    match auth.issue_token(namespace.as_ref(), &id, &secret).await {
        Ok(token) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(TokenDto { access_token: token.access_token, token_type: "Bearer", expires_in: token.expires_in })),
        Err(TokenRequestError::InvalidClient) => Ok(invalid_client(&req, "client authentication failed")),
        Err(TokenRequestError::Throttled { retry_after }) => {
            let mut response = oauth_error(
                StatusCode::TOO_MANY_REQUESTS,
                "invalid_client",
                format!("too many failed attempts for this client; try again in {} s", retry_after.as_secs().max(1)),
            );
            if let Ok(v) = retry_after.as_secs().max(1).to_string().parse() {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Ok(response)
        }
        Err(TokenRequestError::Store(e)) => Err(ApiError::Store(e)),
    }
}

/// Get an access token for a namespace (OAuth 2.0 client credentials).
///
/// Send `grant_type=client_credentials` as a form, with the client id and
/// secret by HTTP Basic (`Authorization: Basic base64(id:secret)`) or as
/// `client_id` and `client_secret` in the form — one way, not both. The
/// token is a JWT bound to the client's namespace, valid for `expires_in`
/// seconds (`ROSTER_AUTH_TOKEN_TTL`). A client registered for another
/// namespace gets `invalid_client`, as does an unknown or revoked client or
/// a wrong secret. After 5 failed secrets for one client id within a minute,
/// further attempts are refused with 429 until the minute has passed.
/// Clients are registered with `roster clients add --namespace NS`.
#[utoipa::path(
    post,
    path = "/api-ext/domain/{namespace}/token",
    tag = "auth",
    operation_id = "issueToken",
    params(
        ("namespace" = String, Path, description = "The namespace the client is registered for.", pattern = "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", example = "acme"),
    ),
    request_body(content = TokenRequestDto, content_type = "application/x-www-form-urlencoded"),
    security(()),
    responses(
        (status = 200, description = "A token.", body = TokenDto),
        (status = 400, description = "`invalid_request` (a missing or repeated parameter, not a form, credentials sent twice, an invalid namespace) or `unsupported_grant_type`.", body = OAuthErrorDto, example = json!({"error": "unsupported_grant_type", "error_description": "grant_type 'password' is not supported; use client_credentials"})),
        (status = 401, description = "`invalid_client`: unknown client, wrong secret, revoked, or registered for another namespace.", body = OAuthErrorDto, example = json!({"error": "invalid_client", "error_description": "client authentication failed"})),
        (status = 429, description = "Too many failed attempts for this client id; retry after `Retry-After` seconds.", body = OAuthErrorDto),
        (status = 503, description = "The store is unavailable.", body = crate::dto::ProblemDto, content_type = "application/problem+json"),
    ),
)]
#[post("/api-ext/domain/{namespace}/token")]
pub async fn issue_token(
    req: HttpRequest,
    namespace: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    token(req, Some(namespace.into_inner()), payload, state).await
}

/// Get an access token, the namespace being the client's own.
///
/// The same grant as `POST /api-ext/domain/{namespace}/token`, for OAuth
/// clients that need one fixed token URL — Swagger UI's **Authorize** uses
/// this one. The token is bound to the namespace the client is registered for.
#[utoipa::path(
    post,
    path = "/api-ext/token",
    tag = "auth",
    operation_id = "issueTokenForClientNamespace",
    request_body(content = TokenRequestDto, content_type = "application/x-www-form-urlencoded"),
    security(()),
    responses(
        (status = 200, description = "A token.", body = TokenDto),
        (status = 400, description = "`invalid_request` or `unsupported_grant_type`.", body = OAuthErrorDto),
        (status = 401, description = "`invalid_client`.", body = OAuthErrorDto),
        (status = 429, description = "Too many failed attempts for this client id.", body = OAuthErrorDto),
        (status = 503, description = "The store is unavailable.", body = crate::dto::ProblemDto, content_type = "application/problem+json"),
    ),
)]
#[post("/api-ext/token")]
pub async fn issue_token_for_client_namespace(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    token(req, None, payload, state).await
}
