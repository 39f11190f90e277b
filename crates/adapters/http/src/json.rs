//! JSON ⇄ the domain's untyped [`RawValue`], without an intermediate tree.

use roster_domain::RawValue;
use serde::Deserialize;

/// Parses a request body into a [`RawValue`], keeping object keys in order.
/// A leading UTF-8 byte order mark (as some Windows tools write) is skipped.
pub fn parse_body(bytes: &[u8]) -> Result<RawValue, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("the body is empty; send one user as a JSON object".to_owned());
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = RawValue::deserialize(&mut de).map_err(describe)?;
    de.end().map_err(describe)?;
    Ok(value)
}

fn describe(e: serde_json::Error) -> String {
    format!("the body is not valid JSON: {e}")
}

/// A [`RawValue`] as JSON, for echoing values back in reports.
pub fn to_json(value: &RawValue) -> serde_json::Value {
    match value {
        RawValue::Null => serde_json::Value::Null,
        RawValue::Bool(b) => serde_json::Value::Bool(*b),
        RawValue::Number(n) => {
            n.parse::<serde_json::Number>().map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null)
        }
        RawValue::String(s) => serde_json::Value::String(s.clone()),
        RawValue::Array(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        RawValue::Object(entries) => {
            serde_json::Value::Object(entries.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_shape() {
        let v = parse_body(br#"{"b": [1, -2, 2.5, true, null], "a": {"x": "y"}}"#).unwrap();
        let RawValue::Object(entries) = &v else { panic!("object") };
        assert_eq!(entries[0].0, "b", "keys keep their order");
        assert_eq!(to_json(&v), serde_json::json!({"b": [1, -2, 2.5, true, null], "a": {"x": "y"}}));
    }

    #[test]
    fn skips_a_byte_order_mark() {
        assert_eq!(parse_body(b"\xEF\xBB\xBF{\"a\": 1}").unwrap(), parse_body(b"{\"a\": 1}").unwrap());
    }

    #[test]
    fn refuses_what_is_not_json() {
        assert!(parse_body(b"").unwrap_err().contains("empty"));
        assert!(parse_body(b"{\"a\": }").unwrap_err().contains("line 1 column"));
        assert!(parse_body(b"{} {}").is_err());
        assert!(parse_body(b"\xff").is_err());
    }
}
