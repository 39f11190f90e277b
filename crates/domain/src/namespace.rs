/// A client namespace (tenant): `^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace(String);

impl Namespace {
    pub const RULE: &'static str = "1-64 characters: letters, digits, '_' and '-', starting with a letter or digit";

    pub fn parse(s: &str) -> Result<Namespace, String> {
        let mut chars = s.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if first_ok && rest_ok && s.len() <= 64 {
            Ok(Namespace(s.to_owned()))
        } else {
            Err(format!("namespace '{}' is invalid: {}", s.escape_debug(), Self::RULE))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_and_rejects() {
        assert!(Namespace::parse("acme").is_ok());
        assert!(Namespace::parse("a").is_ok());
        assert!(Namespace::parse("Acme_2-x").is_ok());
        assert!(Namespace::parse(&"a".repeat(64)).is_ok());
        assert!(Namespace::parse(&"a".repeat(65)).is_err());
        assert!(Namespace::parse("").is_err());
        assert!(Namespace::parse("-acme").is_err());
        assert!(Namespace::parse("ac me").is_err());
        assert!(Namespace::parse("acmé").is_err());
    }

    proptest! {
        #[test]
        fn matches_the_spec_regex(s in "\\PC{0,70}") {
            let ok = Namespace::parse(&s).is_ok();
            let expected = !s.is_empty() && s.len() <= 64
                && s.chars().next().unwrap().is_ascii_alphanumeric()
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            prop_assert_eq!(ok, expected);
        }

        #[test]
        fn valid_namespaces_round_trip(s in "[A-Za-z0-9][A-Za-z0-9_-]{0,63}") {
            let ns = Namespace::parse(&s).unwrap();
            prop_assert_eq!(ns.as_str(), s.as_str());
        }
    }
}
