//! The table printed by `check-gradients` and its JSON form (schema 2).

use crate::relations::{Expect, Row};
use serde::Serialize;

/// Version of the JSON report: 2 adds `reason` and `spec` to each row (`docs/relations.md` §6).
pub const SCHEMA: u32 = 2;

/// The JSON document: `{"schema":2,"results":[…]}`.
#[derive(Serialize)]
pub struct Report<'a> {
    /// Schema version ([`SCHEMA`]).
    pub schema: u32,
    /// One object per row.
    pub results: &'a [Row],
}

/// Serialises the rows as JSON ([`SCHEMA`]).
pub fn to_json(rows: &[Row]) -> String {
    serde_json::to_string_pretty(&Report { schema: SCHEMA, results: rows }).expect("rows serialise")
}

/// Formats the rows as an aligned text table.
pub fn table(rows: &[Row]) -> String {
    let head = [
        "relation",
        "expect",
        "cell",
        "config",
        "scalar",
        "tensor",
        "max_rel_err",
        "tol",
        "verdict",
        "liveness",
    ];
    let body: Vec<[String; 10]> = rows
        .iter()
        .map(|r| {
            [
                r.relation.to_string(),
                match r.expect {
                    Expect::Equal => "equal".into(),
                    Expect::Differ => "differ".into(),
                },
                r.cell.clone(),
                r.config.clone(),
                r.scalar.to_string(),
                r.tensor.clone(),
                format!("{:.2e}", r.max_rel_err),
                format!("{:.0e}", r.tolerance),
                if r.skipped() {
                    "skip".into()
                } else if r.pass {
                    "ok".into()
                } else {
                    "FAIL".into()
                },
                r.liveness_text(),
            ]
        })
        .collect();
    let mut width = head.map(|h| h.chars().count());
    for b in &body {
        for (w, c) in width.iter_mut().zip(b) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(head.to_vec());
    out.push('\n');
    for b in &body {
        out.push_str(&line(b.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

impl Row {
    fn liveness_text(&self) -> String {
        match &self.reason {
            Some(why) => format!("{} ({why})", self.liveness.describe()),
            None => self.liveness.describe(),
        }
    }
}
