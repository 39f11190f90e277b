//! [`RawValue`] ⇄ any serde format (JSON in practice), keeping object
//! entries in order and numbers as their literal text. The HTTP adapter
//! reads request bodies with it; the SQL store keeps bulk input with it.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::RawValue;

impl Serialize for RawValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RawValue::Null => serializer.serialize_unit(),
            RawValue::Bool(b) => serializer.serialize_bool(*b),
            RawValue::Number(n) => {
                // The literal text of a JSON number: integers stay exact.
                if let Ok(i) = n.parse::<i64>() {
                    serializer.serialize_i64(i)
                } else if let Ok(u) = n.parse::<u64>() {
                    serializer.serialize_u64(u)
                } else if let Ok(f) = n.parse::<f64>() {
                    serializer.serialize_f64(f)
                } else {
                    serializer.serialize_str(n)
                }
            }
            RawValue::String(s) => serializer.serialize_str(s),
            RawValue::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            RawValue::Object(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawValue, D::Error> {
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

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawValue, D::Error> {
        RawValue::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(RawValue::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawValue, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(RawValue::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Issue, IssueCode, RawValue};

    #[test]
    fn round_trips_keeping_order_and_numbers() {
        let text = r#"{"b":[1,-2,2.5,true,null,"x"],"a":{"z":1,"y":2},"big":18446744073709551615}"#;
        let v: RawValue = serde_json::from_str(text).unwrap();
        let RawValue::Object(entries) = &v else { panic!("object") };
        assert_eq!(entries[0].0, "b", "keys keep their order");
        assert_eq!(serde_json::to_string(&v).unwrap(), text);
    }

    #[test]
    fn issues_round_trip() {
        let issue = Issue::new("roles[0]", IssueCode::TooLong, "too long").with_value(RawValue::from("x"));
        let text = serde_json::to_string(&issue).unwrap();
        assert!(text.contains(r#""code":"too_long""#), "{text}");
        assert_eq!(serde_json::from_str::<Issue>(&text).unwrap(), issue);
    }
}
