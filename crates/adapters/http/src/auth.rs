//! The bearer-token check of every `…/{namespace}/…` API call (SPEC §6).

use actix_web::HttpRequest;
use roster_application::auth::{AuthError, TokenError};

use crate::{ApiError, AppState};

/// The token of `Authorization: Bearer <token>`; `Err` for another scheme.
fn bearer(req: &HttpRequest) -> Result<Option<&str>, ApiError> {
    let Some(value) = req.headers().get(actix_web::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or("");
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(Some(token.trim()))
        }
        _ => Err(ApiError::Unauthorized {
            detail: "the Authorization header must be 'Bearer <token>'; get a token from POST /api-ext/domain/{namespace}/token"
                .to_owned(),
            token_given: true,
        }),
    }
}

/// Passes when authentication is off, or the request's bearer token is
/// good and bound to `namespace`.
pub(crate) async fn authorize(req: &HttpRequest, state: &AppState, namespace: &str) -> Result<(), ApiError> {
    let Some(auth) = &state.auth else {
        return Ok(());
    };
    let token = bearer(req)?;
    match auth.authorize(namespace, token).await {
        Ok(_) => Ok(()),
        Err(AuthError::Missing) => Err(ApiError::Unauthorized {
            detail: "this call needs 'Authorization: Bearer <token>'; get a token with your client credentials from POST /api-ext/domain/{namespace}/token (or POST /api-ext/token; in Swagger UI: Authorize)".to_owned(),
            token_given: false,
        }),
        Err(AuthError::Invalid(TokenError::Expired)) => Err(ApiError::Unauthorized {
            detail: "the token has expired; get a new one from the token endpoint".to_owned(),
            token_given: true,
        }),
        Err(AuthError::Invalid(TokenError::Invalid)) => Err(ApiError::Unauthorized {
            detail: "the token is not valid (malformed, forged, or not issued by this service)".to_owned(),
            token_given: true,
        }),
        Err(AuthError::Revoked) => Err(ApiError::Unauthorized {
            detail: "the token's client has been revoked".to_owned(),
            token_given: true,
        }),
        // A good token and a path namespace that is no namespace at all: the
        // handler's 400 says what is wrong with it (no token could be for it).
        Err(AuthError::WrongNamespace { .. }) if roster_domain::Namespace::parse(namespace).is_err() => Ok(()),
        Err(AuthError::WrongNamespace { token_namespace, path_namespace }) => Err(ApiError::Forbidden(format!(
            "the token is for namespace '{token_namespace}', not '{path_namespace}'; use a client registered for '{path_namespace}'"
        ))),
        Err(AuthError::Store(e)) => Err(ApiError::Store(e)),
    }
}
