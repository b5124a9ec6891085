//! The curves of a run as CSV, JSON and an SVG plot, `docs/training.md` §7.
//!
//! The plot uses plotters' SVG backend only: text is written as SVG `<text>` elements and sized
//! by plotters' built-in estimate, so no system font (fontconfig) is read.

use crate::train::{Record, Summary};
use plotters::prelude::*;
use serde::Serialize;

/// The CSV columns, in order.
pub const CSV_COLUMNS: [&str; 6] = ["iteration", "task_loss", "reg_loss", "rate", "cosine_bptt", "grad_norm"];

fn opt(x: Option<f64>) -> String {
    x.map_or(String::new(), |v| format!("{v:e}"))
}

/// The log as CSV (header, then one record per update; empty fields for `None`), full
/// precision (`{:e}` round-trips).
pub fn csv(log: &[Record]) -> String {
    let mut s = credit_check::cli::csv_record(CSV_COLUMNS);
    for r in log {
        s.push_str(&credit_check::cli::csv_record([
            r.iteration.to_string(),
            format!("{:e}", r.task_loss),
            format!("{:e}", r.reg_loss),
            opt(r.rate),
            opt(r.cosine_bptt),
            format!("{:e}", r.grad_norm),
        ]));
    }
    s
}

/// What the JSON file holds.
#[derive(Serialize)]
pub struct RunJson<'a> {
    /// Schema version of this file.
    pub schema: u32,
    /// Task, cell, rule, preset, optimiser and the rest of the run's settings.
    pub settings: serde_json::Value,
    /// Evaluation before and after, timing, loss reduction.
    pub summary: &'a Summary,
    /// One record per update.
    pub log: &'a [Record],
}

/// The run as pretty-printed JSON (schema 1).
pub fn json(settings: serde_json::Value, summary: &Summary, log: &[Record]) -> String {
    let doc = RunJson { schema: 1, settings, summary, log };
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The learning curve as an SVG document: task loss (and the regulariser when non-zero)
/// against the update, log-scale loss axis. `Err` carries plotters' message.
pub fn svg(title: &str, log: &[Record]) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (720, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let pos = |v: f64| v.is_finite() && v > 0.0;
        let values: Vec<f64> =
            log.iter().flat_map(|r| [r.task_loss, r.reg_loss]).filter(|v| pos(*v)).collect();
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(0.0f64, f64::max);
        let (lo, hi) = if lo.is_finite() && hi > 0.0 { (lo * 0.8, hi * 1.25) } else { (1e-3, 1.0) };
        let k = log.len().max(2);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(1usize..k, (lo..hi).log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("update")
            .y_desc("loss")
            .y_label_formatter(&|v| format!("{v:.1e}"))
            .draw()
            .map_err(|e| e.to_string())?;
        let task: Vec<(usize, f64)> =
            log.iter().filter(|r| pos(r.task_loss)).map(|r| (r.iteration, r.task_loss)).collect();
        chart
            .draw_series(LineSeries::new(task, &BLUE))
            .map_err(|e| e.to_string())?
            .label("task loss")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE));
        if log.iter().any(|r| r.reg_loss > 0.0) {
            let reg: Vec<(usize, f64)> =
                log.iter().filter(|r| pos(r.reg_loss)).map(|r| (r.iteration, r.reg_loss)).collect();
            chart
                .draw_series(LineSeries::new(reg, &RED))
                .map_err(|e| e.to_string())?
                .label("regulariser")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RED));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}
