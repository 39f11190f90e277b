//! JSON ⇄ the domain's untyped [`RawValue`], without an intermediate tree.

use std::fmt;

use roster_domain::RawValue;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Parses a request body into a [`RawValue`], keeping object keys in order.
/// A leading UTF-8 byte order mark (as some Windows tools write) is skipped.
pub fn parse_body(bytes: &[u8]) -> Result<RawValue, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("the body is empty; send one user as a JSON object".to_owned());
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = RawSeed.deserialize(&mut de).map_err(describe)?;
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

struct RawSeed;

impl<'de> DeserializeSeed<'de> for RawSeed {
    type Value = RawValue;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawValue, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<RawValue, E> {
        Ok(RawValue::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<RawValue, E> {
        Ok(RawValue::Number(v.to_string()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<RawValue, E> {
        Ok(RawValue::Number(v.to_string()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<RawValue, E> {
        Ok(RawValue::Number(v.to_string()))
    }

    fn visit_str<E>(self, v: &str) -> Result<RawValue, E> {
        Ok(RawValue::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<RawValue, E> {
        Ok(RawValue::String(v))
    }

    fn visit_unit<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }

    fn visit_none<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(RawSeed)? {
            items.push(item);
        }
        Ok(RawValue::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawValue, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(RawSeed)?;
            entries.push((key, value));
        }
        Ok(RawValue::Object(entries))
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
