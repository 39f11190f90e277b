use roster_domain::{Issue, IssueCode, RawValue};

/// A `true`/`false` query flag: exactly those words, case-insensitive;
/// absent means `default`. Anything else — `yes`, `1`, an empty value — is
/// an issue naming the parameter, never read as true.
pub fn parse_flag(name: &str, raw: Option<&str>, default: bool) -> Result<bool, Issue> {
    match raw {
        None => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => {
            Err(Issue::new(name, IssueCode::InvalidValue, format!("query parameter {name} must be true or false"))
                .with_value(RawValue::String(v.to_owned())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_flag;

    #[test]
    fn strict() {
        assert_eq!(parse_flag("commit", None, true), Ok(true));
        assert_eq!(parse_flag("commit", None, false), Ok(false));
        assert_eq!(parse_flag("commit", Some("TRUE"), false), Ok(true));
        assert_eq!(parse_flag("commit", Some("False"), true), Ok(false));
        for bad in ["", "yes", "1", "flase", "true ", "0"] {
            let e = parse_flag("commit", Some(bad), true).unwrap_err();
            assert_eq!(e.field, "commit");
            assert!(e.message.contains("commit"));
        }
    }
}
