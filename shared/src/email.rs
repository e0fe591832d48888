//! Email addresses as Zapini accepts them: a cheap syntactic check (deliverability is not our
//! business), shared by the configuration (the first admin) and the auth routes.

/// Whether `s` looks like an email address: one `@` between a non-empty local part and a
/// domain that neither starts nor ends with a dot, no whitespace, at most 255 bytes.
pub fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace())
        && s.len() <= 255
        && !domain.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_check() {
        assert!(looks_like_email("a@b.co"));
        assert!(!looks_like_email("a@"));
        assert!(!looks_like_email("@b"));
        assert!(!looks_like_email("a b@c.d"));
        assert!(!looks_like_email("ab"));
        assert!(!looks_like_email("a@b@c"));
        assert!(!looks_like_email("a@.b"));
    }
}
