//! `family-table`: the m-order family on one fixed config per cell, `m = 0 … T−1` (or the orders
//! asked for): cosine similarity and relative error to the exact gradient, floats held and
//! multiply-adds per step (counted by the recursion), next to the theoretical orders of
//! `docs/family.md` §3, and the recursion's error against the hop-graded pass (F6), its second
//! witness, where that exists. JSON and CSV: `docs/family.md` §6. Usually `cargo xtask
//! family-table`.

use clap::Parser;
use credit_check::cli::{CsvRow, TableFiles, non_negative};
use credit_check::family::{GRADED_MAX_T, GRADED_TRUNCATED};
use credit_check::out;
use credit_core::{CellModel, Params};
use credit_family::{Reading, graded, recursion};
use serde::Serialize;
use std::process::ExitCode;

const TOOL: &str = "family-table";

/// Prints the m-order e-prop family's accuracy and cost per order, for each cell.
///
/// For each cell (or a fixture's config) and each order m: the cosine similarity and relative
/// error of the family's gradient to the exact gradient (BPTT), the floats its online state
/// holds, its counted multiply-adds per step and the leading terms of docs/family.md §3.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Neurons N.
    #[arg(long, default_value_t = 8, value_parser = non_negative::<usize>)]
    n: usize,
    /// Sequence length T.
    #[arg(long, default_value_t = 10, value_parser = non_negative::<usize>)]
    steps: usize,
    /// Seed of parameters and data.
    #[arg(long, default_value_t = 7, value_parser = non_negative::<u64>)]
    seed: u64,
    /// Reading of "order": hop-count (default), last-step-hop (MDGL-like) or time-lag.
    #[arg(long, default_value = "hop-count")]
    reading: String,
    /// Only these orders m (comma-separated, each ≤ T − 1), e.g. `0,1,2,4`.
    #[arg(long, value_delimiter = ',', value_name = "M,…", value_parser = non_negative::<usize>)]
    orders: Vec<usize>,
    /// Only the orders m = 0 … min(M, T − 1).
    #[arg(long, value_name = "M", conflicts_with = "orders", value_parser = non_negative::<usize>)]
    max_m: Option<usize>,
    /// Use this fixture's config, weights and inputs instead of the four built-in cells.
    #[arg(long, value_name = "DIR")]
    fixture: Option<std::path::PathBuf>,
    /// Also write the rows as JSON (docs/family.md §6) to this path.
    #[arg(long, value_name = "PATH")]
    json: Option<std::path::PathBuf>,
    /// Also write the rows as CSV (docs/family.md §6) to this path.
    #[arg(long, value_name = "PATH")]
    csv: Option<std::path::PathBuf>,
    #[command(flatten)]
    limits: credit_check::budget::Limits,
}

/// One row of the table, of its JSON and of its CSV (docs/family.md §6).
#[derive(Serialize)]
struct FamilyRow {
    cell: &'static str,
    n: usize,
    steps: usize,
    m: usize,
    cosine: f64,
    rel_err: f64,
    floats: u64,
    madds_per_step: u64,
    theory_madds_per_step: u64,
    /// The recursion against the hop-graded pass (F6) at this order, max over every tensor;
    /// `None` where the graded witness does not exist (another reading, or an order beyond the
    /// truncation of long sequences).
    vs_graded: Option<f64>,
}

impl CsvRow for FamilyRow {
    const COLUMNS: &[&str] = &[
        "cell",
        "n",
        "steps",
        "m",
        "cosine",
        "rel_err",
        "floats",
        "madds_per_step",
        "theory_madds_per_step",
        "vs_graded",
    ];

    fn csv(&self) -> String {
        credit_check::cli::csv_record([
            self.cell.to_string(),
            self.n.to_string(),
            self.steps.to_string(),
            self.m.to_string(),
            format!("{:e}", self.cosine),
            format!("{:e}", self.rel_err),
            self.floats.to_string(),
            self.madds_per_step.to_string(),
            self.theory_madds_per_step.to_string(),
            self.vs_graded.map_or_else(String::new, |e| format!("{e:e}")),
        ])
    }
}

/// The JSON document (docs/family.md §6).
#[derive(Serialize)]
struct FamilyReport<'a> {
    schema: u32,
    tool: &'static str,
    reading: &'a str,
    fixture: Option<String>,
    seed: Option<u64>,
    rows: &'a [FamilyRow],
}

fn cosine(a: &Params<f64>, b: &Params<f64>, tensors: usize) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.tensors[..tensors].iter().zip(&b.tensors[..tensors]) {
        ab += x.value.dot(&y.value);
        aa += x.value.norm_squared();
        bb += y.value.norm_squared();
    }
    ab / (aa.sqrt() * bb.sqrt()).max(f64::MIN_POSITIVE)
}

fn main() -> ExitCode {
    let args: Args = match credit_check::cli::parse(TOOL) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let reading = match args.reading.as_str() {
        "hop-count" => Reading::HopCount,
        "last-step-hop" => Reading::LastStepHop,
        "time-lag" => Reading::TimeLag,
        other => {
            eprintln!("family-table: unknown reading `{other}` (known: hop-count, last-step-hop, time-lag)");
            return ExitCode::from(2);
        }
    };
    let cases = match credit_check::cli::single_layer_cases(
        TOOL,
        "the family table",
        args.fixture.as_deref(),
        (args.n, args.steps, args.seed),
        &args.limits,
    ) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // the orders, checked against T before anything runs
    let steps = cases.first().map_or(0, |(_, _, seq)| seq.len());
    let orders: Vec<usize> = if !args.orders.is_empty() {
        if let Some(&m) = args.orders.iter().find(|&&m| m >= steps) {
            eprintln!("family-table: --orders: m = {m} exceeds T − 1 = {}", steps.saturating_sub(1));
            return ExitCode::from(2);
        }
        args.orders.clone()
    } else {
        (0..steps.min(args.max_m.map_or(usize::MAX, |m| m.saturating_add(1)))).collect()
    };
    if orders.is_empty() {
        eprintln!("family-table: T = {steps} leaves no order to compute");
        return ExitCode::from(2);
    }
    let files = match TableFiles::create(TOOL, args.json.as_deref(), args.csv.as_deref()) {
        Ok(f) => f,
        Err(code) => return code,
    };

    let started = std::time::Instant::now();
    let bar = credit_check::cli::progress((cases.len() * orders.len()) as u64, "orders");
    let mut rows = Vec::new();
    for (net, p, seq) in &cases {
        let exact = match credit_bptt::gradient(net, p, seq) {
            Ok(b) => b.grad,
            Err(e) => {
                bar.finish_and_clear();
                eprintln!("family-table: {e}");
                return ExitCode::from(2);
            }
        };
        let nc = net.n_cell_tensors();
        // the second witness (hop-count reading only): the hop-graded pass (F6), every order when
        // T ≤ GRADED_MAX_T, else the orders below GRADED_TRUNCATED (docs/family.md §2)
        let graded = match reading {
            Reading::HopCount if seq.len() <= GRADED_MAX_T => {
                graded::family_gradients::<GRADED_MAX_T>(net, p, seq)
            }
            Reading::HopCount => graded::family_gradients_truncated::<GRADED_TRUNCATED>(net, p, seq),
            _ => Ok(Vec::new()),
        };
        let graded = match graded {
            Ok(g) => g,
            Err(e) => {
                bar.finish_and_clear();
                eprintln!("family-table: {e}");
                return ExitCode::from(2);
            }
        };
        for &m in &orders {
            bar.set_message(format!("{} m = {m}", net.cell.id()));
            let g = match recursion::gradient(net, p, seq, m, reading) {
                Ok(g) => g,
                Err(e) => {
                    bar.finish_and_clear();
                    eprintln!("family-table: {e}");
                    return ExitCode::from(2);
                }
            };
            let err = g.grad.tensors[..nc]
                .iter()
                .zip(&exact.tensors[..nc])
                .map(|(a, b)| credit_check::max_rel_err(&a.value, &b.value))
                .fold(0.0, f64::max);
            let n = net.n as u64;
            let (d, pl, pc) = (net.d() as u64, net.p_loc() as u64, net.p_cell() as u64);
            // the leading terms of Eqs. (F1)–(F2): level 0, the first hop (block-sparse Z^{(0)}),
            // then one dense hop per further order
            let theory = n * d * d * pl
                + if m >= 1 { n * d * n * pl + n * d * d * pc } else { 0 }
                + (m.saturating_sub(1) as u64) * (n * d * n * pc + n * d * d * pc);
            rows.push(FamilyRow {
                cell: net.cell.id(),
                n: net.n,
                steps: seq.len(),
                m,
                cosine: cosine(&g.grad, &exact, nc),
                rel_err: err,
                floats: g.cost.floats,
                madds_per_step: g.cost.madds / seq.len() as u64,
                theory_madds_per_step: theory,
                vs_graded: graded.get(m).map(|w| {
                    g.grad
                        .tensors
                        .iter()
                        .zip(&w.tensors)
                        .map(|(a, b)| credit_check::max_rel_err(&a.value, &b.value))
                        .fold(0.0, f64::max)
                }),
            });
            bar.inc(1);
        }
    }
    bar.finish_and_clear();

    let fixture = args.fixture.as_ref().map(|d| d.display().to_string());
    let json = || {
        let doc = FamilyReport {
            schema: 1,
            tool: TOOL,
            reading: &args.reading,
            seed: if fixture.is_none() { Some(args.seed) } else { None },
            fixture: fixture.clone(),
            rows: &rows,
        };
        serde_json::to_string_pretty(&doc).expect("rows serialise")
    };
    if let Err(code) = files.write(json, || credit_check::cli::csv_rows(&rows)) {
        return code;
    }

    let what = match &fixture {
        Some(d) => format!("fixture {d}"),
        None => format!("N = {}, T = {}, seed {}", args.n, args.steps, args.seed),
    };
    out!("m-order e-prop family (a reconstruction, docs/family.md), reading {}, {what}", args.reading);
    out!(
        "theory (dense net, P ≈ N² per neuron row set): m = 0: memory O(d·P), compute O(d²·P); m = 1: O(N³), O(N³); m ≥ 2: O(m·N³), O(m·N⁴)\n"
    );
    for ((net, _, _), case_rows) in cases.iter().zip(rows.chunks(orders.len())) {
        let (d, pl, pc) = (net.d(), net.p_loc(), net.p_cell());
        out!("cell {} (d = {d}, P_loc = {pl}, P_cell = {pc})", net.cell.id());
        out!(
            "  {:>3}  {:>10}  {:>10}  {:>10}  {:>12}  {:>18}  {:>10}",
            "m",
            "cosine",
            "rel. err",
            "floats",
            "madds/step",
            "theory madds/step",
            "vs graded"
        );
        for r in case_rows {
            out!(
                "  {:>3}  {:>10.6}  {:>10.2e}  {:>10}  {:>12}  {:>18}  {:>10}",
                r.m,
                r.cosine,
                r.rel_err,
                r.floats,
                r.madds_per_step,
                r.theory_madds_per_step,
                r.vs_graded.map_or_else(|| "—".to_string(), |e| format!("{e:.2e}"))
            );
        }
        out!();
    }
    out!(
        "rel. err = max over cell tensors of max|a − b| / max|b| against BPTT; the error need not fall monotonically in m.\nvs graded = the recursion against the hop-graded pass (F6) at the same order, max over every tensor (hop-count reading; orders 0..3 only when T > 24)."
    );
    out!(
        "\n{} rows: {} cells × {} orders (m = {}), {:.1} s",
        rows.len(),
        cases.len(),
        orders.len(),
        orders.iter().map(usize::to_string).collect::<Vec<_>>().join(","),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
