use crate::RawValue;

/// Whether an issue stops the user from being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// The closed set of issue codes (SPEC §4). Adding one is a contract change.
/// Serialised as its [`as_str`](IssueCode::as_str) spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueCode {
    Required,
    Blank,
    TooLong,
    TooMany,
    InvalidType,
    InvalidValue,
    InvalidFormat,
    InvalidDate,
    DateOrder,
    Duplicate,
    SelfReference,
    Conflict,
    MalformedJson,
    UnknownField,
    UnknownReference,
    NameMismatch,
}

impl IssueCode {
    pub const ALL: [IssueCode; 16] = [
        IssueCode::Required,
        IssueCode::Blank,
        IssueCode::TooLong,
        IssueCode::TooMany,
        IssueCode::InvalidType,
        IssueCode::InvalidValue,
        IssueCode::InvalidFormat,
        IssueCode::InvalidDate,
        IssueCode::DateOrder,
        IssueCode::Duplicate,
        IssueCode::SelfReference,
        IssueCode::Conflict,
        IssueCode::MalformedJson,
        IssueCode::UnknownField,
        IssueCode::UnknownReference,
        IssueCode::NameMismatch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IssueCode::Required => "required",
            IssueCode::Blank => "blank",
            IssueCode::TooLong => "too_long",
            IssueCode::TooMany => "too_many",
            IssueCode::InvalidType => "invalid_type",
            IssueCode::InvalidValue => "invalid_value",
            IssueCode::InvalidFormat => "invalid_format",
            IssueCode::InvalidDate => "invalid_date",
            IssueCode::DateOrder => "date_order",
            IssueCode::Duplicate => "duplicate",
            IssueCode::SelfReference => "self_reference",
            IssueCode::Conflict => "conflict",
            IssueCode::MalformedJson => "malformed_json",
            IssueCode::UnknownField => "unknown_field",
            IssueCode::UnknownReference => "unknown_reference",
            IssueCode::NameMismatch => "name_mismatch",
        }
    }

    /// Warnings are reported but never stop a write; everything else does.
    pub fn severity(self) -> Severity {
        match self {
            IssueCode::UnknownField | IssueCode::UnknownReference | IssueCode::NameMismatch => Severity::Warning,
            IssueCode::Required
            | IssueCode::Blank
            | IssueCode::TooLong
            | IssueCode::TooMany
            | IssueCode::InvalidType
            | IssueCode::InvalidValue
            | IssueCode::InvalidFormat
            | IssueCode::InvalidDate
            | IssueCode::DateOrder
            | IssueCode::Duplicate
            | IssueCode::SelfReference
            | IssueCode::Conflict
            | IssueCode::MalformedJson => Severity::Error,
        }
    }

    /// One line on what the code means, for the API documentation.
    pub fn description(self) -> &'static str {
        match self {
            IssueCode::Required => "a required field is absent or null (or a required list is empty)",
            IssueCode::Blank => "a required string is empty after trimming",
            IssueCode::TooLong => "a string is longer than its limit",
            IssueCode::TooMany => "a list has more items than its limit",
            IssueCode::InvalidType => "the value has the wrong JSON type, e.g. a number where a string belongs",
            IssueCode::InvalidValue => "the value is not one of the allowed values, or not allowed here",
            IssueCode::InvalidFormat => "the value does not have the required format",
            IssueCode::InvalidDate => "a yyyy-mm-dd value that is not a calendar date",
            IssueCode::DateOrder => "deactivationDate is before activationDate",
            IssueCode::Duplicate => {
                "the same item appears twice in one list; in a bulk import, a userId, email or telephony identity an earlier row already has"
            }
            IssueCode::SelfReference => "coachId or supervisorId names the user itself",
            IssueCode::Conflict => "the email or telephony identity belongs to another user",
            IssueCode::MalformedJson => {
                "the body is not JSON, or not a JSON object (bulk: not a JSON array, or an element that is not JSON)"
            }
            IssueCode::UnknownField => "a field roster does not know (a typo?); it is ignored",
            IssueCode::UnknownReference => "coachId or supervisorId names no user in the namespace",
            IssueCode::NameMismatch => "supervisorName differs from the supervisor's firstName lastName",
        }
    }
}

impl std::fmt::Display for IssueCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in a request: where, what, why, and the value seen.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Issue {
    /// Path of the field, e.g. `telephonyConfigurations[1].agentId`; empty for the whole body.
    pub field: String,
    pub code: IssueCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<RawValue>,
}

impl Issue {
    pub fn new(field: impl Into<String>, code: IssueCode, message: impl Into<String>) -> Self {
        Issue { field: field.into(), code, message: message.into(), value: None }
    }

    pub fn with_value(mut self, value: RawValue) -> Self {
        self.value = Some(value);
        self
    }

    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }
}
