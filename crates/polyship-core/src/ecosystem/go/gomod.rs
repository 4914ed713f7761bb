//! Reading and editing `go.mod` and `go.work` as the go command writes them: one directive a line
//! (`module`, `require`, `replace`, `use`, …) or a factored block (`require ( … )`), tokens split
//! by spaces, `"…"` and `` `…` `` quoted strings, `//` comments to the end of the line.
//!
//! Edits replace the bytes of one token (a required version) or of the module line's comment
//! (the module's version, `module example.com/m // v1.2.3`, as knope writes it), so that
//! everything else in the file stays as it was.

use std::ops::Range;

/// One directive: its verb (the block's verb inside a block), its tokens and its comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub verb: String,
    /// The tokens after the verb, unquoted, with the byte span of each as written.
    pub args: Vec<(String, Range<usize>)>,
    /// The text after `//`, trimmed, with the span of the whole comment (from `//`).
    pub comment: Option<(String, Range<usize>)>,
    /// 1-based.
    pub number: usize,
    /// The span of the line without its end of line.
    pub span: Range<usize>,
    /// Whether it stands alone (`require x v1`), not inside a block.
    pub single: bool,
}

/// Why a file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

/// The directives of `text`, in order.
pub fn parse(text: &str) -> Result<Vec<Line>, SyntaxError> {
    let mut out = Vec::new();
    let mut block: Option<(String, usize)> = None;
    let mut start = 0;
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        let line_no = i + 1;
        let body_len = raw.trim_end_matches(['\n', '\r']).len();
        let span = start..start + body_len;
        let (tokens, comment) =
            tokenize(&text[span.clone()], start).map_err(|message| SyntaxError {
                line: line_no,
                message,
            })?;
        start += raw.len();
        let Some(((first, _), rest)) = tokens.split_first() else {
            continue;
        };
        if let Some((verb, _)) = &block {
            if first == ")" && rest.is_empty() {
                block = None;
                continue;
            }
            out.push(Line {
                verb: verb.clone(),
                args: tokens,
                comment,
                number: line_no,
                span,
                single: false,
            });
            continue;
        }
        if rest.len() == 1 && rest[0].0 == "(" {
            block = Some((first.clone(), line_no));
            continue;
        }
        if rest.last().is_some_and(|(t, _)| t == "(") {
            return Err(SyntaxError {
                line: line_no,
                message: format!("`{first} (` must end its line"),
            });
        }
        out.push(Line {
            verb: first.clone(),
            args: rest.to_vec(),
            comment,
            number: line_no,
            span,
            single: true,
        });
    }
    if let Some((verb, line)) = block {
        return Err(SyntaxError {
            line,
            message: format!("the `{verb} (` block is never closed with `)`"),
        });
    }
    Ok(out)
}

type Tokens = Vec<(String, Range<usize>)>;
/// A comment's text and span.
type Comment = Option<(String, Range<usize>)>;

/// The tokens and the comment of one line; `offset` is where the line starts in the file.
fn tokenize(line: &str, offset: usize) -> Result<(Tokens, Comment), String> {
    let bytes = line.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        // Any white space separates tokens (a no-break space too), not only what gofmt writes.
        if let Some(c) = line[i..].chars().next().filter(|c| c.is_whitespace()) {
            i += c.len_utf8();
            continue;
        }
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let comment = line[i + 2..].trim().to_owned();
                return Ok((tokens, Some((comment, offset + i..offset + line.len()))));
            }
            b'"' | b'`' => {
                let quote = bytes[i];
                let mut j = i + 1;
                while j < bytes.len() && bytes[j] != quote {
                    if quote == b'"' && bytes[j] == b'\\' {
                        j += 1;
                    }
                    j += 1;
                }
                if j >= bytes.len() {
                    return Err("a quoted string is not closed on its line".to_owned());
                }
                let inner = &line[i + 1..j];
                if quote == b'"' && inner.contains('\\') {
                    return Err(format!(
                        "polyship does not read escapes in quoted strings: `{}`",
                        &line[i..=j]
                    ));
                }
                tokens.push((inner.to_owned(), offset + i..offset + j + 1));
                i = j + 1;
            }
            b'(' | b')' => {
                tokens.push(((bytes[i] as char).to_string(), offset + i..offset + i + 1));
                i += 1;
            }
            _ => {
                let j = line[i..]
                    .find(|c: char| {
                        c.is_whitespace() || c == '"' || c == '`' || c == '(' || c == ')'
                    })
                    .map_or(line.len(), |n| i + n);
                let j = match line[i..j].find("//") {
                    Some(n) => i + n,
                    None => j,
                };
                tokens.push((line[i..j].to_owned(), offset + i..offset + j));
                i = j;
            }
        }
    }
    Ok((tokens, None))
}

/// The version a module line's comment holds (`// v1.2.3` → `1.2.3`), when it starts with one.
pub fn comment_version(comment: &str) -> Option<&str> {
    let first = comment.split_whitespace().next()?;
    let version = first.strip_prefix('v')?;
    semver::Version::parse(version).ok().map(|_| version)
}

/// The `module` directive of a parsed file.
pub fn module(lines: &[Line]) -> Option<&Line> {
    lines.iter().find(|l| l.verb == "module")
}

/// The `require` line of `path`.
pub fn require<'a>(lines: &'a [Line], path: &str) -> Option<&'a Line> {
    lines
        .iter()
        .find(|l| l.verb == "require" && l.args.first().is_some_and(|(p, _)| p == path))
}

/// `text` with `span` replaced by `with`.
pub fn splice(text: &str, span: Range<usize>, with: &str) -> String {
    let mut out = String::with_capacity(text.len() + with.len());
    out.push_str(&text[..span.start]);
    out.push_str(with);
    out.push_str(&text[span.end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GO_MOD: &str = "// The kit.\nmodule example.com/kit // v1.4.0\n\ngo 1.21\n\nrequire (\n\texample.com/kit/log v0.3.0\n\tgolang.org/x/text v0.14.0 // indirect\n)\n\nrequire \"example.com/kit/trace\" v0.1.0\n\nreplace example.com/kit/log => ./log\n\nreplace (\n\texample.com/kit/trace v0.1.0 => ./trace\n)\n";

    #[test]
    fn reads_directives_blocks_quotes_and_comments() {
        let lines = parse(GO_MOD).unwrap();
        let m = module(&lines).unwrap();
        assert_eq!(m.args[0].0, "example.com/kit");
        assert_eq!(m.number, 2);
        assert_eq!(
            comment_version(&m.comment.as_ref().unwrap().0),
            Some("1.4.0")
        );
        let log = require(&lines, "example.com/kit/log").unwrap();
        assert_eq!(log.args[1].0, "v0.3.0");
        assert_eq!(&GO_MOD[log.args[1].1.clone()], "v0.3.0");
        assert!(!log.single);
        let trace = require(&lines, "example.com/kit/trace").unwrap();
        assert_eq!(trace.number, 11);
        assert_eq!(
            &GO_MOD[trace.args[0].1.clone()],
            "\"example.com/kit/trace\""
        );
        let replaces: Vec<Vec<&str>> = lines
            .iter()
            .filter(|l| l.verb == "replace")
            .map(|l| l.args.iter().map(|(a, _)| a.as_str()).collect())
            .collect();
        assert_eq!(
            replaces,
            [
                vec!["example.com/kit/log", "=>", "./log"],
                vec!["example.com/kit/trace", "v0.1.0", "=>", "./trace"]
            ]
        );
        let text = require(&lines, "golang.org/x/text").unwrap();
        assert_eq!(text.comment.as_ref().unwrap().0, "indirect");
    }

    #[test]
    fn names_the_line_of_an_unclosed_block_or_string() {
        let e = parse("module m\n\nrequire (\n\tx v1.0.0\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("never closed"), "{}", e.message);
        let e = parse("module \"m\n").unwrap_err();
        assert_eq!(e.line, 1);
    }

    #[test]
    fn any_text_is_read_or_refused_never_looped_on() {
        for text in [
            "module\u{a0}example.com/m\n",
            "module example.com/é // v1.0.0\n",
            "require \"a\\é\" v1\n",
            "module m\u{2028}x\n",
            "/ / // x\n",
            "(\n)\n)",
            "\u{feff}module m\r\n",
        ] {
            let _ = parse(text);
        }
        // Texts made of the pieces go.mod files are made of, in every order: each is read or
        // refused, with no panic and no endless loop.
        let pieces = [
            "module",
            "require",
            " ",
            "\t",
            "\u{a0}",
            "\"",
            "`",
            "(",
            ")",
            "/",
            "\\",
            "é",
            "\n",
            "\r\n",
            "v1.0.0",
            "=>",
            "//",
            "example.com/m",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2_000 {
            let mut text = String::new();
            for _ in 0..(seed % 40) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let k = seed % u64::try_from(pieces.len()).unwrap();
                text.push_str(pieces[usize::try_from(k).unwrap()]);
            }
            if let Ok(lines) = parse(&text) {
                for l in &lines {
                    assert!(l.span.end <= text.len());
                }
            }
        }
        let lines = parse("module\u{a0}example.com/m\n").unwrap();
        assert_eq!(module(&lines).unwrap().args[0].0, "example.com/m");
    }

    #[test]
    fn a_comment_is_a_version_only_when_it_starts_with_one() {
        assert_eq!(comment_version("v1.2.3"), Some("1.2.3"));
        assert_eq!(comment_version("v2.0.0-rc.1 next"), Some("2.0.0-rc.1"));
        assert_eq!(comment_version("Deprecated: use v2"), None);
        assert_eq!(comment_version("v1"), None);
    }
}
