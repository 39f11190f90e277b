//! The HTTP shapes of a user and a report: serde + OpenAPI schemas. The
//! request body is read as an untyped document (so wrong shapes become
//! report entries, not framework errors); [`UserDto`] documents it and is
//! what `GET …/user/{userId}` answers.

use chrono::SecondsFormat;
use roster_application::{Action, Report, ReportKind, ReportStatus, Summary, UserOutcome};
use roster_domain::{Issue, IssueCode, User};
use serde::Serialize;
use utoipa::ToSchema;

use crate::json::to_json;

/// Required strings: at least one non-space character.
const NOT_BLANK: &str = r"\S";
/// A telephony configuration: the user's identity on one telephony platform.
/// `platform` (case-insensitive) and `agentId` together belong to at most one
/// user per namespace.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TelephonyConfiguration)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"platform": "Genesys Cloud", "agentId": "10042", "extension": "4042"}))]
pub struct TelephonyConfigurationDto {
    #[schema(max_length = 255, pattern = r"\S")]
    pub platform: String,
    #[schema(max_length = 255, pattern = r"\S")]
    pub agent_id: String,
    /// Digits, `*`, `#`, `+`; at most 20.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^(\s*|[0-9*#+]{1,20})$")]
    pub extension: Option<String>,
}

/// A contact-center user. Strings are trimmed and may not hold control
/// characters; length limits count the characters as sent. An optional field
/// that is absent, `null` or blank is treated as absent. Enumerations and
/// dates take exactly the listed spellings (`Active`, `2026-01-15`). Unknown
/// fields are reported as `unknown_field` warnings and ignored.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = User)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "userId": "a-1001",
    "salutation": "Ms.",
    "firstName": "Ann",
    "lastName": "Lee",
    "jobTitle": "Customer Care Agent",
    "status": "Active",
    "workFromHome": "Y",
    "organization": "Acme Corp",
    "contactCenter": "Boston",
    "site": "Boston-1",
    "roles": ["Agent"],
    "teams": ["Billing"],
    "telephonyConfigurations": [{"platform": "Genesys Cloud", "agentId": "10042", "extension": "4042"}],
    "email": "ann.lee@example.com",
    "activationDate": "2026-01-15"
}))]
pub struct UserDto {
    /// The user's immutable key within the namespace: 1–128 characters, no
    /// control characters, no leading or trailing whitespace.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f-\x9f\s](?:[^\x00-\x1f\x7f-\x9f]*[^\x00-\x1f\x7f-\x9f\s])?$"
    )]
    pub user_id: String,
    /// e.g. Mr., Miss
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 255)]
    pub salutation: Option<String>,
    #[schema(max_length = 255, pattern = r"\S")]
    pub first_name: String,
    /// A name or an initial.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 255)]
    pub middle_name: Option<String>,
    #[schema(max_length = 255, pattern = r"\S")]
    pub last_name: String,
    /// e.g. Jr., IV
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 255)]
    pub suffix: Option<String>,
    #[schema(max_length = 255, pattern = r"\S")]
    pub job_title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<PilotDto>)]
    pub pilot: Option<&'static str>,
    #[schema(value_type = StatusDto)]
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<WorkFromHomeDto>)]
    pub work_from_home: Option<&'static str>,
    /// The user's primary organization.
    #[schema(max_length = 255, pattern = r"\S")]
    pub organization: String,
    #[schema(max_length = 255, pattern = r"\S")]
    pub contact_center: String,
    #[schema(max_length = 255, pattern = r"\S")]
    pub site: String,
    /// At least one, at most 100; no duplicates (case-insensitive); each at most 255 characters,
    /// e.g. Agent, Supervisor, Manager.
    #[schema(schema_with = required_names)]
    pub roles: Vec<String>,
    /// At most 100; no duplicates (case-insensitive); each at most 255 characters.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(schema_with = optional_names)]
    pub teams: Vec<String>,
    /// At least one, at most 20; one telephony identity at most once.
    #[schema(min_items = 1, max_items = 20)]
    pub telephony_configurations: Vec<TelephonyConfigurationDto>,
    /// `userId` of the user's coach; not the user itself. Naming no stored user is a warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 128)]
    pub coach_id: Option<String>,
    /// Should equal the supervisor's `firstName lastName`; a difference is a warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 255)]
    pub supervisor_name: Option<String>,
    /// `userId` of the user's direct supervisor; not the user itself. Naming no stored user is a warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 128)]
    pub supervisor_id: Option<String>,
    /// Unique per namespace, case-insensitive.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 254)]
    pub email: Option<String>,
    /// `yyyy-mm-dd`. Absent: a new user gets the processing date (today, UTC); an existing user keeps its date.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = optional_date)]
    pub activation_date: Option<String>,
    /// `yyyy-mm-dd`, only when `status` is `Inactive`, not before `activationDate`. `Inactive` without it: the stored
    /// date if the user was already inactive, else the processing date. Reactivating clears it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = optional_date)]
    pub deactivation_date: Option<String>,
}

fn names(min_items: usize) -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    let nullable = min_items == 0;
    ArrayBuilder::new()
        .schema_type(if nullable {
            SchemaType::from_iter([Type::Array, Type::Null])
        } else {
            SchemaType::Type(Type::Array)
        })
        .items(ObjectBuilder::new().schema_type(Type::String).max_length(Some(255)).pattern(Some(NOT_BLANK)))
        .min_items(Some(min_items))
        .max_items(Some(100))
        .unique_items(true)
        .build()
}

/// `yyyy-mm-dd`, or absent: `null` or a blank string.
fn optional_date() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    let any_of = AnyOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^\s*$")))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .build();
    utoipa::openapi::schema::Schema::AnyOf(any_of)
}

fn any_value() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
        .description(Some("The offending value as sent (any JSON type)."))
        .build()
}

fn required_names() -> utoipa::openapi::schema::Array {
    names(1)
}

fn optional_names() -> utoipa::openapi::schema::Array {
    names(0)
}

#[derive(ToSchema)]
#[schema(as = Status)]
#[allow(dead_code)]
pub enum StatusDto {
    Active,
    Inactive,
}

#[derive(ToSchema)]
#[schema(as = Pilot)]
#[allow(dead_code)]
pub enum PilotDto {
    Test,
    Control,
}

#[derive(ToSchema)]
#[schema(as = WorkFromHome)]
#[allow(dead_code)]
pub enum WorkFromHomeDto {
    Y,
    N,
}

impl From<&User> for UserDto {
    fn from(u: &User) -> Self {
        let p = &u.profile;
        let text = |t: &Option<roster_domain::Text>| t.as_ref().map(|t| t.to_string());
        UserDto {
            user_id: u.user_id.to_string(),
            salutation: text(&p.salutation),
            first_name: p.first_name.to_string(),
            middle_name: text(&p.middle_name),
            last_name: p.last_name.to_string(),
            suffix: text(&p.suffix),
            job_title: p.job_title.to_string(),
            pilot: p.pilot.map(|v| v.as_str()),
            status: p.status.as_str(),
            work_from_home: p.work_from_home.map(|v| v.as_str()),
            organization: p.organization.to_string(),
            contact_center: p.contact_center.to_string(),
            site: p.site.to_string(),
            roles: p.roles.iter().map(|r| r.to_string()).collect(),
            teams: p.teams.iter().map(|r| r.to_string()).collect(),
            telephony_configurations: p
                .telephony_configurations
                .iter()
                .map(|t| TelephonyConfigurationDto {
                    platform: t.platform.to_string(),
                    agent_id: t.agent_id.to_string(),
                    extension: t.extension.as_ref().map(|e| e.as_str().to_owned()),
                })
                .collect(),
            coach_id: p.coach_id.as_ref().map(|i| i.to_string()),
            supervisor_name: text(&p.supervisor_name),
            supervisor_id: p.supervisor_id.as_ref().map(|i| i.to_string()),
            email: p.email.as_ref().map(|e| e.as_str().to_owned()),
            activation_date: Some(u.activation_date.to_string()),
            deactivation_date: u.deactivation_date.map(|d| d.to_string()),
        }
    }
}

/// The closed set of issue codes; the API description's table says what
/// each means and which are warnings.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = IssueCode)]
#[serde(rename_all = "snake_case")]
pub enum IssueCodeDto {
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

impl From<IssueCode> for IssueCodeDto {
    fn from(c: IssueCode) -> Self {
        match c {
            IssueCode::Required => IssueCodeDto::Required,
            IssueCode::Blank => IssueCodeDto::Blank,
            IssueCode::TooLong => IssueCodeDto::TooLong,
            IssueCode::TooMany => IssueCodeDto::TooMany,
            IssueCode::InvalidType => IssueCodeDto::InvalidType,
            IssueCode::InvalidValue => IssueCodeDto::InvalidValue,
            IssueCode::InvalidFormat => IssueCodeDto::InvalidFormat,
            IssueCode::InvalidDate => IssueCodeDto::InvalidDate,
            IssueCode::DateOrder => IssueCodeDto::DateOrder,
            IssueCode::Duplicate => IssueCodeDto::Duplicate,
            IssueCode::SelfReference => IssueCodeDto::SelfReference,
            IssueCode::Conflict => IssueCodeDto::Conflict,
            IssueCode::MalformedJson => IssueCodeDto::MalformedJson,
            IssueCode::UnknownField => IssueCodeDto::UnknownField,
            IssueCode::UnknownReference => IssueCodeDto::UnknownReference,
            IssueCode::NameMismatch => IssueCodeDto::NameMismatch,
        }
    }
}

/// One problem: where (`field`, a path like `telephonyConfigurations[1].agentId`;
/// empty for the whole body), what (`code`), what to do (`message`), and the
/// value seen, when there was one.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Issue)]
#[schema(example = json!({"field": "telephonyConfigurations[0].agentId", "code": "conflict", "message": "agentId 10042 on platform Genesys Cloud already belongs to user 'a-1002'", "value": "10042"}))]
pub struct IssueDto {
    pub field: String,
    pub code: IssueCodeDto,
    pub message: String,
    /// The offending value as sent (any JSON type).
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    #[schema(schema_with = any_value, required = false)]
    pub value: serde_json::Value,
}

impl From<&Issue> for IssueDto {
    fn from(i: &Issue) -> Self {
        IssueDto {
            field: i.field.clone(),
            code: i.code.into(),
            message: i.message.clone(),
            value: i.value.as_ref().map(to_json).unwrap_or(serde_json::Value::Null),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Action)]
#[serde(rename_all = "lowercase")]
pub enum ActionDto {
    Create,
    Update,
    Unchanged,
    None,
}

/// What happened to one user of the request — on a dry run, what would.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = UserOutcome)]
#[serde(rename_all = "camelCase")]
pub struct UserOutcomeDto {
    /// Position of the user in the request, from 0.
    pub index: u64,
    /// `userId` as sent, when it was a string.
    #[schema(value_type = Option<String>)]
    pub user_id: Option<String>,
    /// `create`, `update`, `unchanged`, or `none` (invalid).
    pub action: ActionDto,
    /// Whether this request stored the user.
    pub persisted: bool,
    /// For `update`: the fields that change.
    pub changed_fields: Vec<String>,
    pub errors: Vec<IssueDto>,
    pub warnings: Vec<IssueDto>,
}

impl From<&UserOutcome> for UserOutcomeDto {
    fn from(o: &UserOutcome) -> Self {
        UserOutcomeDto {
            index: o.index,
            user_id: o.user_id.clone(),
            action: match o.action {
                Action::Create => ActionDto::Create,
                Action::Update => ActionDto::Update,
                Action::Unchanged => ActionDto::Unchanged,
                Action::None => ActionDto::None,
            },
            persisted: o.persisted,
            changed_fields: o.changed_fields.iter().map(|f| (*f).to_owned()).collect(),
            errors: o.errors.iter().map(IssueDto::from).collect(),
            warnings: o.warnings.iter().map(IssueDto::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Summary)]
pub struct SummaryDto {
    pub received: u64,
    pub processed: u64,
    pub valid: u64,
    pub invalid: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub persisted: u64,
}

impl From<Summary> for SummaryDto {
    fn from(s: Summary) -> Self {
        SummaryDto {
            received: s.received,
            processed: s.processed,
            valid: s.valid,
            invalid: s.invalid,
            created: s.created,
            updated: s.updated,
            unchanged: s.unchanged,
            persisted: s.persisted,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReportKind)]
#[serde(rename_all = "lowercase")]
pub enum ReportKindDto {
    Single,
    Bulk,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReportStatus)]
#[serde(rename_all = "lowercase")]
pub enum ReportStatusDto {
    Completed,
    Failed,
    InProgress,
}

/// The processing report: what was wrong and what was done, user by user.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Report)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "reportId": "0193a4e2-6f1c-7cc2-9d1e-5b0c3f8a2d41",
    "namespace": "acme",
    "kind": "single",
    "status": "completed",
    "commit": true,
    "forceCommit": false,
    "createdAt": "2026-12-04T10:00:00.000Z",
    "completedAt": "2026-12-04T10:00:00.002Z",
    "summary": {"received": 1, "processed": 1, "valid": 1, "invalid": 0, "created": 1, "updated": 0, "unchanged": 0, "persisted": 1},
    "errors": [],
    "users": [{"index": 0, "userId": "a-1001", "action": "create", "persisted": true, "changedFields": [], "errors": [], "warnings": []}]
}))]
pub struct ReportDto {
    pub report_id: String,
    pub namespace: String,
    pub kind: ReportKindDto,
    /// `completed` (no errors), `failed` (at least one error), `inprogress` (bulk, running).
    pub status: ReportStatusDto,
    pub commit: bool,
    pub force_commit: bool,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// RFC 3339, UTC; null while in progress.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub completed_at: Option<String>,
    pub summary: SummaryDto,
    /// Request-level errors: malformed body, bad query parameter, bad namespace.
    pub errors: Vec<IssueDto>,
    pub users: Vec<UserOutcomeDto>,
}

impl From<&Report> for ReportDto {
    fn from(r: &Report) -> Self {
        let time = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        ReportDto {
            report_id: r.report_id.clone(),
            namespace: r.namespace.clone(),
            kind: match r.kind {
                ReportKind::Single => ReportKindDto::Single,
                ReportKind::Bulk => ReportKindDto::Bulk,
            },
            status: match r.status {
                ReportStatus::Completed => ReportStatusDto::Completed,
                ReportStatus::Failed => ReportStatusDto::Failed,
                ReportStatus::InProgress => ReportStatusDto::InProgress,
            },
            commit: r.commit,
            force_commit: r.force_commit,
            created_at: time(r.created_at),
            completed_at: r.completed_at.map(time),
            summary: r.summary.into(),
            errors: r.errors.iter().map(IssueDto::from).collect(),
            users: r.users.iter().map(UserOutcomeDto::from).collect(),
        }
    }
}

/// An RFC 9457 problem document, for every error that is not a report.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Problem)]
#[schema(example = json!({"type": "about:blank", "title": "Not Found", "status": 404, "detail": "namespace 'acme' has no user 'a-1001'"}))]
pub struct ProblemDto {
    /// `about:blank`: the status code says it all.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// The status code's reason phrase.
    pub title: String,
    pub status: u16,
    /// What went wrong and what to do about it.
    pub detail: String,
}

/// `{"status": "ok"}`
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Health)]
pub struct HealthDto {
    #[schema(example = "ok")]
    pub status: String,
}

/// The users of a bulk import, as a JSON array: 1 to 200,000 users, each
/// of the shape of `User`. A user that breaks a rule is an error on its row
/// of the report (the import goes on); see `importUsers`. A schema only: the
/// body is parsed as it streams in.
pub struct UserListDto;

impl utoipa::PartialSchema for UserListDto {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::ArrayBuilder;
        use utoipa::openapi::{Ref, RefOr};
        ArrayBuilder::new()
            .items(RefOr::Ref(Ref::from_schema_name("User")))
            .min_items(Some(1))
            .max_items(Some(200_000))
            .description(Some(
                "The users of a bulk import: 1 to 200,000, each of the shape of `User`. A user that breaks a rule \
                 is an error on its row of the report; the import goes on.",
            ))
            .into()
    }
}

impl ToSchema for UserListDto {
    fn name() -> std::borrow::Cow<'static, str> {
        "UserList".into()
    }

    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        use utoipa::PartialSchema;
        schemas.push((UserDto::name().into_owned(), UserDto::schema()));
        UserDto::schemas(schemas);
    }
}

#[cfg(test)]
mod tests {
    use super::IssueCodeDto;
    use roster_domain::IssueCode;

    #[test]
    fn issue_codes_go_on_the_wire_as_the_domain_names_them() {
        for code in IssueCode::ALL {
            assert_eq!(serde_json::to_value(IssueCodeDto::from(code)).unwrap(), code.as_str());
        }
    }
}
