//! `deep-table`: stacks of `L = 1 … 4` layers, per layer and per rule (deep e-prop — a
//! reconstruction —, OSTL, e-prop applied layer-wise, and RTRL): cosine similarity and relative
//! error to the exact gradient (BPTT), and the rule's counted memory and multiply-adds per step
//! against the `O(L²N³)` estimate of `docs/deep.md` §6. JSON and CSV: `docs/deep.md` §9.
//! Usually `cargo xtask deep-table`.

use clap::Parser;
use credit_check::budget::{Sizes, stack_suite};
use credit_check::cli::{CsvRow, TableFiles, non_negative};
use credit_check::out;
use credit_check::suite::{alif, lif, lstm, rate};
use credit_core::cell::Reset;
use credit_core::stack::{Layer, ReadoutFrom, Stack};
use credit_core::{CellModel, Loss, Params, Readout};
use credit_deep::Depth;
use serde::Serialize;
use std::process::ExitCode;

const TOOL: &str = "deep-table";

/// Prints how deep e-prop, OSTL, layer-wise e-prop and RTRL approximate BPTT on stacks of 1–4
/// layers, per layer, with their counted costs.
///
/// For each depth L and each rule: per layer, the cosine similarity and the relative error to
/// BPTT; per rule, the floats its traces hold and its multiply-adds per step, next to the
/// estimate Σ_k N_k·d·P_tot of docs/deep.md §6.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Cell of every layer: rate, lif, alif, lstm.
    #[arg(long, default_value = "alif")]
    cell: String,
    /// Neurons per layer.
    #[arg(long, default_value_t = 6, value_parser = non_negative::<usize>)]
    n: usize,
    /// Sequence length.
    #[arg(long, default_value_t = 16, value_parser = non_negative::<usize>)]
    steps: usize,
    /// Seed.
    #[arg(long, default_value_t = 3, value_parser = non_negative::<u64>)]
    seed: u64,
    /// What the readout reads: top or all.
    #[arg(long, default_value = "top")]
    read: String,
    /// Use this stack fixture's layers, weights and inputs instead of the built-in stacks.
    #[arg(long, value_name = "DIR")]
    fixture: Option<std::path::PathBuf>,
    /// Also write the rows as JSON (docs/deep.md §9) to this path.
    #[arg(long, value_name = "PATH")]
    json: Option<std::path::PathBuf>,
    /// Also write the rows as CSV (docs/deep.md §9) to this path.
    #[arg(long, value_name = "PATH")]
    csv: Option<std::path::PathBuf>,
    #[command(flatten)]
    limits: credit_check::budget::Limits,
}

/// One row of the table, of its JSON and of its CSV: one rule on one layer of one stack
/// (docs/deep.md §9).
#[derive(Serialize)]
struct DeepRow {
    depth: usize,
    stack: String,
    rule: &'static str,
    layer: usize,
    cosine: f64,
    rel_err: f64,
    floats: u64,
    madds_per_step: u64,
    estimate_floats: u64,
    bptt_floats: u64,
}

impl CsvRow for DeepRow {
    const COLUMNS: &[&str] = &[
        "depth",
        "stack",
        "rule",
        "layer",
        "cosine",
        "rel_err",
        "floats",
        "madds_per_step",
        "estimate_floats",
        "bptt_floats",
    ];

    fn csv(&self) -> String {
        credit_check::cli::csv_record([
            self.depth.to_string(),
            self.stack.clone(),
            self.rule.to_string(),
            self.layer.to_string(),
            format!("{:e}", self.cosine),
            format!("{:e}", self.rel_err),
            self.floats.to_string(),
            self.madds_per_step.to_string(),
            self.estimate_floats.to_string(),
            self.bptt_floats.to_string(),
        ])
    }
}

/// The JSON document (docs/deep.md §9).
#[derive(Serialize)]
struct DeepReport<'a> {
    schema: u32,
    tool: &'static str,
    fixture: Option<String>,
    seed: Option<u64>,
    read: Option<&'a str>,
    rows: &'a [DeepRow],
}

/// The rules of the table: JSON/CSV id and printed name.
const RULES: [(&str, &str); 4] = [
    ("deep-eprop", "deep e-prop"),
    ("eprop-layerwise", "e-prop layer-wise"),
    ("ostl", "OSTL"),
    ("rtrl", "RTRL (exact)"),
];

fn layer_stats(a: &Params<f64>, b: &Params<f64>, range: std::ops::Range<usize>) -> (f64, f64) {
    let (mut ab, mut aa, mut bb, mut err) = (0.0, 0.0, 0.0, 0.0f64);
    for i in range {
        let (x, y) = (&a.tensors[i].value, &b.tensors[i].value);
        ab += x.dot(y);
        aa += x.norm_squared();
        bb += y.norm_squared();
        err = err.max(credit_check::max_rel_err(x, y));
    }
    (ab / (aa.sqrt() * bb.sqrt()).max(f64::MIN_POSITIVE), err)
}

fn main() -> ExitCode {
    let args: Args = match credit_check::cli::parse("deep-table") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let make = |kind: &str| match kind {
        "rate" => Some(rate(0.5)),
        "lif" => Some(lif(0, Reset::Differentiated)),
        "alif" => Some(alif(0, Reset::Differentiated)),
        "lstm" => Some(lstm()),
        _ => None,
    };
    let Some(cell) = make(&args.cell) else {
        eprintln!("deep-table: unknown cell `{}` (known: rate, lif, alif, lstm)", args.cell);
        return ExitCode::from(2);
    };
    let from = match args.read.as_str() {
        "top" => ReadoutFrom::Top,
        "all" => ReadoutFrom::All,
        other => {
            eprintln!("deep-table: unknown readout `{other}` (known: top, all)");
            return ExitCode::from(2);
        }
    };
    let mut cases = Vec::new();
    match &args.fixture {
        Some(dir) => match credit_check::fixtures::read_any_limited(dir, &args.limits) {
            Ok(credit_check::fixtures::AnyFixture::Stack(fx)) => cases.push((fx.stack, fx.params, fx.seq)),
            Ok(credit_check::fixtures::AnyFixture::Single(_)) => {
                eprintln!(
                    "deep-table: {} is a single-layer fixture; the deep table needs a stack fixture",
                    dir.display()
                );
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("deep-table: {e}");
                return ExitCode::from(2);
            }
        },
        None => {
            for depth in 1..=4usize {
                let layers = vec![Layer { cell: cell.clone(), n: args.n }; depth];
                let sized = Stack::new(layers, 3, 2, Readout::leaky(0.9), Loss::Mse);
                if let Ok(s) = &sized
                    && let Err(e) =
                        args.limits.check("the deep table", stack_suite(&Sizes::of_stack(s, args.steps)))
                {
                    eprintln!("deep-table: {e}");
                    return ExitCode::from(2);
                }
                let built = sized.and_then(|mut s| {
                    s.readout_from = from;
                    let p = s.random_params(args.seed)?;
                    let seq = s.random_sequence(args.steps, args.seed)?;
                    Ok((s, p, seq))
                });
                match built {
                    Ok(x) => cases.push(x),
                    Err(e) => {
                        eprintln!("deep-table: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
        }
    }
    for (s, _, seq) in &cases {
        if let Err(e) = args.limits.check("the deep table", stack_suite(&Sizes::of_stack(s, seq.len()))) {
            eprintln!("deep-table: {e}");
            return ExitCode::from(2);
        }
    }
    let files = match TableFiles::create(TOOL, args.json.as_deref(), args.csv.as_deref()) {
        Ok(f) => f,
        Err(code) => return code,
    };

    let started = std::time::Instant::now();
    let bar = credit_check::cli::progress(cases.len() as u64, "stacks");
    let mut rows = Vec::new();
    for (stack, p, seq) in &cases {
        bar.set_message(stack.id());
        let depth = stack.layers.len();
        let run = || -> credit_core::Result<_> {
            let bptt = credit_bptt::stack::gradient(stack, p, seq)?;
            let deep = credit_deep::gradient(stack, p, seq)?;
            let local = credit_deep::gradient_with(stack, p, seq, Depth::LayerLocal)?;
            let ostl = credit_ostl::gradient(stack, p, seq)?;
            let rtrl = credit_rtrl::stack::gradient(stack, p, seq)?;
            Ok((bptt, deep, local, ostl, rtrl))
        };
        let (bptt, deep, local, ostl, rtrl) = match run() {
            Ok(x) => x,
            Err(e) => {
                bar.finish_and_clear();
                eprintln!("deep-table: {e}");
                return ExitCode::from(2);
            }
        };
        let (n, d) = (stack.layers[0].n as u64, stack.layers[0].cell.state_dim() as u64);
        let estimate = depth as u64 * n * d * stack.p_cells() as u64;
        let steps = seq.len() as u64;
        let bptt_floats = steps * stack.layers.iter().map(|l| (l.n * l.cell.state_dim()) as u64).sum::<u64>();
        let results: [(&Params<f64>, u64, u64); 4] = [
            (&deep.grad, deep.floats, deep.madds / steps),
            (&local.grad, local.floats, local.madds / steps),
            (&ostl.grad, ostl.floats, ostl.madds / steps),
            (&rtrl.grad, rtrl.floats, rtrl.madds / steps),
        ];
        for ((rule, _), (g, floats, madds)) in RULES.iter().zip(results) {
            for l in 0..depth {
                let (cosine, rel_err) = layer_stats(g, &bptt.grad, stack.layer_tensors(l));
                rows.push(DeepRow {
                    depth,
                    stack: stack.id(),
                    rule,
                    layer: l + 1,
                    cosine,
                    rel_err,
                    floats,
                    madds_per_step: madds,
                    estimate_floats: estimate,
                    bptt_floats,
                });
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();

    let fixture = args.fixture.as_ref().map(|d| d.display().to_string());
    let json = || {
        let builtin = fixture.is_none();
        let doc = DeepReport {
            schema: 1,
            tool: TOOL,
            seed: builtin.then_some(args.seed),
            read: builtin.then_some(args.read.as_str()),
            fixture: fixture.clone(),
            rows: &rows,
        };
        serde_json::to_string_pretty(&doc).expect("rows serialise")
    };
    if let Err(code) = files.write(json, || credit_check::cli::csv_rows(&rows)) {
        return code;
    }

    let what = match &fixture {
        Some(d) => format!("the stack fixture {d}"),
        None => format!(
            "stacks of {} (N = {} per layer, T = {}, readout from {}, seed {})",
            args.cell, args.n, args.steps, args.read, args.seed
        ),
    };
    out!("deep rules on {what}; deep e-prop is a reconstruction (docs/deep.md)");
    out!(
        "rel. err = max over the layer's tensors of max|a − b| / max|b| against BPTT; cosine over the layer's tensors\n"
    );
    let mut rest = rows.as_slice();
    for (stack, _, _) in &cases {
        let depth = stack.layers.len();
        let (these, more) = rest.split_at(RULES.len() * depth);
        rest = more;
        let first = &these[0];
        out!(
            "L = {depth}  ({}, P_cells = {}; estimate Σ_k N_k·d·P_tot = {} floats ≈ O(L²N³))",
            first.stack,
            stack.p_cells(),
            first.estimate_floats
        );
        out!(
            "  {:<22} {:>5}  {:>10}  {:>10}  {:>12}  {:>14}",
            "rule",
            "layer",
            "cosine",
            "rel. err",
            "floats",
            "madds/step"
        );
        for r in these {
            let name = RULES.iter().find(|(id, _)| *id == r.rule).map_or(r.rule, |(_, name)| name);
            if r.layer == 1 {
                out!(
                    "  {:<22} {:>5}  {:>10.6}  {:>10.2e}  {:>12}  {:>14}",
                    name,
                    r.layer,
                    r.cosine,
                    r.rel_err,
                    r.floats,
                    r.madds_per_step
                );
            } else {
                out!("  {:<22} {:>5}  {:>10.6}  {:>10.2e}", "", r.layer, r.cosine, r.rel_err);
            }
        }
        out!(
            "  {:<22} {:>5}  {:>10}  {:>10}  {:>12}  {:>14}",
            "BPTT (reference)",
            "all",
            "1",
            "0",
            first.bptt_floats,
            "-"
        );
        out!("");
    }
    out!(
        "{} rows: {} stacks × {} rules, per layer, {:.1} s",
        rows.len(),
        cases.len(),
        RULES.len(),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
