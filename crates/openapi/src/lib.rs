//! Assembles roster's OpenAPI document: the paths and schemas collected from
//! the routes the HTTP adapter registers, plus the document's own metadata.
//! `cargo xtask openapi` writes it to `openapi/openapi.json`; the service
//! serves the same document at `/api-docs/openapi.json`.
#![forbid(unsafe_code)]

use actix_web::App;
use roster_domain::{IssueCode, Severity};
use utoipa::openapi::security::SecurityScheme;
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "roster",
        description = "The roster of contact-center users, per client namespace. Integrators push users in with an \
*upsert* — create or update one user — and get back a *processing report* that says, field by field, what was wrong \
and what was done. Every write can be tried first as a dry run (`commit=false`).\n\n\
**Bulk import.** `POST …/users` takes many users at once (a JSON array or `text/csv`), answers 202 with a report id \
and runs in the background, one import per namespace at a time; `GET …/users/report/{reportId}` shows its progress \
and, at the end, every user's outcome. Single upserts keep their reports too, under the same path.\n\n\
**Media types.** Requests: `application/json` or `application/vnd.cogitocorp.v1+json` (UTF-8), and `text/csv` for a \
bulk import; anything else is 415. \
Responses follow `Accept`: the vendor type when asked for, else `application/json`; an `Accept` that allows neither is 406. \
Errors that are not a processing report are RFC 9457 problem documents (`application/problem+json`).\n\n\
Every response carries an `x-request-id` header, also found on the service's log lines for that request.\n\n\
**Authentication.** Every `/api-ext/domain/{namespace}/…` call but `token` needs `Authorization: Bearer <token>`. \
A token comes from the OAuth 2.0 client-credentials grant at `POST /api-ext/domain/{namespace}/token` (or \
`POST /api-ext/token`, the URL Swagger UI's **Authorize** uses) for a client registered with \
`roster clients add --namespace NS`; it is bound to that namespace (another namespace: 403). A missing, malformed, \
forged or expired token, or one of a revoked client, is 401 with `WWW-Authenticate: Bearer`. \
With `ROSTER_AUTH=off` (development, loopback only) no token is needed.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "users", description = "Upsert and read users."),
        (name = "auth", description = "Access tokens (OAuth 2.0 client credentials)."),
        (name = "health", description = "Liveness and readiness probes."),
    ),
    modifiers(&SecuritySchemes),
)]
struct ApiDoc;

/// `oauth2` (client credentials, what Swagger UI's Authorize uses) and
/// `bearer` (a token obtained elsewhere): either satisfies the API calls.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::ClientCredentials(ClientCredentials::new("/api-ext/token", Scopes::new()))],
                "Client credentials of a client registered with `roster clients add --namespace NS`; the token is \
                 bound to that namespace.",
            )),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A token from `POST /api-ext/domain/{namespace}/token`."))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document of the service as built.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut api) =
        App::new().into_utoipa_app().openapi(ApiDoc::openapi()).configure(roster_http::api).split_for_parts();
    api.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let description = api.info.description.take().unwrap_or_default();
    api.info.description = Some(format!("{description}\n\n{}", issue_codes()));
    api
}

/// The closed set of issue codes, from the domain itself so it can't drift.
fn issue_codes() -> String {
    let mut text = String::from(
        "**Issue codes** (a closed set). Warnings never stop a write; every other code is an error.\n\n\
         | code | severity | meaning |\n|---|---|---|\n",
    );
    for code in IssueCode::ALL {
        let severity = match code.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        text.push_str(&format!("| `{}` | {severity} | {} |\n", code.as_str(), code.description()));
    }
    text
}

/// The document as committed: pretty JSON with a trailing newline.
pub fn document_json() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_issue_code_is_documented() {
        let description = super::document().info.description.unwrap_or_default();
        for code in roster_domain::IssueCode::ALL {
            assert!(description.contains(&format!("`{}`", code.as_str())), "{code} is missing");
        }
    }

    #[test]
    fn every_route_is_documented() {
        let doc = super::document();
        let paths: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            vec![
                "/api-ext/domain/{namespace}/token",
                "/api-ext/domain/{namespace}/user",
                "/api-ext/domain/{namespace}/user/{userId}",
                "/api-ext/domain/{namespace}/users",
                "/api-ext/domain/{namespace}/users/report/{reportId}",
                "/api-ext/token",
                "/health/live",
                "/health/ready"
            ]
        );
    }
}
