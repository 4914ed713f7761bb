//! Masking secrets: every byte of child-process output that polyship shows or stores passes
//! through a [`Redactor`], which replaces the values of credential variables and the password of
//! `scheme://user:password@host` URLs with `***`.

use std::fmt::Write as _;

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

    /// Masks `secret` too — as written, URL-encoded, and wherever it sits inside base64 (an
    /// `Authorization: Basic` header a server echoes). Values shorter than 4 characters are not
    /// masked: they would mask ordinary words, and no registry issues tokens that short.
    pub fn add(&mut self, secret: &str) {
        let secret = secret.trim();
        if secret.len() < 4 {
            return;
        }
        let mut forms = vec![secret.to_owned(), url_encode(secret)];
        forms.extend(base64_forms(secret));
        for form in forms {
            if form.len() >= 4 && !self.secrets.contains(&form) {
                self.secrets.push(form);
            }
        }
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// `text` with every secret and every URL password masked.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        mask_basic_auth(&mask_url_passwords(&out))
    }

    /// Redacts bytes read from a child process (lossy UTF-8).
    pub fn redact_bytes(&self, bytes: &[u8]) -> String {
        self.redact(&String::from_utf8_lossy(bytes))
    }
}

/// `secret` percent-encoded as a URL or form would carry it.
fn url_encode(secret: &str) -> String {
    let mut out = String::with_capacity(secret.len());
    for b in secret.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The parts of any base64 text (standard or URL-safe alphabet) that encode `secret`, whatever
/// its offset: for each of the three alignments, the characters that depend on its bytes alone.
fn base64_forms(secret: &str) -> Vec<String> {
    use base64::Engine as _;
    let bytes = secret.as_bytes();
    let mut out = Vec::new();
    for offset in 0..3usize {
        let mut padded = vec![0u8; offset];
        padded.extend_from_slice(bytes);
        let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&padded);
        let first_group = offset.div_ceil(3);
        let last_group = (offset + bytes.len()) / 3;
        if last_group <= first_group {
            continue;
        }
        let inner = &encoded[first_group * 4..(last_group * 4).min(encoded.len())];
        out.push(inner.to_owned());
        out.push(inner.replace('+', "-").replace('/', "_"));
    }
    out
}

/// `Basic <base64>` (an `Authorization` value) → `Basic ***`, whatever it encodes.
fn mask_basic_auth(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("Basic ") {
        let (head, tail) = rest.split_at(i + "Basic ".len());
        out.push_str(head);
        let end = tail
            .find(|c: char| {
                !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_'))
            })
            .unwrap_or(tail.len());
        if end >= 8 {
            out.push_str(MASK);
        } else {
            out.push_str(&tail[..end]);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
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
        use base64::Engine as _;
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
        // Every base64 alignment, the URL-encoded form, and any Basic header.
        let mut r = Redactor::default();
        r.add("npm_Abc/123+xyz");
        for prefix in ["", "u:", "us:", "use:"] {
            let b64 = base64::engine::general_purpose::STANDARD
                .encode(format!("{prefix}npm_Abc/123+xyz and more"));
            let out = r.redact(&format!("echo {b64} end"));
            assert!(!out.contains(&b64), "{prefix}: {out}");
        }
        assert_eq!(r.redact("t=npm_Abc%2F123%2Bxyz&x"), "t=***&x");
        assert_eq!(
            Redactor::default().redact("Authorization: Basic dXNlcjpwYXNzd29yZA== sent"),
            "Authorization: Basic *** sent"
        );
        assert!(is_credential("npm_token"));
        assert!(!is_credential("TWINE_USERNAME"));
    }
}
