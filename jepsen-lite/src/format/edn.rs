//! A small reader for the flat EDN maps of porcupine's kv logs:
//! `{:process 0, :type :invoke, :f :get, :key "9", :value nil}`.
//!
//! It reads one map per line whose values are `nil`, booleans, integers,
//! strings (with `\"`, `\\`, `\n`, `\t`, `\r` escapes), keywords and vectors
//! of those. Commas are whitespace, as in EDN. Anything else is an error
//! with a reason, never a panic.

/// An EDN value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edn {
    /// `nil`.
    Nil,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// A keyword, without its colon.
    Keyword(String),
    /// A vector.
    Vector(Vec<Edn>),
}

/// Parses a map of keyword keys, e.g. `{:a 1, :b "x"}`, into its entries in
/// order (keys without their colon).
pub fn parse_map(text: &str) -> Result<Vec<(String, Edn)>, String> {
    let mut reader = Reader {
        chars: text.char_indices().peekable(),
        text,
    };
    reader.skip_space();
    reader.expect('{')?;
    let mut entries = Vec::new();
    loop {
        reader.skip_space();
        if reader.eat('}') {
            break;
        }
        let key = match reader.value()? {
            Edn::Keyword(k) => k,
            other => return Err(format!("expected a keyword key, found {other:?}")),
        };
        reader.skip_space();
        if reader.peek() == Some('}') || reader.peek().is_none() {
            return Err(format!("key :{key} has no value"));
        }
        let value = reader.value()?;
        if entries.iter().any(|(k, _)| *k == key) {
            return Err(format!("key :{key} appears twice"));
        }
        entries.push((key, value));
    }
    reader.skip_space();
    match reader.peek() {
        None => Ok(entries),
        Some(c) => Err(format!("unexpected {c:?} after the map")),
    }
}

struct Reader<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    text: &'a str,
}

impl Reader<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().map(|&(_, c)| c)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.chars.next();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        match self.chars.next() {
            Some((_, found)) if found == c => Ok(()),
            Some((_, found)) => Err(format!("expected {c:?}, found {found:?}")),
            None => Err(format!("expected {c:?}, found the end of the line")),
        }
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|c| c.is_whitespace() || c == ',') {
            self.chars.next();
        }
    }

    /// A symbol-like token: up to whitespace, a comma or a delimiter.
    fn token(&mut self) -> &str {
        let start = self.chars.peek().map_or(self.text.len(), |&(i, _)| i);
        let mut end = start;
        while let Some(&(i, c)) = self.chars.peek() {
            if c.is_whitespace() || matches!(c, ',' | '{' | '}' | '[' | ']' | '"') {
                break;
            }
            end = i + c.len_utf8();
            self.chars.next();
        }
        &self.text[start..end]
    }

    fn value(&mut self) -> Result<Edn, String> {
        match self.peek() {
            None => Err("unexpected end of the line".to_string()),
            Some('"') => self.string(),
            Some('[') => {
                self.chars.next();
                let mut items = Vec::new();
                loop {
                    self.skip_space();
                    if self.eat(']') {
                        return Ok(Edn::Vector(items));
                    }
                    if self.peek().is_none() {
                        return Err("unterminated vector".to_string());
                    }
                    items.push(self.value()?);
                }
            }
            Some(':') => {
                self.chars.next();
                let name = self.token();
                if name.is_empty() {
                    Err("empty keyword".to_string())
                } else {
                    Ok(Edn::Keyword(name.to_string()))
                }
            }
            Some(c) if matches!(c, '{' | '}' | ']') => Err(format!("unexpected {c:?}")),
            Some(_) => {
                let token = self.token();
                match token {
                    "nil" => Ok(Edn::Nil),
                    "true" => Ok(Edn::Bool(true)),
                    "false" => Ok(Edn::Bool(false)),
                    _ => token
                        .parse::<i64>()
                        .map(Edn::Int)
                        .map_err(|_| format!("cannot read {token:?}")),
                }
            }
        }
    }

    fn string(&mut self) -> Result<Edn, String> {
        self.chars.next();
        let mut s = String::new();
        loop {
            match self.chars.next() {
                None => return Err("unterminated string".to_string()),
                Some((_, '"')) => return Ok(Edn::Str(s)),
                Some((_, '\\')) => match self.chars.next() {
                    Some((_, '"')) => s.push('"'),
                    Some((_, '\\')) => s.push('\\'),
                    Some((_, 'n')) => s.push('\n'),
                    Some((_, 't')) => s.push('\t'),
                    Some((_, 'r')) => s.push('\r'),
                    Some((_, c)) => return Err(format!("unknown escape \\{c}")),
                    None => return Err("unterminated string".to_string()),
                },
                Some((_, c)) => s.push(c),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kv_lines() {
        let m =
            parse_map(r#"{:process 12, :type :ok, :f :get, :key "3", :value "x 0 0 yx \"q\" y"}"#)
                .unwrap();
        assert_eq!(
            m,
            vec![
                ("process".into(), Edn::Int(12)),
                ("type".into(), Edn::Keyword("ok".into())),
                ("f".into(), Edn::Keyword("get".into())),
                ("key".into(), Edn::Str("3".into())),
                ("value".into(), Edn::Str("x 0 0 yx \"q\" y".into())),
            ]
        );
        let m = parse_map("{:value [1 nil true], :x -3}").unwrap();
        assert_eq!(
            m[0].1,
            Edn::Vector(vec![Edn::Int(1), Edn::Nil, Edn::Bool(true)])
        );
        assert_eq!(m[1].1, Edn::Int(-3));
        assert_eq!(parse_map("{}").unwrap(), vec![]);
    }

    #[test]
    fn rejects_malformed_maps() {
        for bad in [
            "",
            "{",
            "{:a}",
            "{:a 1",
            "{\"a\" 1}",
            "{:a \"x}",
            "{:a 1} x",
            "{:a 99999999999999999999}",
            "{:a 1, :a 2}",
            "{:a [1 2}",
            "{: 1}",
            "{:a \"\\q\"}",
            "{:a }}",
            "{:a é}",
        ] {
            assert!(parse_map(bad).is_err(), "{bad:?} should not parse");
        }
    }
}
