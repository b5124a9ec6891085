//! The static report of `cargo xtask report OUT`, `docs/training.md` §8: one HTML page with
//! sibling SVG plots, viewable without network — learning curves of every rule per task against
//! BPTT, the online rules of issue 15 on one task against BPTT, RTRL and e-prop, the family's
//! accuracy and cost against the order, the deep rules' per-layer error against depth,
//! `check-gradients`' summary per relation, costs (with `rules-table`'s alignment and cost of
//! every online rule), and the committed experiment plots of `docs/img/` with the commands that
//! regenerate them.
//!
//! The page is well-formed XML (XHTML serialisation), so a test can parse it and its SVGs.

use crate::rule::Rule;
use crate::tasks::{Setup, setup};
use crate::train::{Record, Summary, Trainer};
use credit_core::{Error, Result};
use plotters::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A named curve.
pub type Series = (String, Vec<(f64, f64)>);

/// A line plot as an SVG document: one line per series, legend, optional log-scale y axis
/// (non-positive and non-finite points are dropped there).
pub fn lines_svg(title: &str, x_desc: &str, y_desc: &str, series: &[Series], log_y: bool) -> Result<String> {
    let plot_err = |e: String| Error::Invalid {
        field: "plot".into(),
        value: e,
        requirement: "plotters must draw the SVG",
    };
    let keep = |y: f64| y.is_finite() && (!log_y || y > 0.0);
    let pts: Vec<(f64, f64)> =
        series.iter().flat_map(|(_, p)| p.iter().copied()).filter(|p| keep(p.1)).collect();
    let (x0, x1) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let (x0, x1) = if x0.is_finite() && x1 > x0 { (x0, x1) } else { (0.0, 1.0) };
    let (y0, y1) = match (y0.is_finite() && y1.is_finite(), log_y) {
        (true, true) => (y0 * 0.8, (y1 * 1.25).max(y0 * 1.01)),
        (true, false) => {
            let pad = ((y1 - y0) * 0.05).max(1e-12);
            (y0 - pad, y1 + pad)
        }
        _ => (1e-3, 1.0),
    };
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (720, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_err(e.to_string()))?;
        let mut builder = ChartBuilder::on(&root);
        builder.caption(title, ("sans-serif", 18)).margin(12).x_label_area_size(36).y_label_area_size(70);
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart.map_err(|e| plot_err(e.to_string()))?;
                chart
                    .configure_mesh()
                    .x_desc(x_desc)
                    .y_desc(y_desc)
                    .y_label_formatter(&|v| format!("{v:.1e}"))
                    .draw()
                    .map_err(|e| plot_err(e.to_string()))?;
                for (i, (name, p)) in series.iter().enumerate() {
                    let color = Palette99::pick(i).to_rgba();
                    let p: Vec<(f64, f64)> = p.iter().copied().filter(|p| keep(p.1)).collect();
                    chart
                        .draw_series(LineSeries::new(p, color.stroke_width(2)))
                        .map_err(|e| plot_err(e.to_string()))?
                        .label(name.as_str())
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                        });
                }
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperRight)
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .draw()
                    .map_err(|e| plot_err(e.to_string()))?;
            }};
        }
        if log_y {
            draw!(builder.build_cartesian_2d(x0..x1, (y0..y1).log_scale()));
        } else {
            draw!(builder.build_cartesian_2d(x0..x1, y0..y1));
        }
        root.present().map_err(|e| plot_err(e.to_string()))?;
    }
    Ok(out)
}

/// Escapes text for XML/HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// One training run of the report.
#[derive(Clone, Debug)]
pub struct Run {
    /// Task.
    pub task: &'static str,
    /// Cell.
    pub cell: &'static str,
    /// Rule.
    pub rule: Rule,
    /// Which comparison the run belongs to: [`WORKSPACE`] (every rule per task) or [`ONLINE`]
    /// (issue 15's online rules on one task).
    pub group: &'static str,
    /// Layers (2 for the stack rules).
    pub layers: usize,
    /// Updates.
    pub iterations: usize,
    /// The log.
    pub log: Vec<Record>,
    /// The summary.
    pub summary: Summary,
}

/// The group of the runs of every rule per task.
pub const WORKSPACE: &str = "workspace";
/// The group of issue 15's online rules.
pub const ONLINE: &str = "online";

/// The online rules of issue 15 in the report's comparison, on [`ONLINE_TASK`] (rate cell, where
/// all of them are defined), windows `L = 5` of the task's `T = 20`.
pub const ONLINE_RULES: &[&str] =
    &["snap-1", "snap-2", "ebptt-5", "fbptt-5", "rflo", "kernl", "uoro", "kf-rtrl", "rkf-rtrl", "mdgl"];
/// The task (and cell) of the online rules' comparison.
pub const ONLINE_TASK: (&str, &str) = ("adding", "rate");
/// The workspace's runs shown beside them as references.
const ONLINE_REFERENCES: &[&str] = &["bptt", "rtrl", "eprop-random"];

/// The number of runs [`training_runs`] makes.
pub fn training_run_count() -> usize {
    16 + ONLINE_RULES.len()
}

/// The learning-curve runs: for `sine` (LIF) and `adding` (rate), every rule of the workspace
/// (deep e-prop and OSTL on a stack of two layers); then [`ONLINE_RULES`] on [`ONLINE_TASK`]
/// with the preset's updates (10 with `quick`). `quick` shortens the runs.
pub fn training_runs(quick: bool, seed: u64, mut progress: impl FnMut(&str)) -> Result<Vec<Run>> {
    let rules =
        ["bptt", "eprop-symmetric", "eprop-random", "eprop-adaptive", "rtrl", "family-1", "deep", "ostl"];
    let mut runs = Vec::new();
    for (task, cell) in [("sine", "lif"), ("adding", "rate")] {
        for name in rules {
            let rule = Rule::parse(name)?;
            let expensive = matches!(rule, Rule::Rtrl | Rule::Family { .. } | Rule::Deep | Rule::Ostl);
            let layers = if matches!(rule, Rule::Deep | Rule::Ostl) { 2 } else { 1 };
            let s = setup(task, cell, "default", rule, layers, seed)?;
            let iterations = match (quick, expensive, task) {
                (true, true, "sine") => 8,
                (true, _, _) => 40,
                (false, true, "sine") => 60,
                (false, _, _) => s.config.iterations,
            };
            progress(&format!("{task} {name}"));
            runs.push(train_run(s, iterations, cell, rule, WORKSPACE, layers)?);
        }
    }
    let (task, cell) = ONLINE_TASK;
    for name in ONLINE_RULES {
        let rule = Rule::parse(name)?;
        let s = setup(task, cell, "default", rule, 1, seed)?;
        let iterations = if quick { 10 } else { s.config.iterations };
        progress(&format!("{task} {name}"));
        runs.push(train_run(s, iterations, cell, rule, ONLINE, 1)?);
    }
    Ok(runs)
}

/// Trains the preset `s` for `iterations` updates and records the run.
fn train_run(
    s: Setup,
    iterations: usize,
    cell: &'static str,
    rule: Rule,
    group: &'static str,
    layers: usize,
) -> Result<Run> {
    let mut config = s.config.clone();
    config.iterations = iterations;
    let mut t = Trainer::new(s.model, s.params, config)?;
    let summary = t.run(&s.task, |_| {})?;
    Ok(Run { task: s.task.name, cell, rule, group, layers, iterations, log: t.log, summary })
}

/// Per relation: rows, passed, worst error (the largest for `equal` relations, the smallest for
/// `differ` ones), tolerance (from `check-gradients --json`).
pub fn relation_summary(check: &Value) -> Vec<(String, usize, usize, f64, f64)> {
    let mut by: BTreeMap<String, (usize, usize, Option<f64>, f64)> = BTreeMap::new();
    for r in check["results"].as_array().into_iter().flatten() {
        let e = by.entry(r["relation"].as_str().unwrap_or("?").to_string()).or_insert((0, 0, None, f64::NAN));
        e.0 += 1;
        e.1 += usize::from(r["pass"].as_bool().unwrap_or(false));
        let err = r["max_rel_err"].as_f64().unwrap_or(f64::NAN);
        let differ = r["expect"].as_str() == Some("differ");
        e.2 = Some(match e.2 {
            None => err,
            Some(w) if differ => w.min(err),
            Some(w) => w.max(err),
        });
        e.3 = r["tolerance"].as_f64().unwrap_or(f64::NAN);
    }
    by.into_iter()
        .map(|(k, (rows, pass, worst, tol))| (k, rows, pass, worst.unwrap_or(f64::NAN), tol))
        .collect()
}

/// The family plots: `1 − cos` and relative error against `m` (log), counted multiply-adds per
/// step against `m` (log), one line per cell (from `family-table --json`).
pub fn family_series(family: &Value) -> (Vec<Series>, Vec<Series>) {
    let mut acc: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut cost: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for r in family["rows"].as_array().into_iter().flatten() {
        let (cell, m) = (r["cell"].as_str().unwrap_or("?"), r["m"].as_f64().unwrap_or(f64::NAN));
        let (cos, rel) =
            (r["cosine"].as_f64().unwrap_or(f64::NAN), r["rel_err"].as_f64().unwrap_or(f64::NAN));
        acc.entry(format!("{cell} 1−cos")).or_default().push((m, 1.0 - cos));
        acc.entry(format!("{cell} rel. error")).or_default().push((m, rel));
        cost.entry(cell.to_string()).or_default().push((m, r["madds_per_step"].as_f64().unwrap_or(f64::NAN)));
    }
    (acc.into_iter().collect(), cost.into_iter().collect())
}

/// The deep plot: relative error against depth, one line per (rule, layer) (from
/// `deep-table --json`).
pub fn deep_series(deep: &Value) -> Vec<Series> {
    let mut by: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for r in deep["rows"].as_array().into_iter().flatten() {
        let key = format!("{} layer {}", r["rule"].as_str().unwrap_or("?"), r["layer"]);
        by.entry(key)
            .or_default()
            .push((r["depth"].as_f64().unwrap_or(f64::NAN), r["rel_err"].as_f64().unwrap_or(f64::NAN)));
    }
    by.into_iter().collect()
}

/// The committed experiment plots of `docs/img/`: file, what it shows, the command that
/// regenerates it, the doc page with its numbers.
pub const EXPERIMENTS: &[(&str, &str, &str, &str)] = &[
    (
        "synthgrad-alignment.svg",
        "BP(λ) with a frozen cortex: alignment cos(S(h^t), G^t) per step t, λ ∈ {0, 0.5, 1}",
        "SVG=docs/img/synthgrad-alignment.svg cargo run --release -p credit-synthgrad --example bplambda_alignment",
        "docs/synthgrad.md §10",
    ),
    (
        "synthgrad-ccrnn.svg",
        "cRNN vs ccRNN on the line-drawing task: learning curves",
        "SVG=docs/img/synthgrad-ccrnn.svg cargo run --release -p credit-synthgrad --example ccrnn_linedraw",
        "docs/synthgrad.md §10",
    ),
    (
        "digits-qagrel.svg",
        "8×8 digits: test accuracy per epoch until 95 %, backprop vs Q-AGREL, every seed",
        "SVG=docs/img/digits-qagrel.svg cargo run --release -p credit-check --example digits_qagrel",
        "docs/qagrel.md §6",
    ),
    (
        "digits-burstccn.svg",
        "8×8 digits: test accuracy of backprop and BurstCCN (tied, FA, learned Q), and the per-layer angle to backprop",
        "SVG=docs/img/digits-burstccn.svg cargo run --release -p credit-check --example digits_burstccn",
        "docs/burstccn.md §5",
    ),
];

/// The caption of an SVG of `docs/img/` not in [`EXPERIMENTS`].
const EXPERIMENT_UNLISTED: &str = "An experiment plot not described in report::EXPERIMENTS";

/// Where the committed experiment plots live: `docs/img` of the workspace.
pub fn experiments_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/img")
}

/// The "Experiments" section: every SVG of `img` (the [`EXPERIMENTS`] first, in their order,
/// then any other `*.svg`, by name) copied into `out` as `experiment-<name>` and shown with a
/// caption naming the command that regenerates it and the doc page with its numbers. A missing
/// listed file (or an unreadable `img`) is said in the page, not an error.
pub fn experiments_section(img: &std::path::Path, out: &std::path::Path) -> Result<String> {
    let mut names: Vec<String> = EXPERIMENTS.iter().map(|e| e.0.to_string()).collect();
    let mut others: Vec<String> = std::fs::read_dir(img)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".svg") && !names.contains(n))
        .collect();
    others.sort();
    names.extend(others);
    let mut html = String::from(
        "<h2>6. Experiments</h2>\n<p>The experiment plots committed in <code>docs/img/</code>, copied as they are (not recomputed by this run); each caption names the example that regenerates it and the page with its numbers.</p>\n",
    );
    for name in &names {
        let known = EXPERIMENTS.iter().find(|e| e.0 == name);
        let (what, command, page) = known
            .map_or((EXPERIMENT_UNLISTED, "see the doc page that shows it", "docs/"), |e| (e.1, e.2, e.3));
        let _ = writeln!(html, "<h3>{}</h3>", esc(name));
        match std::fs::read(img.join(name)) {
            Ok(bytes) => {
                let file = format!("experiment-{name}");
                std::fs::write(out.join(&file), bytes).map_err(|e| Error::Invalid {
                    field: "report.out".into(),
                    value: e.to_string(),
                    requirement: "must be writable",
                })?;
                let _ = writeln!(html, "<p><img src=\"{}\" alt=\"{}\"/></p>", esc(&file), esc(what));
            }
            Err(e) => {
                let _ = writeln!(
                    html,
                    "<p>(missing: <code>docs/img/{}</code>: {})</p>",
                    esc(name),
                    esc(&e.to_string())
                );
            }
        }
        let _ = writeln!(
            html,
            "<p>{}. Regenerate: <code>{}</code>; numbers: <code>{}</code>.</p>",
            esc(what),
            esc(command),
            esc(page)
        );
    }
    Ok(html)
}

/// The JSON outputs of the tools the report shows (`Value::Null` leaves a section out with a
/// note).
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// `check-gradients --json`.
    pub check: Value,
    /// `family-table --json`.
    pub family: Value,
    /// `deep-table --json`.
    pub deep: Value,
    /// `rules-table --json` (`docs/family.md` §6.1).
    pub rules: Value,
}

/// The rows of `rules-table --json` as an HTML table per cell (the rule, cosine and relative
/// error to BPTT, floats held and multiply-adds per step with how each was obtained, the
/// theoretical order; `n/a` rows with the reason). The numbers are `rules-table`'s, copied.
pub fn rules_table_html(rules: &Value) -> String {
    let mut html = String::new();
    let rows: Vec<&Value> = rules["rows"].as_array().into_iter().flatten().collect();
    let mut cells: Vec<&str> = rows.iter().map(|r| r["cell"].as_str().unwrap_or("?")).collect();
    cells.dedup();
    let num = |v: &Value, f: &dyn Fn(f64) -> String| v.as_f64().map_or_else(String::new, f);
    for cell in cells {
        let first = rows.iter().find(|r| r["cell"].as_str() == Some(cell));
        let (n, t) = first.map_or((Value::Null, Value::Null), |r| (r["n"].clone(), r["steps"].clone()));
        let _ = writeln!(html, "<h4>{} (N = {n}, T = {t})</h4>", esc(cell));
        html.push_str(
            "<table><tr><th>rule</th><th>cosine</th><th>rel. error</th><th>floats</th><th>madds/step</th><th>theory</th></tr>\n",
        );
        for r in rows.iter().filter(|r| r["cell"].as_str() == Some(cell)) {
            let rule = esc(r["rule"].as_str().unwrap_or("?"));
            match r["na"].as_str() {
                Some(reason) => {
                    let _ =
                        writeln!(html, "<tr><td>{rule}</td><td colspan=\"5\">n/a: {}</td></tr>", esc(reason));
                }
                None => {
                    let _ = writeln!(
                        html,
                        "<tr><td>{rule}</td><td>{}</td><td>{}</td><td>{} ({})</td><td>{} ({})</td><td>{}</td></tr>",
                        num(&r["cosine"], &|x| format!("{x:.6}")),
                        num(&r["rel_err"], &|x| format!("{x:.2e}")),
                        num(&r["floats"], &|x| format!("{x:.0}")),
                        esc(r["floats_source"].as_str().unwrap_or("")),
                        num(&r["madds_per_step"], &|x| format!("{x:.0}")),
                        esc(r["madds_source"].as_str().unwrap_or("")),
                        esc(r["theory"].as_str().unwrap_or(""))
                    );
                }
            }
        }
        html.push_str("</table>\n");
    }
    html
}

/// The HTML table of training runs: per run the rule, the number of updates, the task loss
/// before and after, the reduction factor and the seconds per update.
fn runs_table_html<'a>(runs: impl IntoIterator<Item = &'a Run>) -> String {
    let mut html = String::from(
        "<table><tr><th>rule</th><th>updates</th><th>loss before</th><th>loss after</th><th>reduction</th><th>s/update</th></tr>\n",
    );
    for r in runs {
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{:.3e}</td><td>{:.3e}</td><td>{:.1}×</td><td>{:.4}</td></tr>\n",
            esc(&r.rule.name()),
            r.iterations,
            r.summary.before.task_loss,
            r.summary.after.task_loss,
            r.summary.reduction_factor,
            r.summary.seconds_per_iteration
        ));
    }
    html.push_str("</table>\n");
    html
}

/// Writes `index.html` and its SVGs into `out` from the training `runs` and the tools' JSON
/// outputs.
pub fn write(out: &std::path::Path, runs: &[Run], inputs: &Inputs, quick: bool) -> Result<()> {
    let (check, family, deep) = (&inputs.check, &inputs.family, &inputs.deep);
    let io = |e: std::io::Error| Error::Invalid {
        field: "report.out".into(),
        value: e.to_string(),
        requirement: "must be writable",
    };
    std::fs::create_dir_all(out).map_err(io)?;
    let mut svgs: Vec<(String, String)> = Vec::new();
    let mut html = String::new();
    let mut h = |s: &str| html.push_str(s);
    h(
        "<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head><meta charset=\"utf-8\"/>\n<title>credit report</title>\n",
    );
    h(
        "<style>body{font-family:sans-serif;max-width:980px;margin:2em auto;padding:0 1em}table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:2px 8px;text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:100%}</style>\n</head>\n<body>\n",
    );
    h("<h1>credit report</h1>\n");
    h(&format!(
        "<p>Generated by <code>cargo xtask report{}</code>. Every number of §1–§5 was computed by this run; nothing is fetched. §6 shows the committed experiment plots of <code>docs/img/</code>. Equations and conventions: <code>docs/training.md</code>, <code>docs/family.md</code>, <code>docs/deep.md</code>, <code>docs/relations.md</code>.</p>\n",
        if quick { " --quick" } else { "" }
    ));
    h(
        "<h2>1. Learning curves</h2>\n<p>Task loss (regulariser excluded) at each update, default presets; deep e-prop and OSTL train a stack of two layers of the same cell. BPTT is the exact gradient.</p>\n",
    );
    let workspace: Vec<&Run> = runs.iter().filter(|r| r.group == WORKSPACE).collect();
    let mut tasks: Vec<&str> = workspace.iter().map(|r| r.task).collect();
    tasks.dedup();
    for task in &tasks {
        let series: Vec<Series> = workspace
            .iter()
            .filter(|r| r.task == *task)
            .map(|r| {
                let label = if r.layers > 1 {
                    format!("{} ({} layers)", r.rule.name(), r.layers)
                } else {
                    r.rule.name()
                };
                (label, r.log.iter().map(|x| (x.iteration as f64, x.task_loss)).collect())
            })
            .collect();
        let cell = workspace.iter().find(|r| r.task == *task).map_or("", |r| r.cell);
        let file = format!("curves-{task}.svg");
        svgs.push((
            file.clone(),
            lines_svg(&format!("{task} ({cell}): task loss"), "update", "task loss", &series, true)?,
        ));
        h(&format!(
            "<h3>{task} ({cell})</h3>\n<p><img src=\"{file}\" alt=\"learning curves on {task}\"/></p>\n"
        ));
        h(&runs_table_html(workspace.iter().copied().filter(|r| r.task == *task)));
    }
    let online: Vec<&Run> = runs
        .iter()
        .filter(|r| {
            r.group == ONLINE
                || (r.task == ONLINE_TASK.0
                    && r.cell == ONLINE_TASK.1
                    && r.layers == 1
                    && ONLINE_REFERENCES.contains(&r.rule.name().as_str()))
        })
        .collect();
    if online.iter().any(|r| r.group == ONLINE) {
        let (task, cell) = ONLINE_TASK;
        let series: Vec<Series> = online
            .iter()
            .map(|r| (r.rule.name(), r.log.iter().map(|x| (x.iteration as f64, x.task_loss)).collect()))
            .collect();
        let file = format!("curves-{task}-online.svg");
        svgs.push((
            file.clone(),
            lines_svg(&format!("{task} ({cell}): online rules"), "update", "task loss", &series, true)?,
        ));
        h(&format!(
            "<h3>Online rules on {task} ({cell})</h3>\n<p>SnAp-n, E-/F-BPTT (window L = 5 of T = 20), RFLO, KeRNL (learning A and α, carried between sequences), UORO, KF-RTRL, R-KF-RTRL and MDGL (<code>docs/training.md</code> §1.1) against BPTT, RTRL and random e-prop of the runs above; the noisy rules draw one seed per sequence from the run's seed. Literal transcriptions (these rules have no fast path).</p>\n<p><img src=\"{file}\" alt=\"online rules on {task}\"/></p>\n"
        ));
        h(&runs_table_html(online.iter().copied()));
    }
    h("<h2>2. The m-order family</h2>\n");
    if family.is_null() {
        h("<p>(no family-table output)</p>\n");
    } else {
        let (acc, cost) = family_series(family);
        svgs.push((
            "family-accuracy.svg".into(),
            lines_svg("family vs exact gradient", "order m", "1 − cos, relative error", &acc, true)?,
        ));
        svgs.push((
            "family-cost.svg".into(),
            lines_svg("family cost", "order m", "multiply-adds per step", &cost, true)?,
        ));
        h(
            "<p>Order m keeps the paths with at most m explicit hops (a reconstruction, <code>docs/family.md</code>); m = 0 is e-prop, m = T − 1 is RTRL.</p>\n",
        );
        h(
            "<p><img src=\"family-accuracy.svg\" alt=\"family accuracy\"/></p>\n<p><img src=\"family-cost.svg\" alt=\"family cost\"/></p>\n",
        );
    }
    h("<h2>3. Deep rules: error per layer against depth</h2>\n");
    if deep.is_null() {
        h("<p>(no deep-table output)</p>\n");
    } else {
        svgs.push((
            "deep.svg".into(),
            lines_svg(
                "relative error to BPTT per layer",
                "depth (layers)",
                "relative error",
                &deep_series(deep),
                true,
            )?,
        ));
        h("<p><img src=\"deep.svg\" alt=\"deep rules per layer\"/></p>\n");
    }
    h("<h2>4. check-gradients: summary per relation</h2>\n");
    let summary = relation_summary(check);
    if summary.is_empty() {
        h("<p>(no check-gradients output)</p>\n");
    } else {
        h(
            "<table><tr><th>relation</th><th>rows</th><th>passed</th><th>failed</th><th>worst error</th><th>tolerance</th></tr>\n",
        );
        for (rel, rows, pass, worst, tol) in &summary {
            h(&format!(
                "<tr><td>{}</td><td>{rows}</td><td>{pass}</td><td>{}</td><td>{worst:.2e}</td><td>{tol:.0e}</td></tr>\n",
                esc(rel),
                rows - pass
            ));
        }
        h(
            "</table>\n<p>For <code>differ</code> relations the worst error is the smallest seen (the relation requires every error to exceed the tolerance).</p>\n",
        );
    }
    h(
        "<h2>5. Costs</h2>\n<p>Seconds per update of each training run (release build, this machine, the rules' fast paths where they exist) are in the tables of §1; the family's counted multiply-adds per step in §2.</p>\n",
    );
    h("<h3>5.1 Online rules: alignment and cost</h3>\n");
    if inputs.rules.is_null() {
        h("<p>(no rules-table output)</p>\n");
    } else {
        let (w, k) = (&inputs.rules["window"], &inputs.rules["draws"]);
        h(&format!(
            "<p>Every online rule per cell against BPTT, from <code>cargo xtask rules-table</code> (<code>docs/family.md</code> §6.1): cosine and relative error (max over the cell tensors) to the exact gradient, floats the rule's state holds and multiply-adds per step (counted, the rule's own <code>len_scalars</code>, or the doc page's formula), the theoretical order. Window L = {w}; the <code>-mean</code> rows average {k} noise draws.</p>\n"
        ));
        h(&rules_table_html(&inputs.rules));
    }
    h(&experiments_section(&experiments_dir(), out)?);
    h("</body>\n</html>\n");
    for (name, svg) in &svgs {
        std::fs::write(out.join(name), svg).map_err(io)?;
    }
    let mut index = String::new();
    let _ = write!(index, "{html}");
    std::fs::write(out.join("index.html"), index).map_err(io)?;
    Ok(())
}

/// Checks that `out/index.html` and every SVG it shows are well-formed XML, that every `<img>`
/// names a sibling file, and that each SVG has an `<svg>` root with a drawn line. Returns the
/// number of SVGs checked.
pub fn validate(out: &std::path::Path) -> Result<usize> {
    let bad = |what: String, e: String| Error::Invalid {
        field: format!("report.{what}"),
        value: e,
        requirement: "must be well-formed",
    };
    let read =
        |name: &str| std::fs::read_to_string(out.join(name)).map_err(|e| bad(name.into(), e.to_string()));
    let html = read("index.html")?;
    let doc = roxmltree::Document::parse(&html).map_err(|e| bad("index.html".into(), e.to_string()))?;
    let mut n = 0;
    for img in doc.descendants().filter(|d| d.has_tag_name("img")) {
        let src =
            img.attribute("src").ok_or_else(|| bad("index.html".into(), "an <img> without src".into()))?;
        if src.contains('/') || src.contains(':') {
            return Err(bad("index.html".into(), format!("<img src=\"{src}\"> is not a sibling file")));
        }
        let svg = read(src)?;
        let d = roxmltree::Document::parse(&svg).map_err(|e| bad(src.into(), e.to_string()))?;
        if d.root_element().tag_name().name() != "svg" || !d.descendants().any(|x| x.has_tag_name("polyline"))
        {
            return Err(bad(src.into(), "no <svg> root with a drawn line".into()));
        }
        n += 1;
    }
    Ok(n)
}
