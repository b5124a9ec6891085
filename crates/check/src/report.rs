//! The tables printed by `check-gradients` (narrow by default, wide, per-relation summary) and
//! its JSON (schema 2) and CSV forms.

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

/// The columns of the wide table (`--wide`) and of the CSV form, in order.
pub const WIDE_COLUMNS: [&str; 10] =
    ["relation", "expect", "cell", "config", "scalar", "tensor", "max_rel_err", "tol", "verdict", "liveness"];

/// The columns of the default (narrow) table, in order.
pub const NARROW_COLUMNS: [&str; 7] =
    ["relation", "cell", "config", "tensor", "max_rel_err", "tol", "verdict"];

fn expect_text(e: Expect) -> &'static str {
    match e {
        Expect::Equal => "equal",
        Expect::Differ => "differ",
    }
}

fn verdict_text(r: &Row) -> &'static str {
    if r.skipped() {
        "skip"
    } else if r.pass {
        "ok"
    } else {
        "FAIL"
    }
}

/// Formats the rows as an aligned text table with every column ([`WIDE_COLUMNS`]).
pub fn table(rows: &[Row]) -> String {
    let body: Vec<Vec<String>> = rows.iter().map(|r| wide_cells(r, false)).collect();
    align(&WIDE_COLUMNS, &body)
}

/// The cells of [`WIDE_COLUMNS`] for one row: the error and tolerance rounded for the table
/// (`{:.2e}`, `{:.0e}`) or in full precision for the CSV (`{:e}`).
fn wide_cells(r: &Row, full_precision: bool) -> Vec<String> {
    let (err, tol) = if full_precision {
        (format!("{:e}", r.max_rel_err), format!("{:e}", r.tolerance))
    } else {
        (format!("{:.2e}", r.max_rel_err), format!("{:.0e}", r.tolerance))
    };
    vec![
        r.relation.to_string(),
        expect_text(r.expect).into(),
        r.cell.clone(),
        r.config.clone(),
        r.scalar.to_string(),
        r.tensor.clone(),
        err,
        tol,
        verdict_text(r).into(),
        r.liveness_text(),
    ]
}

/// Formats the rows as the default, narrower table ([`NARROW_COLUMNS`]): the expectation is
/// read from the relation id (`=` or `!=`), the scalar is appended to the tensor when it is not
/// `f64` (`w_rec [f32]`), and a last, unnamed column explains failing rows only.
pub fn table_narrow(rows: &[Row]) -> String {
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let tensor =
                if r.scalar == "f64" { r.tensor.clone() } else { format!("{} [{}]", r.tensor, r.scalar) };
            vec![
                r.relation.to_string(),
                r.cell.clone(),
                r.config.clone(),
                tensor,
                format!("{:.2e}", r.max_rel_err),
                format!("{:.0e}", r.tolerance),
                verdict_text(r).into(),
                failure_note(r),
            ]
        })
        .collect();
    let mut head = NARROW_COLUMNS.to_vec();
    head.push("");
    align(&head, &body)
}

/// Why a row fails, printed after the verdict of a failing row in the narrow table (empty for a
/// passing row): the liveness evidence, which tells a silent or dead config from a real
/// disagreement.
fn failure_note(r: &Row) -> String {
    if r.pass { String::new() } else { r.liveness_text() }
}

/// The rows as CSV: a header of [`WIDE_COLUMNS`], then one record per row with the errors in
/// full precision (`{:e}`, `inf` for an infinite error), the verdict as `ok`/`skip`/`FAIL` and the
/// liveness as the table's text.
pub fn to_csv(rows: &[Row]) -> String {
    let mut out = crate::cli::csv_record(WIDE_COLUMNS);
    for r in rows {
        out.push_str(&crate::cli::csv_record(wide_cells(r, true)));
    }
    out
}

/// One relation's line of the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct RelationSummary {
    /// Relation id.
    pub relation: &'static str,
    /// Rows of the relation.
    pub rows: usize,
    /// Passing rows.
    pub passed: usize,
    /// The row nearest to failing: the largest error of an `equal` relation, the smallest of a
    /// `differ` relation.
    pub worst: f64,
    /// Smallest and largest tolerance of its rows.
    pub tol: (f64, f64),
    /// `equal` or `differ`.
    pub expect: Expect,
}

/// Per relation, in order of first appearance: rows, passed, failed, worst error, tolerance.
pub fn summarise(rows: &[Row]) -> Vec<RelationSummary> {
    let mut out: Vec<RelationSummary> = Vec::new();
    for r in rows {
        let i = match out.iter().position(|s| s.relation == r.relation) {
            Some(i) => i,
            None => {
                out.push(RelationSummary {
                    relation: r.relation,
                    rows: 0,
                    passed: 0,
                    worst: r.max_rel_err,
                    tol: (r.tolerance, r.tolerance),
                    expect: r.expect,
                });
                out.len() - 1
            }
        };
        let s = &mut out[i];
        s.rows += 1;
        s.passed += usize::from(r.pass);
        // NaN-safe: an infinite or NaN error is the worst an `equal` relation can have
        s.worst = match r.expect {
            Expect::Equal if r.max_rel_err.is_nan() || r.max_rel_err > s.worst => r.max_rel_err,
            Expect::Differ if r.max_rel_err.is_nan() || r.max_rel_err < s.worst => r.max_rel_err,
            _ => s.worst,
        };
        s.tol = (s.tol.0.min(r.tolerance), s.tol.1.max(r.tolerance));
    }
    out
}

/// The summary as an aligned table: relation, expect, rows, passed, failed, worst, tol.
pub fn summary_table(sums: &[RelationSummary]) -> String {
    let body: Vec<Vec<String>> = sums
        .iter()
        .map(|s| {
            let (lo, hi) = (format!("{:.0e}", s.tol.0), format!("{:.0e}", s.tol.1));
            let tol = if lo == hi { lo } else { format!("{lo}..{hi}") };
            vec![
                s.relation.to_string(),
                expect_text(s.expect).into(),
                s.rows.to_string(),
                s.passed.to_string(),
                (s.rows - s.passed).to_string(),
                format!("{:.2e}", s.worst),
                tol,
            ]
        })
        .collect();
    align(&["relation", "expect", "rows", "passed", "failed", "worst", "tol"], &body)
}

/// Left-aligned columns separated by two spaces, trailing blanks trimmed, one `\n` per line.
fn align<S: AsRef<str>>(head: &[&str], body: &[Vec<S>]) -> String {
    let mut width: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for b in body {
        for (w, c) in width.iter_mut().zip(b) {
            *w = (*w).max(c.as_ref().chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&width)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(head.to_vec());
    out.push('\n');
    for b in body {
        out.push_str(&line(b.iter().map(AsRef::as_ref).collect()));
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
