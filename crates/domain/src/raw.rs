/// An untyped input document, as received: the shape of JSON, without any
/// framework type. Object entries keep their order.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Null,
    Bool(bool),
    /// A number, kept as its literal text so it can be echoed back exactly.
    Number(String),
    String(String),
    Array(Vec<RawValue>),
    Object(Vec<(String, RawValue)>),
}

impl RawValue {
    /// The JSON name of this value's type, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            RawValue::Null => "null",
            RawValue::Bool(_) => "boolean",
            RawValue::Number(_) => "number",
            RawValue::String(_) => "string",
            RawValue::Array(_) => "array",
            RawValue::Object(_) => "object",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            RawValue::String(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for RawValue {
    fn from(s: &str) -> Self {
        RawValue::String(s.to_owned())
    }
}
