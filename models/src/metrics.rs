//! Run logs: a tiny JSON-object writer (no serde dependency) and a logger that appends one
//! record per call to `metrics.jsonl` and `metrics.csv` in a run directory.
//!
//! Records are flat `(key, value)` lists. The CSV header is fixed by the first record; later
//! records must use the same keys (missing ones are written empty), so a resumed run appending
//! to the same files keeps the columns aligned.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// One value of a record.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Text(String),
}

impl Value {
    /// JSON text; non-finite floats become `null` (JSON has no NaN).
    fn json(&self) -> String {
        match self {
            Value::Int(v) => v.to_string(),
            Value::Float(v) if v.is_finite() => format_float(*v),
            Value::Float(_) => "null".into(),
            Value::Text(s) => json_string(s),
        }
    }

    /// CSV field; text is quoted when it holds a comma, quote or newline.
    fn csv(&self) -> String {
        match self {
            Value::Int(v) => v.to_string(),
            Value::Float(v) => format_float(*v),
            Value::Text(s) if s.contains([',', '"', '\n', '\r']) => {
                format!("\"{}\"", s.replace('"', "\"\""))
            }
            Value::Text(s) => s.clone(),
        }
    }
}

/// Shortest text that reads back to the same f64; `Debug` switches to exponent notation for
/// very small or large magnitudes (valid JSON, unlike `Display`'s long runs of zeros).
fn format_float(v: f64) -> String {
    format!("{v:?}")
}

/// A JSON string literal with the escapes RFC 8259 requires.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An ordered flat record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    fields: Vec<(String, Value)>,
}

impl Record {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn int(mut self, key: &str, v: i64) -> Self {
        self.fields.push((key.into(), Value::Int(v)));
        self
    }

    pub fn float(mut self, key: &str, v: f64) -> Self {
        self.fields.push((key.into(), Value::Float(v)));
        self
    }

    pub fn text(mut self, key: &str, v: &str) -> Self {
        self.fields.push((key.into(), Value::Text(v.into())));
        self
    }

    /// Adds `key` only when `v` is `Some`.
    pub fn opt_float(self, key: &str, v: Option<f64>) -> Self {
        match v {
            Some(v) => self.float(key, v),
            None => self,
        }
    }

    pub fn fields(&self) -> &[(String, Value)] {
        &self.fields
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// One-line JSON object, keys in insertion order.
    pub fn to_json(&self) -> String {
        let body: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("{}:{}", json_string(k), v.json()))
            .collect();
        format!("{{{}}}", body.join(","))
    }
}

/// Appends records to `<dir>/metrics.jsonl` and `<dir>/metrics.csv`.
pub struct MetricsLogger {
    jsonl: File,
    csv: File,
    csv_path: PathBuf,
    header: Option<Vec<String>>,
}

impl MetricsLogger {
    /// Opens (creating or appending to) the two files in `dir`. An existing CSV's header is
    /// read back so appended rows keep its columns.
    pub fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let open = |name: &str| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(name))
        };
        let csv_path = dir.join("metrics.csv");
        let header = match File::open(&csv_path) {
            Ok(f) => BufReader::new(f)
                .lines()
                .next()
                .transpose()?
                .filter(|l| !l.is_empty())
                .map(|l| l.split(',').map(String::from).collect()),
            Err(_) => None,
        };
        Ok(Self {
            jsonl: open("metrics.jsonl")?,
            csv: open("metrics.csv")?,
            csv_path,
            header,
        })
    }

    pub fn csv_path(&self) -> &Path {
        &self.csv_path
    }

    /// Writes one record to both files and flushes them (a crash loses at most this line).
    pub fn log(&mut self, rec: &Record) -> std::io::Result<()> {
        writeln!(self.jsonl, "{}", rec.to_json())?;
        let header = match &self.header {
            Some(h) => h.clone(),
            None => {
                let h: Vec<String> = rec.fields.iter().map(|(k, _)| k.clone()).collect();
                writeln!(self.csv, "{}", h.join(","))?;
                self.header = Some(h.clone());
                h
            }
        };
        let row: Vec<String> = header
            .iter()
            .map(|k| rec.get(k).map(Value::csv).unwrap_or_default())
            .collect();
        writeln!(self.csv, "{}", row.join(","))?;
        self.jsonl.flush()?;
        self.csv.flush()
    }
}
