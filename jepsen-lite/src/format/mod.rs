//! History file formats.
//!
//! * [`jepsen_etcd`]: Jepsen's etcd logs (a single CAS register), one event
//!   per line: `INFO  jepsen.util - 3 :ok :read nil` (fields separated by
//!   tabs or spaces).
//! * [`porcupine_kv`]: the 6.824 kvraft logs of porcupine's test data, one
//!   EDN map per line: `{:process 0, :type :invoke, :f :get, :key "9", :value nil}`.
//! * [`jsonl`]: this project's own format, one JSON object per line (see
//!   the module's documentation).
//!
//! In the first two, the time of an event is its line number (as porcupine
//! does). Every parser reports a line it cannot read as a [`ParseError`]
//! naming the file and the line; none panics on any input.

pub mod edn;
pub mod jepsen_etcd;
pub mod jsonl;
pub mod porcupine_kv;

use crate::history::History;
use crate::models::kv::{KvInput, KvOutput};
use crate::models::register::{RegisterInput, RegisterOutput};
use std::fmt;
use std::str::FromStr;

/// A history file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Jepsen's etcd logs ([`jepsen_etcd`]).
    JepsenEtcd,
    /// porcupine's kvraft logs ([`porcupine_kv`]).
    PorcupineKv,
    /// This project's JSON lines ([`jsonl`]).
    Jsonl,
}

impl Format {
    /// All formats.
    pub const ALL: [Format; 3] = [Format::JepsenEtcd, Format::PorcupineKv, Format::Jsonl];

    /// The format's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::JepsenEtcd => "jepsen-etcd",
            Format::PorcupineKv => "porcupine-kv",
            Format::Jsonl => "jsonl",
        }
    }

    /// Guesses the format from the first non-blank line: `INFO` starts a
    /// Jepsen log, `{:` an EDN map, `{"` a JSON object. `None` for an
    /// empty text or an unrecognized first line.
    pub fn detect(text: &str) -> Option<Format> {
        let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
        if first.contains("jepsen.util") {
            Some(Format::JepsenEtcd)
        } else if first.starts_with("{:") {
            Some(Format::PorcupineKv)
        } else if first.starts_with('{') {
            Some(Format::Jsonl)
        } else {
            None
        }
    }

    /// The model a format implies, if it implies one.
    pub fn implied_model(self) -> Option<ModelKind> {
        match self {
            Format::JepsenEtcd => Some(ModelKind::Register),
            Format::PorcupineKv => Some(ModelKind::Kv),
            Format::Jsonl => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("unknown format {s:?} (jepsen-etcd, porcupine-kv or jsonl)"))
    }
}

/// Which built-in model a history is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModelKind {
    /// [`crate::models::Register`].
    Register,
    /// [`crate::models::Kv`].
    Kv,
}

impl ModelKind {
    /// The model's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::Kv => "kv",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A history file that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A line that does not parse, or does not fit the history.
    #[error("{file}:{line}: {reason}")]
    Line {
        /// The file's name.
        file: String,
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A problem with the file as a whole.
    #[error("{file}: {reason}")]
    File {
        /// The file's name.
        file: String,
        /// What is wrong.
        reason: String,
    },
}

/// A parsed history of one of the built-in models.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParsedHistory {
    /// Register operations ([`crate::models::Register`]).
    Register(History<RegisterInput, RegisterOutput>),
    /// Key/value operations ([`crate::models::Kv`]).
    Kv(History<KvInput, KvOutput>),
}

impl ParsedHistory {
    /// The model its operations belong to.
    pub fn model(&self) -> ModelKind {
        match self {
            ParsedHistory::Register(_) => ModelKind::Register,
            ParsedHistory::Kv(_) => ModelKind::Kv,
        }
    }

    /// How many operations it has.
    pub fn len(&self) -> usize {
        match self {
            ParsedHistory::Register(h) => h.operations.len(),
            ParsedHistory::Kv(h) => h.operations.len(),
        }
    }

    /// Whether it has no operations.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Parses the history in `text` (from `file`, used in errors). The format
/// is `format`, or else detected ([`Format::detect`]); the model is `model`,
/// or else the one the format implies, or for JSON lines the one of its
/// functions. A blank text is an empty history (of the register model
/// unless told otherwise).
pub fn parse(
    file: &str,
    text: &str,
    format: Option<Format>,
    model: Option<ModelKind>,
) -> Result<ParsedHistory, ParseError> {
    let file_error = |reason: String| ParseError::File {
        file: file.to_string(),
        reason,
    };
    let format = match format.or_else(|| Format::detect(text)) {
        Some(f) => f,
        None if text.trim().is_empty() => {
            return Ok(match model.unwrap_or(ModelKind::Register) {
                ModelKind::Register => ParsedHistory::Register(History::default()),
                ModelKind::Kv => ParsedHistory::Kv(History::default()),
            });
        }
        None => {
            return Err(file_error(
                "cannot tell the format from the first line; pass --format".to_string(),
            ));
        }
    };
    let model = match (model, format.implied_model()) {
        (Some(m), Some(implied)) if m != implied => {
            return Err(file_error(format!(
                "the {format} format holds {implied} histories, not {m}"
            )));
        }
        (Some(m), _) => m,
        (None, Some(implied)) => implied,
        (None, None) => match jsonl::detect_model(text) {
            Some(m) => m,
            None if text.trim().is_empty() => ModelKind::Register,
            None if jsonl::is_transactional(text) => {
                return Err(file_error(
                    "a list-append history (transactions, f \"txn\"): check it with `jepsen-lite elle`".to_string(),
                ));
            }
            None => {
                return Err(file_error(
                    "cannot tell the model from the first event; pass --model".to_string(),
                ));
            }
        },
    };
    Ok(match (format, model) {
        (Format::JepsenEtcd, _) => ParsedHistory::Register(jepsen_etcd::parse(file, text)?),
        (Format::PorcupineKv, _) => ParsedHistory::Kv(porcupine_kv::parse(file, text)?),
        (Format::Jsonl, ModelKind::Register) => {
            ParsedHistory::Register(jsonl::parse_register(file, text)?)
        }
        (Format::Jsonl, ModelKind::Kv) => ParsedHistory::Kv(jsonl::parse_kv(file, text)?),
    })
}

/// The non-blank lines of `text`, trimmed, with 1-based line numbers.
pub(crate) fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
}

/// Builds [`ParseError::Line`]s for one file.
pub(crate) struct LineErrors<'a> {
    pub file: &'a str,
}

impl LineErrors<'_> {
    pub fn at(&self, line: usize, reason: impl Into<String>) -> ParseError {
        ParseError::Line {
            file: self.file.to_string(),
            line,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats() {
        assert_eq!(
            Format::detect("\nINFO  jepsen.util - 0\t:invoke\t:read\tnil\n"),
            Some(Format::JepsenEtcd)
        );
        assert_eq!(
            Format::detect("{:process 0, :type :invoke}"),
            Some(Format::PorcupineKv)
        );
        assert_eq!(Format::detect("  {\"process\": 0}"), Some(Format::Jsonl));
        assert_eq!(Format::detect("hello"), None);
        assert_eq!(Format::detect(""), None);
        assert_eq!("jsonl".parse::<Format>(), Ok(Format::Jsonl));
        assert!("xml".parse::<Format>().is_err());
    }
}
