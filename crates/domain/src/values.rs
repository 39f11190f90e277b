//! Typed values: each constructor trims, normalises and rejects.

use chrono::NaiveDate;

use crate::IssueCode;

/// Longest accepted name, title, organization field or list item (characters).
pub const MAX_TEXT: usize = 255;
/// Longest accepted `userId` (characters).
pub const MAX_USER_ID: usize = 128;
/// Most items in `roles` or `teams`.
pub const MAX_ITEMS: usize = 100;
/// Most telephony configurations per user.
pub const MAX_TELEPHONY: usize = 20;
/// Longest accepted email address (RFC 5321 path limit).
pub const MAX_EMAIL: usize = 254;
/// Longest accepted extension.
pub const MAX_EXTENSION: usize = 20;

/// Why a value was refused: an issue code and a message saying what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    pub code: IssueCode,
    pub message: String,
}

impl ValueError {
    fn new(code: IssueCode, message: impl Into<String>) -> Self {
        ValueError { code, message: message.into() }
    }
}

/// A user's key within its namespace: 1–128 characters, no control
/// characters, no leading or trailing whitespace. Not trimmed: a key is
/// taken exactly as sent or refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    pub fn parse(s: &str) -> Result<UserId, ValueError> {
        if s.trim().is_empty() {
            return Err(ValueError::new(IssueCode::Blank, "must not be empty"));
        }
        if s.chars().count() > MAX_USER_ID {
            return Err(ValueError::new(IssueCode::TooLong, format!("must be at most {MAX_USER_ID} characters")));
        }
        if s.chars().any(char::is_control) {
            return Err(ValueError::new(IssueCode::InvalidFormat, "must not contain control characters"));
        }
        if s.trim() != s {
            return Err(ValueError::new(IssueCode::InvalidFormat, "must not begin or end with whitespace"));
        }
        Ok(UserId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A trimmed, non-empty string of at most [`MAX_TEXT`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text(String);

impl Text {
    pub fn parse(s: &str) -> Result<Text, ValueError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(ValueError::new(IssueCode::Blank, "must not be empty or only whitespace"));
        }
        if t.chars().count() > MAX_TEXT {
            return Err(ValueError::new(IssueCode::TooLong, format!("must be at most {MAX_TEXT} characters")));
        }
        Ok(Text(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A syntactically valid email address, trimmed; compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Email, ValueError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(ValueError::new(IssueCode::Blank, "must not be empty or only whitespace"));
        }
        if s.chars().count() > MAX_EMAIL {
            return Err(ValueError::new(IssueCode::TooLong, format!("must be at most {MAX_EMAIL} characters")));
        }
        let parsed = email_address::EmailAddress::parse_with_options(
            t,
            email_address::Options::default().with_required_tld().without_display_text().without_domain_literal(),
        );
        match parsed {
            Ok(_) => Ok(Email(t.to_owned())),
            Err(e) => Err(ValueError::new(
                IssueCode::InvalidFormat,
                format!("must be an email address like name@example.com ({e})"),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form uniqueness is decided on: lower-case.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A calendar date written `yyyy-mm-dd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CalendarDate(NaiveDate);

impl CalendarDate {
    /// Exactly `yyyy-mm-dd`: no surrounding spaces, no time.
    pub fn parse(s: &str) -> Result<CalendarDate, ValueError> {
        let t = s;
        let b = t.as_bytes();
        let shaped = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shaped {
            return Err(ValueError::new(IssueCode::InvalidFormat, "must be a date written yyyy-mm-dd"));
        }
        NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map(CalendarDate)
            .map_err(|_| ValueError::new(IssueCode::InvalidDate, format!("{t} is not a calendar date")))
    }

    pub fn from_naive(d: NaiveDate) -> CalendarDate {
        CalendarDate(d)
    }

    pub fn naive(self) -> NaiveDate {
        self.0
    }
}

impl std::fmt::Display for CalendarDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

macro_rules! closed_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const VALUES: &'static [&'static str] = &[$($text),+];

            /// Exactly one of [`Self::VALUES`], nothing else (no other case, no spaces).
            pub fn parse(s: &str) -> Result<$name, ValueError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ValueError::new(
                        IssueCode::InvalidValue,
                        format!("must be one of: {}", Self::VALUES.join(", ")),
                    )),
                }
            }

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
    };
}

closed_enum!(
    /// Whether the user works now.
    Status { Active => "Active", Inactive => "Inactive" }
);
closed_enum!(
    /// Which group of a pilot the user belongs to.
    Pilot { Test => "Test", Control => "Control" }
);
closed_enum!(
    /// Whether the user works from home.
    WorkFromHome { Y => "Y", N => "N" }
);

/// A phone extension: 1–20 of digits, `*`, `#`, `+`, nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Extension(String);

impl Extension {
    pub fn parse(s: &str) -> Result<Extension, ValueError> {
        let t = s;
        if t.is_empty() {
            return Err(ValueError::new(IssueCode::Blank, "must not be empty or only whitespace"));
        }
        if t.chars().count() > MAX_EXTENSION {
            return Err(ValueError::new(IssueCode::TooLong, format!("must be at most {MAX_EXTENSION} characters")));
        }
        if !t.chars().all(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | '+')) {
            return Err(ValueError::new(IssueCode::InvalidFormat, "may hold only digits, '*', '#' and '+'"));
        }
        Ok(Extension(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The user's identity on one telephony platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TelephonyConfiguration {
    pub platform: Text,
    pub agent_id: Text,
    pub extension: Option<Extension>,
}

impl TelephonyConfiguration {
    pub fn identity(&self) -> TelephonyIdentity {
        TelephonyIdentity {
            platform: self.platform.as_str().to_lowercase(),
            agent_id: self.agent_id.as_str().to_owned(),
        }
    }
}

/// What makes a telephony configuration unique in a namespace: the platform
/// (case-insensitive, kept lower-case here) and the agent id (exact).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TelephonyIdentity {
    pub platform: String,
    pub agent_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn user_id_rules() {
        assert_eq!(UserId::parse("a-1001").unwrap().as_str(), "a-1001");
        assert_eq!(UserId::parse("").unwrap_err().code, IssueCode::Blank);
        assert_eq!(UserId::parse("   ").unwrap_err().code, IssueCode::Blank);
        assert_eq!(UserId::parse(" a").unwrap_err().code, IssueCode::InvalidFormat);
        assert_eq!(UserId::parse("a\u{7}b").unwrap_err().code, IssueCode::InvalidFormat);
        assert_eq!(UserId::parse(&"x".repeat(129)).unwrap_err().code, IssueCode::TooLong);
        assert!(UserId::parse(&"é".repeat(128)).is_ok());
    }

    #[test]
    fn text_trims_and_limits() {
        assert_eq!(Text::parse("  Ann ").unwrap().as_str(), "Ann");
        assert_eq!(Text::parse(" \t ").unwrap_err().code, IssueCode::Blank);
        assert_eq!(Text::parse(&"x".repeat(256)).unwrap_err().code, IssueCode::TooLong);
        assert!(Text::parse(&"x".repeat(255)).is_ok());
    }

    #[test]
    fn dates() {
        assert_eq!(CalendarDate::parse("2024-02-29").unwrap().to_string(), "2024-02-29");
        assert_eq!(CalendarDate::parse("2023-02-30").unwrap_err().code, IssueCode::InvalidDate);
        assert_eq!(CalendarDate::parse("2023-13-01").unwrap_err().code, IssueCode::InvalidDate);
        assert_eq!(CalendarDate::parse("2023-2-3").unwrap_err().code, IssueCode::InvalidFormat);
        assert_eq!(CalendarDate::parse("02/03/2023").unwrap_err().code, IssueCode::InvalidFormat);
        assert_eq!(CalendarDate::parse("2023-02-03T00:00").unwrap_err().code, IssueCode::InvalidFormat);
    }

    #[test]
    fn enums_take_exact_spellings() {
        assert_eq!(Status::parse("Active").unwrap(), Status::Active);
        let e = Status::parse("active").unwrap_err();
        assert_eq!(e.code, IssueCode::InvalidValue);
        assert!(e.message.contains("Active, Inactive"));
        assert_eq!(Pilot::parse("Control").unwrap(), Pilot::Control);
        assert!(WorkFromHome::parse("yes").is_err());
        assert!(Status::parse(" Active").is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(Email::parse(" Ann@Example.com ").unwrap().normalized(), "ann@example.com");
        assert_eq!(Email::parse("not-an-email").unwrap_err().code, IssueCode::InvalidFormat);
        assert_eq!(Email::parse("a@b").unwrap_err().code, IssueCode::InvalidFormat);
        assert_eq!(Email::parse("Ann <ann@example.com>").unwrap_err().code, IssueCode::InvalidFormat);
    }

    #[test]
    fn extensions() {
        assert!(Extension::parse("+1*#4042").is_ok());
        assert_eq!(Extension::parse("12a").unwrap_err().code, IssueCode::InvalidFormat);
        assert_eq!(Extension::parse(&"1".repeat(21)).unwrap_err().code, IssueCode::TooLong);
    }

    proptest! {
        #[test]
        fn text_never_keeps_outer_whitespace(s in "\\PC{0,300}") {
            match Text::parse(&s) {
                Ok(t) => {
                    prop_assert_eq!(t.as_str(), s.trim());
                    prop_assert!(!t.as_str().is_empty());
                    prop_assert!(s.chars().count() <= MAX_TEXT);
                }
                Err(_) => prop_assert!(s.trim().is_empty() || s.chars().count() > MAX_TEXT || s.chars().any(char::is_control)),
            }
        }

        #[test]
        fn every_real_date_round_trips(days in 0i64..200_000) {
            let d = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Days::new(days as u64);
            let s = d.format("%Y-%m-%d").to_string();
            prop_assert_eq!(CalendarDate::parse(&s).unwrap().naive(), d);
        }

        #[test]
        fn user_ids_accept_exactly_the_rule(s in "\\PC{0,140}") {
            let ok = UserId::parse(&s).is_ok();
            let expected = !s.trim().is_empty() && s.trim() == s && s.chars().count() <= MAX_USER_ID;
            prop_assert_eq!(ok, expected);
        }
    }
}
