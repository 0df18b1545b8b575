//! Database URLs fit to print.

/// A database URL fit to print: any password is masked.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    match authority.rfind('@') {
        Some(at) => match authority[..at].split_once(':') {
            Some((user, _password)) => format!(
                "{}{user}:***{}{}",
                &url[..authority_start],
                &authority[at..],
                &url[authority_end..]
            ),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            redact_url("postgres://lodge:s3cret@db.example:5432/lodge?sslmode=require"),
            "postgres://lodge:***@db.example:5432/lodge?sslmode=require"
        );
        assert_eq!(redact_url("postgres://lodge@db/lodge"), "postgres://lodge@db/lodge");
        assert_eq!(
            redact_url("sqlite://./lodge-data/lodge.db"),
            "sqlite://./lodge-data/lodge.db"
        );
    }
}
