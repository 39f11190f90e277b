use crate::{CalendarDate, Email, Pilot, Status, TelephonyConfiguration, Text, UserId, WorkFromHome};

/// The user's fields, in the order of the contract (SPEC §3).
pub const FIELD_NAMES: [&str; 22] = [
    "userId",
    "salutation",
    "firstName",
    "middleName",
    "lastName",
    "suffix",
    "jobTitle",
    "pilot",
    "status",
    "workFromHome",
    "organization",
    "contactCenter",
    "site",
    "roles",
    "teams",
    "telephonyConfigurations",
    "coachId",
    "supervisorName",
    "supervisorId",
    "email",
    "activationDate",
    "deactivationDate",
];

/// Everything about a user but its key and its dates.
#[derive(Debug, Clone, PartialEq)]
pub struct UserProfile {
    pub salutation: Option<Text>,
    pub first_name: Text,
    pub middle_name: Option<Text>,
    pub last_name: Text,
    pub suffix: Option<Text>,
    pub job_title: Text,
    pub pilot: Option<Pilot>,
    pub status: Status,
    pub work_from_home: Option<WorkFromHome>,
    pub organization: Text,
    pub contact_center: Text,
    pub site: Text,
    pub roles: Vec<Text>,
    pub teams: Vec<Text>,
    pub telephony_configurations: Vec<TelephonyConfiguration>,
    pub coach_id: Option<UserId>,
    pub supervisor_name: Option<Text>,
    pub supervisor_id: Option<UserId>,
    pub email: Option<Email>,
}

/// A valid user as sent: its dates may still be absent, to be resolved
/// against the stored user and the processing date.
#[derive(Debug, Clone, PartialEq)]
pub struct UserDraft {
    pub user_id: UserId,
    pub profile: UserProfile,
    pub activation_date: Option<CalendarDate>,
    pub deactivation_date: Option<CalendarDate>,
}

/// A user as stored: valid, with its dates resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub user_id: UserId,
    pub profile: UserProfile,
    pub activation_date: CalendarDate,
    pub deactivation_date: Option<CalendarDate>,
}

impl User {
    /// `firstName lastName`, what `supervisorName` is compared with.
    pub fn display_name(&self) -> String {
        format!("{} {}", self.profile.first_name, self.profile.last_name)
    }

    /// The fields (contract names, contract order) whose values differ from
    /// `before`. Lists are compared as sets: sending the same roles, teams or
    /// telephony configurations in another order changes nothing.
    pub fn changed_fields(&self, before: &User) -> Vec<&'static str> {
        let (a, b) = (&self.profile, &before.profile);
        let checks: [(&'static str, bool); 22] = [
            ("userId", self.user_id != before.user_id),
            ("salutation", a.salutation != b.salutation),
            ("firstName", a.first_name != b.first_name),
            ("middleName", a.middle_name != b.middle_name),
            ("lastName", a.last_name != b.last_name),
            ("suffix", a.suffix != b.suffix),
            ("jobTitle", a.job_title != b.job_title),
            ("pilot", a.pilot != b.pilot),
            ("status", a.status != b.status),
            ("workFromHome", a.work_from_home != b.work_from_home),
            ("organization", a.organization != b.organization),
            ("contactCenter", a.contact_center != b.contact_center),
            ("site", a.site != b.site),
            ("roles", !same_set(&a.roles, &b.roles)),
            ("teams", !same_set(&a.teams, &b.teams)),
            ("telephonyConfigurations", !same_set(&a.telephony_configurations, &b.telephony_configurations)),
            ("coachId", a.coach_id != b.coach_id),
            ("supervisorName", a.supervisor_name != b.supervisor_name),
            ("supervisorId", a.supervisor_id != b.supervisor_id),
            ("email", a.email != b.email),
            ("activationDate", self.activation_date != before.activation_date),
            ("deactivationDate", self.deactivation_date != before.deactivation_date),
        ];
        checks.into_iter().filter(|(_, changed)| *changed).map(|(name, _)| name).collect()
    }
}

fn same_set<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    // Lists are duplicate-free (validation refuses duplicates), so equal
    // length plus inclusion is set equality.
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}
