//! Masking secrets: every byte of child-process output that polyship shows or stores passes
//! through a [`Redactor`], which replaces the values of credential variables and the password of
//! `scheme://user:password@host` URLs with `***`.

/// The environment variables whose values are credentials, by the names each ecosystem uses.
pub const CREDENTIAL_VARIABLES: &[&str] = &[
    "CARGO_REGISTRY_TOKEN",
    "NPM_TOKEN",
    "NODE_AUTH_TOKEN",
    "TWINE_PASSWORD",
    "MATURIN_PYPI_TOKEN",
    "MATURIN_PASSWORD",
    "UV_PUBLISH_TOKEN",
    "UV_PUBLISH_PASSWORD",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GITEA_TOKEN",
];

/// Whether an environment variable holds a credential: a name of [`CREDENTIAL_VARIABLES`],
/// `CARGO_REGISTRIES_<NAME>_TOKEN`, or any name ending in `_TOKEN`, `_PASSWORD` or `_SECRET`.
pub fn is_credential(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    CREDENTIAL_VARIABLES.contains(&upper.as_str())
        || ["_TOKEN", "_PASSWORD", "_SECRET", "_API_KEY"]
            .iter()
            .any(|s| upper.ends_with(s))
}

const MASK: &str = "***";

/// Replaces known secret values in text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so a secret that contains another is masked whole.
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for the credential variables of this process's environment.
    pub fn from_env() -> Self {
        let mut r = Self::default();
        for (name, value) in std::env::vars_os() {
            if let (Some(name), Some(value)) = (name.to_str(), value.to_str())
                && is_credential(name)
            {
                r.add(value);
            }
        }
        r
    }

    /// Masks `secret` too. Values shorter than 4 characters are not masked: they would mask
    /// ordinary words, and no registry issues tokens that short.
    pub fn add(&mut self, secret: &str) {
        let secret = secret.trim();
        if secret.len() >= 4 && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_owned());
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// `text` with every secret and every URL password masked.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        mask_url_passwords(&out)
    }

    /// Redacts bytes read from a child process (lossy UTF-8).
    pub fn redact_bytes(&self, bytes: &[u8]) -> String {
        self.redact(&String::from_utf8_lossy(bytes))
    }
}

/// `scheme://user:password@host` → `scheme://user:***@host`.
fn mask_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority ends at the first `/`, whitespace or quote.
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) if authority[..at].contains(':') => {
                let colon = authority[..at].find(':').unwrap_or(at);
                out.push_str(&authority[..=colon]);
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_secrets_and_url_passwords() {
        let mut r = Redactor::default();
        r.add("s3cr3t-token");
        r.add("s3cr3t");
        r.add("ab");
        assert_eq!(
            r.redact("token s3cr3t-token and s3cr3t, ab stays"),
            "token *** and ***, ab stays"
        );
        assert_eq!(
            r.redact("fetch https://bob:hunter22@example.com/x and git://h/y, http://u@h/"),
            "fetch https://bob:***@example.com/x and git://h/y, http://u@h/"
        );
        assert!(is_credential("CARGO_REGISTRIES_LOCAL_TOKEN"));
        assert!(is_credential("npm_token"));
        assert!(!is_credential("TWINE_USERNAME"));
    }
}
