//! Format-preserving edits: change one string value in a TOML or JSON file and nothing else.
//!
//! The value is found by its key path with a parser that keeps byte spans, and only the bytes
//! between its quotes are replaced. Comments, key order, indentation, the quote style (`"` or `'`),
//! CRLF line ends, a byte-order mark and the final newline are untouched by construction — the
//! file is never re-serialised.

use std::ops::Range;

/// Why a value could not be edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("`{file}` does not parse any more; it changed since it was read")]
    Unparsable { file: String },
    #[error("`{file}` has no value at `{}`", key.join("."))]
    Missing { file: String, key: Vec<String> },
    #[error("the value at `{}` in `{file}` is not a plain quoted string", key.join("."))]
    NotAString { file: String, key: Vec<String> },
    #[error("`{value}` cannot be written inside a quoted string in `{file}`")]
    Unwritable { file: String, value: String },
    #[error("polyship cannot edit this kind of file: `{file}`")]
    Unsupported { file: String },
    /// The ecosystem's editor will not write there, and says why.
    #[error("{message}")]
    Refused { file: String, message: String },
}

/// The kind of file, by its syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Toml,
    Json,
}

impl Syntax {
    /// The syntax of a manifest file by its name.
    pub fn of(file: &str) -> Option<Self> {
        match std::path::Path::new(file)
            .extension()?
            .to_str()?
            .to_ascii_lowercase()
            .as_str()
        {
            "toml" => Some(Self::Toml),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

/// The byte span of the value at `key` (array elements by decimal index), quotes included.
fn value_span(
    syntax: Syntax,
    file: &str,
    text: &str,
    key: &[String],
) -> Result<Range<usize>, EditError> {
    let missing = || EditError::Missing {
        file: file.to_owned(),
        key: key.to_vec(),
    };
    match syntax {
        Syntax::Json => {
            let body = text.strip_prefix('\u{feff}').unwrap_or(text);
            if serde_json::from_str::<serde_json::Value>(body).is_err() {
                return Err(EditError::Unparsable {
                    file: file.to_owned(),
                });
            }
            let path: Vec<&str> = key.iter().map(String::as_str).collect();
            crate::json::value_span(text, &path).ok_or_else(missing)
        }
        Syntax::Toml => {
            let doc = toml_edit::Document::parse(text).map_err(|_| EditError::Unparsable {
                file: file.to_owned(),
            })?;
            let mut item = doc.as_item();
            for (i, part) in key.iter().enumerate() {
                // An array element is a value, not an item: it ends the path.
                if let Some(array) = item.as_array() {
                    let value = part
                        .parse::<usize>()
                        .ok()
                        .and_then(|n| array.get(n))
                        .ok_or_else(missing)?;
                    return if i + 1 == key.len() {
                        value.span().ok_or_else(missing)
                    } else {
                        Err(missing())
                    };
                }
                item = item
                    .as_table_like()
                    .and_then(|t| t.get(part))
                    .ok_or_else(missing)?;
            }
            item.span().ok_or_else(missing)
        }
    }
}

/// The string at `key`, without its quotes; `NotAString` for anything else (a table, a number, a
/// string with escapes).
pub fn get_string(
    syntax: Syntax,
    file: &str,
    text: &str,
    key: &[String],
) -> Result<String, EditError> {
    let span = value_span(syntax, file, text, key)?;
    let raw = &text[span];
    let inner = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| {
            (syntax == Syntax::Toml)
                .then(|| raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))
                .flatten()
        });
    let triple = raw.starts_with("\"\"\"") || raw.starts_with("'''");
    match inner {
        Some(inner) if !triple && (raw.starts_with('\'') || !inner.contains('\\')) => {
            Ok(inner.to_owned())
        }
        _ => Err(EditError::NotAString {
            file: file.to_owned(),
            key: key.to_vec(),
        }),
    }
}

/// `text` with the string at `key` replaced by `value`. Errors leave nothing half-done: the caller
/// gets either the whole new text or the reason.
pub fn set_string(
    syntax: Syntax,
    file: &str,
    text: &str,
    key: &[String],
    value: &str,
) -> Result<String, EditError> {
    let span = value_span(syntax, file, text, key)?;
    let raw = &text[span.clone()];
    let quote = raw
        .chars()
        .next()
        .filter(|q| *q == '"' || (*q == '\'' && syntax == Syntax::Toml));
    let plain = quote.is_some_and(|q| {
        raw.len() >= 2 && raw.ends_with(q) && !raw.starts_with("\"\"\"") && !raw.starts_with("'''")
    });
    let Some(quote) = quote.filter(|_| plain) else {
        return Err(EditError::NotAString {
            file: file.to_owned(),
            key: key.to_vec(),
        });
    };
    if value.contains([quote, '\\', '\n', '\r']) {
        return Err(EditError::Unwritable {
            file: file.to_owned(),
            value: value.to_owned(),
        });
    }
    let mut out = String::with_capacity(text.len() + value.len());
    out.push_str(&text[..=span.start]);
    out.push_str(value);
    out.push_str(&text[span.end - 1..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn toml_keeps_everything_but_the_value() {
        let text = "# top\r\n[package]\r\nname = 'acme'   # the name\r\nversion = '1.2.0' # bump me\r\n\r\n[dependencies]\r\ncore = { path = \"../core\", version = \"=1.2.0\" }\r\n";
        let out = set_string(
            Syntax::Toml,
            "Cargo.toml",
            text,
            &key(&["package", "version"]),
            "1.3.0",
        )
        .unwrap();
        assert_eq!(out, text.replace("'1.2.0'", "'1.3.0'"));
        let out = set_string(
            Syntax::Toml,
            "Cargo.toml",
            &out,
            &key(&["dependencies", "core", "version"]),
            "=1.3.0",
        )
        .unwrap();
        assert!(out.contains("core = { path = \"../core\", version = \"=1.3.0\" }\r\n"));
        assert!(out.starts_with("# top\r\n"));
    }

    #[test]
    fn toml_array_elements_and_dotted_tables() {
        let text = "[project]\nname = \"a\"\ndependencies = [\n  \"core>=1.2\",  # pinned\n  \"b\",\n]\n[workspace.package]\nversion = \"0.1.0\"\n";
        let out = set_string(
            Syntax::Toml,
            "pyproject.toml",
            text,
            &key(&["project", "dependencies", "0"]),
            "core>=1.3",
        )
        .unwrap();
        assert_eq!(out, text.replace("core>=1.2", "core>=1.3"));
        let out = set_string(
            Syntax::Toml,
            "Cargo.toml",
            text,
            &key(&["workspace", "package", "version"]),
            "0.2.0",
        )
        .unwrap();
        assert!(out.ends_with("version = \"0.2.0\"\n"));
    }

    #[test]
    fn json_keeps_bom_crlf_indentation_and_order() {
        let text = "\u{feff}{\r\n\t\"version\": \"1.0.0\",\r\n\t\"name\": \"a\",\r\n\t\"dependencies\": {\"@x/b\": \"^1.0.0\"}\r\n}";
        let out = set_string(
            Syntax::Json,
            "package.json",
            text,
            &key(&["version"]),
            "1.1.0",
        )
        .unwrap();
        assert_eq!(out, text.replace("\"1.0.0\"", "\"1.1.0\""));
        let out = set_string(
            Syntax::Json,
            "package.json",
            &out,
            &key(&["dependencies", "@x/b"]),
            "^1.1.0",
        )
        .unwrap();
        assert!(
            out.contains("{\"@x/b\": \"^1.1.0\"}")
                && out.starts_with('\u{feff}')
                && !out.ends_with('\n')
        );
    }

    #[test]
    fn syntax_by_file_name() {
        assert_eq!(Syntax::of("crates/a/Cargo.toml"), Some(Syntax::Toml));
        assert_eq!(Syntax::of("package.json"), Some(Syntax::Json));
        assert_eq!(Syntax::of("pnpm-lock.yaml"), None);
    }

    #[test]
    fn refuses_what_it_cannot_edit_safely() {
        let toml = "a = 1\nb = \"\"\"multi\"\"\"\n";
        let err =
            |syntax, text, k: &[&str], v| set_string(syntax, "f", text, &key(k), v).unwrap_err();
        assert!(matches!(
            err(Syntax::Toml, toml, &["a"], "2"),
            EditError::NotAString { .. }
        ));
        assert!(matches!(
            err(Syntax::Toml, toml, &["b"], "x"),
            EditError::NotAString { .. }
        ));
        assert!(matches!(
            err(Syntax::Toml, toml, &["c"], "x"),
            EditError::Missing { .. }
        ));
        assert!(matches!(
            err(Syntax::Toml, "x = ", &["x"], "1"),
            EditError::Unparsable { .. }
        ));
        assert!(matches!(
            err(Syntax::Json, "{\"v\": \"1\"}", &["v"], "a\"b"),
            EditError::Unwritable { .. }
        ));
        assert!(matches!(
            err(Syntax::Json, "{\"v\": 1}", &["v"], "2"),
            EditError::NotAString { .. }
        ));
        assert!(matches!(
            err(Syntax::Json, "{\"v\": \"1\",}", &["v"], "2"),
            EditError::Unparsable { .. }
        ));
    }
}
