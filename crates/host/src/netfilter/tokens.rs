//! Splits one line of `iptables-save` or `ipset save` output into words as
//! `iptables-restore` does: blanks separate words, double (or single)
//! quotes group them, and a backslash keeps the next character as it is
//! (`--comment "DOCKER \"x\""`).

/// One word of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tok {
    /// The word with its quotes and escapes removed.
    pub text: String,
    /// 1-based column (in characters) where it starts.
    pub col: usize,
    /// Byte offsets of the word as written (quotes included).
    pub start: usize,
    /// See `start`.
    pub end: usize,
}

/// Why a line could not be split: the column of the quote left open.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unterminated {
    /// 1-based column of the opening quote.
    pub col: usize,
}

/// Splits `line` into words.
pub(crate) fn tokenize(line: &str) -> Result<Vec<Tok>, Unterminated> {
    let mut out = Vec::new();
    let mut chars = line.char_indices().peekable();
    let mut col = 0usize;
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            col += 1;
            continue;
        }
        let start = i;
        let start_col = col + 1;
        let mut text = String::new();
        let mut quote: Option<(char, usize)> = None;
        let mut end = line.len();
        while let Some(&(j, c)) = chars.peek() {
            if quote.is_none() && c.is_whitespace() {
                end = j;
                break;
            }
            chars.next();
            col += 1;
            match (quote, c) {
                (_, '\\') => {
                    if let Some((_, n)) = chars.next() {
                        col += 1;
                        text.push(n);
                    } else {
                        text.push('\\');
                    }
                }
                (None, '"' | '\'') => quote = Some((c, col)),
                (Some((q, _)), c) if c == q => quote = None,
                _ => text.push(c),
            }
        }
        if let Some((_, qcol)) = quote {
            return Err(Unterminated { col: qcol });
        }
        out.push(Tok {
            text,
            col: start_col,
            start,
            end,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        tokenize(s).unwrap().into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            words(r#"-A X -m comment --comment "DOCKER-USER \"x\"" -j ACCEPT"#),
            [
                "-A",
                "X",
                "-m",
                "comment",
                "--comment",
                "DOCKER-USER \"x\"",
                "-j",
                "ACCEPT"
            ]
        );
        assert_eq!(
            words(r#"--log-prefix "DROP: ""#),
            ["--log-prefix", "DROP: "]
        );
        assert_eq!(words("a 'b c' d\\ e"), ["a", "b c", "d e"]);
        assert_eq!(words(r#""a\\b""#), ["a\\b"]);
        assert_eq!(words("  "), Vec::<String>::new());
        let t = tokenize("[1:2]  -A  \"x y\"").unwrap();
        assert_eq!((t[2].col, t[2].start, t[2].end, t[1].col), (12, 11, 16, 8));
        assert_eq!(
            tokenize(r#"-A X --comment "open"#),
            Err(Unterminated { col: 16 })
        );
    }
}
