//! Content negotiation (SPEC §2).

use actix_web::HttpRequest;
use actix_web::http::header::{ACCEPT, CONTENT_TYPE};

use crate::ApiError;

pub const JSON: &str = "application/json";
pub const VENDOR_JSON: &str = "application/vnd.cogitocorp.v1+json";
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The media type a response is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    Json,
    VendorJson,
}

impl ResponseType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseType::Json => JSON,
            ResponseType::VendorJson => VENDOR_JSON,
        }
    }
}

/// Chooses the response type from `Accept`: `application/json` for
/// `application/json`, `*/*`, `application/*` or no `Accept`; the vendor type
/// when it is asked for and preferred; 406 when neither is acceptable.
pub fn negotiate(req: &HttpRequest) -> Result<ResponseType, ApiError> {
    let mut ranges = Vec::new();
    for header in req.headers().get_all(ACCEPT) {
        let Ok(text) = header.to_str() else {
            return Err(ApiError::NotAcceptable);
        };
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let mut parts = item.split(';').map(str::trim);
            let range = parts.next().unwrap_or_default().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map(|(_, v)| v.trim().parse::<f32>().unwrap_or(0.0))
                .unwrap_or(1.0);
            ranges.push((range, q));
        }
    }
    if ranges.is_empty() {
        return Ok(ResponseType::Json);
    }
    // The most specific matching range decides a type's quality (RFC 9110 §12.5.1).
    let quality = |media: &str| -> (f32, u8) {
        ranges
            .iter()
            .filter_map(|(range, q)| {
                let specificity = if range == media {
                    3
                } else if range == "application/*" {
                    2
                } else if range == "*/*" {
                    1
                } else {
                    return None;
                };
                Some((specificity, *q))
            })
            .max_by_key(|(s, _)| *s)
            .map(|(s, q)| (q, s))
            .unwrap_or((0.0, 0))
    };
    let (json_q, json_s) = quality(JSON);
    let (vendor_q, vendor_s) = quality(VENDOR_JSON);
    match (json_q > 0.0, vendor_q > 0.0) {
        (false, false) => Err(ApiError::NotAcceptable),
        (true, false) => Ok(ResponseType::Json),
        (false, true) => Ok(ResponseType::VendorJson),
        (true, true) if vendor_q > json_q || (vendor_q == json_q && vendor_s > json_s) => Ok(ResponseType::VendorJson),
        (true, true) => Ok(ResponseType::Json),
    }
}

/// What a bulk body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkFormat {
    Json,
    Csv,
}

pub const CSV: &str = "text/csv";

/// Checks a bulk body's `Content-Type`: JSON, the vendor type or
/// `text/csv`, UTF-8 (415 otherwise).
pub fn bulk_format(req: &HttpRequest) -> Result<BulkFormat, ApiError> {
    let (essence, got) = content_type(req, true)?;
    match essence.as_str() {
        JSON | VENDOR_JSON => Ok(BulkFormat::Json),
        CSV => Ok(BulkFormat::Csv),
        _ => Err(ApiError::UnsupportedMediaType { got, csv: true }),
    }
}

/// Checks `Content-Type`: JSON or the vendor type, UTF-8 (415 otherwise).
pub fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let (essence, got) = content_type(req, false)?;
    if essence == JSON || essence == VENDOR_JSON {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType { got, csv: false })
    }
}

/// The media type's essence (lower case) when its charset, if any, is
/// UTF-8; the header as sent.
fn content_type(req: &HttpRequest, csv: bool) -> Result<(String, Option<String>), ApiError> {
    let Some(value) = req.headers().get(CONTENT_TYPE) else {
        return Err(ApiError::UnsupportedMediaType { got: None, csv });
    };
    let text = value.to_str().unwrap_or_default();
    let mut parts = text.split(';').map(str::trim);
    let essence = parts.next().unwrap_or_default().to_ascii_lowercase();
    let charset_ok = parts
        .filter_map(|p| p.split_once('='))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("charset"))
        .all(|(_, v)| {
            let v = v.trim().trim_matches('"');
            v.eq_ignore_ascii_case("utf-8") || v.eq_ignore_ascii_case("utf8")
        });
    if charset_ok {
        Ok((essence, Some(text.to_owned())))
    } else {
        Err(ApiError::UnsupportedMediaType { got: Some(text.to_owned()), csv })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn accept(v: &str) -> Result<ResponseType, ApiError> {
        negotiate(&TestRequest::default().insert_header((ACCEPT, v)).to_http_request())
    }

    #[test]
    fn accept_rules() {
        assert_eq!(negotiate(&TestRequest::default().to_http_request()).unwrap(), ResponseType::Json);
        assert_eq!(accept("application/json").unwrap(), ResponseType::Json);
        assert_eq!(accept("*/*").unwrap(), ResponseType::Json);
        assert_eq!(accept("application/*").unwrap(), ResponseType::Json);
        assert_eq!(accept(VENDOR_JSON).unwrap(), ResponseType::VendorJson);
        assert_eq!(
            accept("application/json;q=0.5, application/vnd.cogitocorp.v1+json").unwrap(),
            ResponseType::VendorJson
        );
        assert_eq!(accept("text/html, */*;q=0.1").unwrap(), ResponseType::Json);
        assert!(accept("text/html").is_err());
        assert!(accept("application/json;q=0").is_err());
        assert!(accept("application/xml, text/*").is_err());
    }

    #[test]
    fn content_type_rules() {
        let ct =
            |v: &str| check_content_type(&TestRequest::default().insert_header((CONTENT_TYPE, v)).to_http_request());
        assert!(ct("application/json").is_ok());
        assert!(ct("Application/JSON; charset=utf-8").is_ok());
        assert!(ct("application/vnd.cogitocorp.v1+json").is_ok());
        assert!(ct("text/plain").is_err());
        assert!(ct("application/json; charset=latin1").is_err());
        assert!(check_content_type(&TestRequest::default().to_http_request()).is_err());
    }
}
