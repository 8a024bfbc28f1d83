//! DNS name rules of apimachinery (`validation.IsDNS1123Label`/`IsDNS1123Subdomain`) with their
//! error texts.

const LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.first().is_some_and(edge)
        && b.last().is_some_and(edge)
        && b.iter().all(|c| edge(c) || *c == b'-')
}

fn is_subdomain(s: &str) -> bool {
    s.split('.').all(is_label)
}

fn max_len(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// The reasons `value` is not a DNS-1123 label (empty if it is one).
pub fn dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push(max_len(63));
    }
    if !is_label(value) {
        if is_subdomain(value) {
            errs.push("must not contain dots".into());
        } else {
            errs.push(format!(
                "{LABEL_MSG} (e.g. 'my-name',  or '123-abc', regex used for validation is '{LABEL_FMT}')"
            ));
        }
    }
    errs
}

/// The reasons `value` is not a DNS-1123 subdomain (empty if it is one).
pub fn dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 253 {
        errs.push(max_len(253));
    }
    if !is_subdomain(value) {
        errs.push(format!(
            "{SUBDOMAIN_MSG} (e.g. 'example.com', regex used for validation is '{LABEL_FMT}(\\.{LABEL_FMT})*')"
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_lowercase_alphanumerics_and_dashes() {
        assert!(dns1123_label("my-vm-1").is_empty());
        assert_eq!(dns1123_label("a.b"), vec!["must not contain dots"]);
        assert!(dns1123_label("My_VM")[0].starts_with("a lowercase RFC 1123 label"));
        assert!(!dns1123_label("-a").is_empty());
        assert_eq!(dns1123_label(&"a".repeat(64)), vec![max_len(63)]);
    }

    #[test]
    fn subdomains_are_dot_separated_labels() {
        assert!(dns1123_subdomain("a.example.com").is_empty());
        assert!(!dns1123_subdomain("a..b").is_empty());
        assert!(dns1123_subdomain("UPPER")[0].contains("(e.g. 'example.com'"));
    }
}
