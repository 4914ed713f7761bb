//! Byte spans of values inside JSON text.
//!
//! `serde_json` tells what a document holds but not where; errors about a valid-but-wrong manifest
//! (`"workspaces": 5`) and, later, format-preserving edits need the exact bytes of a value. This is a
//! small scanner over already-validated JSON: it never allocates a tree, it only skips values.

use std::ops::Range;

/// The largest JSON file polyship parses: far beyond any manifest, small enough that a hostile
/// file cannot exhaust memory. (`serde_json` already refuses nesting deeper than 128.)
pub const MAX_JSON_BYTES: usize = 64 * 1024 * 1024;

/// The largest TOML or YAML file polyship parses.
pub const MAX_MANIFEST_BYTES: usize = 16 * 1024 * 1024;

/// How deep `[`/`{` may nest in a YAML file: real workspace files nest two or three levels, and
/// YAML parsers take quadratic time on deep flow nesting.
pub const MAX_YAML_DEPTH: usize = 64;

/// Why a YAML or TOML text is refused before parsing: too large, or (YAML) nested too deep. The
/// byte offset of the problem, and what it is.
pub fn check_bounds(text: &str, yaml: bool) -> Result<(), (usize, String)> {
    if text.len() > MAX_MANIFEST_BYTES {
        return Err((
            0,
            format!(
                "the file is {} bytes, more than the {MAX_MANIFEST_BYTES} polyship reads",
                text.len()
            ),
        ));
    }
    if !yaml {
        return Ok(());
    }
    let (mut depth, mut quote, mut comment) = (0usize, None::<char>, false);
    let mut prev = '\n';
    for (i, c) in text.char_indices() {
        if comment {
            comment = c != '\n';
        } else if let Some(q) = quote {
            if c == q && prev != '\\' {
                quote = None;
            }
        } else {
            match c {
                '#' if prev.is_whitespace() => comment = true,
                '"' | '\'' => quote = Some(c),
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_YAML_DEPTH {
                        return Err((
                            i,
                            format!("`[` and `{{` nest deeper than {MAX_YAML_DEPTH} levels"),
                        ));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        prev = c;
    }
    Ok(())
}

/// `serde_json::from_str` with a size limit.
pub fn bounded_from_str<T: serde::de::DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    if text.len() > MAX_JSON_BYTES {
        return Err(serde::de::Error::custom(format!(
            "the file is {} bytes, more than the {MAX_JSON_BYTES} polyship reads",
            text.len()
        )));
    }
    serde_json::from_str(text)
}

/// The span of the value at `path` (object keys from the root), or `None` when absent or when the
/// text is not valid JSON along the way.
pub fn value_span(text: &str, path: &[&str]) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let mut pos = skip_ws(bytes, skip_bom(bytes));
    for key in path {
        pos = find_key(bytes, pos, key)?;
    }
    let end = skip_value(bytes, pos)?;
    Some(pos..end)
}

/// The span of the deepest value along `path` that exists: the best place to point at when the
/// value itself is missing or wrong.
pub fn nearest_span(text: &str, path: &[&str]) -> Range<usize> {
    (0..=path.len())
        .rev()
        .find_map(|n| value_span(text, &path[..n]))
        .unwrap_or(0..0)
}

fn skip_bom(bytes: &[u8]) -> usize {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    }
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while pos < bytes.len() && matches!(bytes[pos], b' ' | b'\t' | b'\n' | b'\r') {
        pos += 1;
    }
    pos
}

/// In the object starting at `pos`, the start of the value whose key is `key`.
fn find_key(bytes: &[u8], pos: usize, key: &str) -> Option<usize> {
    if bytes.get(pos) != Some(&b'{') {
        return None;
    }
    let mut pos = skip_ws(bytes, pos + 1);
    if bytes.get(pos) == Some(&b'}') {
        return None;
    }
    let mut found = None;
    loop {
        let key_end = skip_string(bytes, pos)?;
        let matches = unescape(&bytes[pos + 1..key_end - 1]).as_deref() == Some(key);
        pos = skip_ws(bytes, key_end);
        if bytes.get(pos) != Some(&b':') {
            return None;
        }
        pos = skip_ws(bytes, pos + 1);
        // JSON allows duplicate keys; like serde_json, the last one wins.
        if matches {
            found = Some(pos);
        }
        pos = skip_ws(bytes, skip_value(bytes, pos)?);
        match bytes.get(pos)? {
            b',' => pos = skip_ws(bytes, pos + 1),
            b'}' => return found,
            _ => return None,
        }
    }
}

fn skip_value(bytes: &[u8], pos: usize) -> Option<usize> {
    match *bytes.get(pos)? {
        b'"' => skip_string(bytes, pos),
        open @ (b'{' | b'[') => {
            let close = if open == b'{' { b'}' } else { b']' };
            let mut pos = skip_ws(bytes, pos + 1);
            if bytes.get(pos) == Some(&close) {
                return Some(pos + 1);
            }
            loop {
                if open == b'{' {
                    pos = skip_ws(bytes, skip_string(bytes, pos)?);
                    if bytes.get(pos) != Some(&b':') {
                        return None;
                    }
                    pos = skip_ws(bytes, pos + 1);
                }
                pos = skip_ws(bytes, skip_value(bytes, pos)?);
                match *bytes.get(pos)? {
                    b',' => pos = skip_ws(bytes, pos + 1),
                    c if c == close => return Some(pos + 1),
                    _ => return None,
                }
            }
        }
        _ => {
            let mut end = pos;
            while end < bytes.len()
                && !matches!(
                    bytes[end],
                    b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'
                )
            {
                end += 1;
            }
            (end > pos).then_some(end)
        }
    }
}

fn skip_string(bytes: &[u8], pos: usize) -> Option<usize> {
    if bytes.get(pos) != Some(&b'"') {
        return None;
    }
    let mut i = pos + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn unescape(raw: &[u8]) -> Option<String> {
    let quoted = [b"\"", raw, b"\""].concat();
    serde_json::from_slice(&quoted).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_yaml_and_huge_files_are_refused_at_once() {
        let deep = format!("packages: {}{}", "[".repeat(100_000), "]".repeat(100_000));
        let started = std::time::Instant::now();
        let (at, why) = check_bounds(&deep, true).unwrap_err();
        assert!(why.contains("nest deeper") && at < 100, "{why} at {at}");
        assert!(started.elapsed() < std::time::Duration::from_millis(200));
        assert!(check_bounds("packages:\n  - 'a[b'  # [[[[\n  - [x, {y: z}]\n", true).is_ok());
    }

    const DOC: &str = "\u{feff}{\n  \"name\": \"a\",\n  \"dependencies\": { \"@x/b\": \"^1.0.0\", \"c\": [1, {\"d\": null}] },\n  \"n\": 5\n}\n";

    #[test]
    fn finds_nested_values() {
        let span = value_span(DOC, &["dependencies", "@x/b"]).unwrap();
        assert_eq!(&DOC[span], "\"^1.0.0\"");
        assert_eq!(&DOC[value_span(DOC, &["n"]).unwrap()], "5");
        assert!(DOC[value_span(DOC, &["dependencies"]).unwrap()].ends_with("}] }"));
        assert_eq!(value_span(DOC, &["missing"]), None);
        assert_eq!(value_span(DOC, &["name", "x"]), None);
    }

    #[test]
    fn nearest_falls_back_to_the_parent() {
        let span = nearest_span(DOC, &["dependencies", "zzz"]);
        assert!(DOC[span].starts_with("{ \"@x/b\""));
    }

    #[test]
    fn escaped_keys_compare_decoded() {
        let doc = r#"{"a\"b": 1, "a\u0041": 2}"#;
        assert_eq!(&doc[value_span(doc, &["a\"b"]).unwrap()], "1");
        assert_eq!(&doc[value_span(doc, &["aA"]).unwrap()], "2");
    }
}
