//! `rules-table`: every online rule of the workspace on one fixed config per cell (the configs of
//! `family-table`): cosine similarity and relative error to the exact gradient (BPTT), the floats
//! the rule's state holds and its multiply-adds per step (counted where the rule counts them, else
//! the leading-order formula of its doc page), next to the theoretical order. Rules not defined on a
//! cell are rows marked `n/a` with the reason. JSON and CSV: `docs/family.md` §6.1. Usually
//! `cargo xtask rules-table`.

use clap::Parser;
use credit_check::cli::{CsvRow, TableFiles, non_negative};
use credit_check::out;
use credit_core::cell::Cell;
use credit_core::{CellModel, Network, Params, Sequence};
use credit_eprop::Feedback;
use credit_family::{Reading, recursion};
use credit_uoro::{Kind, Noise};
use serde::Serialize;
use std::process::ExitCode;

const TOOL: &str = "rules-table";

/// Prints every online rule's accuracy and cost, for each cell.
///
/// For each cell (or a fixture's config) and each rule: the cosine similarity and relative error
/// of its gradient to the exact gradient (BPTT), the floats its state holds, its multiply-adds per
/// step (counted or the leading-order formula) and the theoretical order (docs/family.md §6.1).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Neurons N.
    #[arg(long, default_value_t = 8, value_parser = non_negative::<usize>)]
    n: usize,
    /// Sequence length T.
    #[arg(long, default_value_t = 10, value_parser = non_negative::<usize>)]
    steps: usize,
    /// Seed of parameters, data, random feedback and the first noise draw.
    #[arg(long, default_value_t = 7, value_parser = non_negative::<u64>)]
    seed: u64,
    /// Window L of E-BPTT and F-BPTT (default ⌈T/2⌉).
    #[arg(long, value_name = "L", value_parser = non_negative::<usize>)]
    window: Option<usize>,
    /// Noise draws K averaged for UORO, KF-RTRL and R-KF-RTRL (seeds seed … seed+K−1).
    #[arg(long, value_name = "K", default_value_t = 16, value_parser = non_negative::<usize>)]
    draws: usize,
    /// Use this fixture's config, weights and inputs instead of the four built-in cells.
    #[arg(long, value_name = "DIR")]
    fixture: Option<std::path::PathBuf>,
    /// Also write the rows as JSON (docs/family.md §6.1) to this path.
    #[arg(long, value_name = "PATH")]
    json: Option<std::path::PathBuf>,
    /// Also write the rows as CSV (docs/family.md §6.1) to this path.
    #[arg(long, value_name = "PATH")]
    csv: Option<std::path::PathBuf>,
    #[command(flatten)]
    limits: credit_check::budget::Limits,
}

/// One row of the table, of its JSON and of its CSV (docs/family.md §6.1).
#[derive(Serialize)]
struct RuleRow {
    cell: &'static str,
    n: usize,
    steps: usize,
    rule: String,
    /// `None` when defined; the reason otherwise (the other numbers are then `None`).
    na: Option<String>,
    cosine: Option<f64>,
    rel_err: Option<f64>,
    floats: Option<u64>,
    /// `len_scalars` (the rule's own count), `counted` (the family's counter) or `formula`.
    floats_source: &'static str,
    madds_per_step: Option<u64>,
    /// `counted` or `formula`.
    madds_source: &'static str,
    theory: &'static str,
}

impl CsvRow for RuleRow {
    const COLUMNS: &[&str] = &[
        "cell",
        "n",
        "steps",
        "rule",
        "na",
        "cosine",
        "rel_err",
        "floats",
        "floats_source",
        "madds_per_step",
        "madds_source",
        "theory",
    ];

    fn csv(&self) -> String {
        let num = |x: Option<f64>| x.map_or_else(String::new, |e| format!("{e:e}"));
        let int = |x: Option<u64>| x.map_or_else(String::new, |e| e.to_string());
        credit_check::cli::csv_record([
            self.cell.to_string(),
            self.n.to_string(),
            self.steps.to_string(),
            self.rule.clone(),
            self.na.clone().unwrap_or_default(),
            num(self.cosine),
            num(self.rel_err),
            int(self.floats),
            self.floats_source.to_string(),
            int(self.madds_per_step),
            self.madds_source.to_string(),
            self.theory.to_string(),
        ])
    }
}

/// The JSON document (docs/family.md §6.1).
#[derive(Serialize)]
struct RulesReport<'a> {
    schema: u32,
    tool: &'static str,
    window: usize,
    draws: usize,
    fixture: Option<String>,
    seed: Option<u64>,
    rows: &'a [RuleRow],
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

fn rel_err(a: &Params<f64>, b: &Params<f64>, tensors: usize) -> f64 {
    a.tensors[..tensors]
        .iter()
        .zip(&b.tensors[..tensors])
        .map(|(x, y)| credit_check::max_rel_err(&x.value, &y.value))
        .fold(0.0, f64::max)
}

/// What one rule gives on one case: its gradient, floats (and how counted), madds per step (and how).
struct Outcome {
    grad: Params<f64>,
    floats: u64,
    floats_source: &'static str,
    madds: u64,
    madds_source: &'static str,
}

/// The sizes the formulas use.
struct Dims {
    n: u64,
    d: u64,
    pl: u64,
    pc: u64,
    k: u64,
    p: u64,
    t: u64,
}

impl Dims {
    fn of(net: &Network, steps: usize) -> Self {
        Dims {
            n: net.n as u64,
            d: net.d() as u64,
            pl: net.p_loc() as u64,
            pc: net.p_cell() as u64,
            k: net.n_out as u64,
            p: net.tensor_shapes().iter().map(|(_, r, c)| (*r * *c) as u64).sum(),
            t: steps as u64,
        }
    }
    /// One step of BPTT's reverse pass (docs/bptt.md §6): (∂M/∂z)ᵀλ, Dᵀλ, Iᵀλ, the readout.
    fn bptt_step(&self) -> u64 {
        self.n * self.n * self.d + self.n * self.d * self.d + self.n * self.d * self.pl + self.k * self.n
    }
    /// One step of RTRL (docs/rtrl.md §5): (∂M/∂z) Z, D S, F S, W_out Z.
    fn rtrl_step(&self) -> u64 {
        let (n, d, pc, k) = (self.n, self.d, self.pc, self.k);
        n * n * d * pc + n * d * d * pc + n * d * pc + k * n * pc
    }
}

type Rule = (&'static str, &'static str);

/// The rules, in the order of the table, with their theoretical order per step.
const RULES: &[Rule] = &[
    ("bptt", "time N²·d per step, memory T·N·d"),
    ("rtrl", "time d·N⁴, memory d·N³"),
    ("eprop-symmetric", "time d²·N², memory d·N²"),
    ("eprop-random", "time d²·N², memory d·N²"),
    ("family-m1", "time N³, memory N³"),
    ("snap1", "time d·P (sparse path), memory d·P"),
    ("snap2", "time ≤ d·N²·P (sparse path; RTRL's when P_2 is full), memory ≤ d·N·P"),
    ("ebptt", "time N²·d amortised, memory L·N·d"),
    ("fbptt", "time L·N²·d, memory L·N·d"),
    ("rflo", "time N·P_loc = N², memory N²"),
    ("kernl", "time N², memory N²"),
    ("uoro", "time N²·d + N·P, memory N·d + P"),
    ("kf-rtrl", "time N³·d + N·P, memory N²·d + P_loc"),
    ("rkf-rtrl", "time N²·d·P_loc + N·P, memory N·d·P_loc"),
    ("mdgl", "time N²·d·P_loc = N³·d, memory N·P"),
];

fn mean_of_draws(
    net: &Network,
    p: &Params<f64>,
    seq: &Sequence,
    kind: Kind,
    seed: u64,
    draws: usize,
) -> credit_core::Result<Params<f64>> {
    let mut sum = p.map(|_| 0.0);
    for s in 0..draws as u64 {
        let g = credit_uoro::gradient(net, p, seq, kind, &Noise::Seed(seed + s))?.grad;
        for (a, b) in sum.tensors.iter_mut().zip(&g.tensors) {
            a.value += &b.value;
        }
    }
    Ok(sum.map(|x| x / draws as f64))
}

/// Runs `rule` on one case; `Err(reason)` when it is not defined there.
fn run_rule(
    rule: &str,
    net: &Network,
    p: &Params<f64>,
    seq: &Sequence,
    window: usize,
    seed: u64,
    draws: usize,
) -> Result<Outcome, String> {
    let dm = Dims::of(net, seq.len());
    let alpha = match &net.cell {
        Cell::Rate(r) => Some(r.alpha),
        _ => None,
    };
    let rate_only = |what: &str| {
        format!(
            "{what} is defined on the rate cell only (on spiking cells and the LSTM the same trace is e-prop)"
        )
    };
    let fb = credit_eprop::random_feedback(net, seed);
    let e = |e: credit_core::Error| e.to_string();
    let formula = |grad, floats, floats_source, madds| Outcome {
        grad,
        floats,
        floats_source,
        madds,
        madds_source: "formula",
    };
    let lowrank = |kind: Kind, name: &str, mean: bool| -> Result<Outcome, String> {
        if kind == Kind::Kf && alpha.is_none() {
            return Err(format!(
                "{name} is defined on the rate cell only (its Kronecker factorisation needs S = u ⊗ a)"
            ));
        }
        let grad = if mean {
            mean_of_draws(net, p, seq, kind, seed, draws).map_err(e)?
        } else {
            credit_uoro::gradient(net, p, seq, kind, &Noise::Seed(seed)).map_err(e)?.grad
        };
        let floats = credit_uoro::LowRank::<f64>::new(net, kind).map_err(e)?.len_scalars() as u64;
        let columns = match kind {
            Kind::Uoro => 1,
            Kind::Kf => dm.n,
            Kind::Rkf => dm.pl,
        };
        // docs/uoro.md §3: J^t on the propagated factor, O(N²d) per column, plus the dense Ẑ
        Ok(formula(grad, floats, "len_scalars", columns * dm.n * dm.n * dm.d + dm.n * dm.pc))
    };
    match rule {
        "bptt" => {
            let grad = credit_bptt::gradient(net, p, seq).map_err(e)?.grad;
            // the stored trajectory (h, z, y per step) and the gradient: docs/bptt.md §6
            let floats = dm.t * (dm.n * dm.d + dm.n + dm.k) + dm.p;
            Ok(formula(grad, floats, "formula", dm.bptt_step()))
        }
        "rtrl" => {
            let grad = credit_rtrl::gradient(net, p, seq).map_err(e)?.grad;
            // RTRL's state is SnAp's at a full pattern without the mask
            let full = credit_snap::Pattern::new(net, p, seq.len().max(1)).map_err(e)?;
            let st = credit_snap::SnapState::<f64>::new(net, &full);
            let floats = (st.len_scalars() - st.mask.len()) as u64;
            Ok(formula(grad, floats, "formula", dm.rtrl_step()))
        }
        "eprop-symmetric" | "eprop-random" => {
            let feedback = if rule == "eprop-symmetric" { Feedback::Symmetric } else { Feedback::Matrix(fb) };
            let on = credit_eprop::gradient(net, p, seq, &feedback).map_err(e)?;
            let floats = on.len_scalars() as u64;
            // docs/eprop.md §11: (E1) N d² P_loc, (E2)+filter+(E5) N d P_loc, ∂M/∂z N² d, L^t N K
            let madds = dm.n * dm.d * dm.d * dm.pl + dm.n * dm.d * dm.pl + dm.n * dm.n * dm.d + dm.n * dm.k;
            Ok(formula(on.grad, floats, "len_scalars", madds))
        }
        "family-m1" => {
            let g = recursion::gradient(net, p, seq, 1, Reading::HopCount).map_err(e)?;
            Ok(Outcome {
                grad: g.grad,
                floats: g.cost.floats,
                floats_source: "counted",
                madds: g.cost.madds / dm.t.max(1),
                madds_source: "counted",
            })
        }
        "snap1" | "snap2" => {
            let order = if rule == "snap1" { 1 } else { 2 };
            // the sparse path (= the literal, snap-fast=snap): S on the pattern only, its
            // multiply-adds counted as done (docs/snap.md §6, Eq. SP6)
            let out = credit_snap::sparse::gradient(net, p, seq, order).map_err(e)?;
            Ok(Outcome {
                grad: out.grad,
                floats: out.floats,
                floats_source: "len_scalars",
                madds: out.madds / dm.t.max(1),
                madds_source: "counted",
            })
        }
        "ebptt" | "fbptt" => {
            // driven step by step to read the largest buffer
            let w = p.cell_tensors(net);
            let (floats, grad) = if rule == "ebptt" {
                let mut st = credit_tbptt::Ebptt::<f64>::new(net, window).map_err(e)?;
                let mut most = st.len_scalars();
                for t in 0..seq.len() {
                    st.step(net, p, &w, &seq.x[t], &seq.target[t], seq.mask[t]);
                    most = most.max(st.len_scalars());
                }
                st.finish(net, p);
                (most, st.grad)
            } else {
                let mut st = credit_tbptt::Fbptt::<f64>::new(net, window).map_err(e)?;
                let mut most = st.len_scalars();
                for t in 0..seq.len() {
                    st.step(net, p, &w, &seq.x[t], &seq.target[t], seq.mask[t]);
                    most = most.max(st.len_scalars());
                }
                st.finish(net, p);
                (most, st.grad)
            };
            // docs/tbptt.md §5: one reverse step per buffered step; E-BPTT runs it once per window
            // step (amortised), F-BPTT over the whole window at every step
            let sweeps = if rule == "ebptt" { 1 } else { window.min(seq.len()) as u64 };
            Ok(formula(grad, floats as u64, "len_scalars", sweeps * dm.bptt_step()))
        }
        "rflo" => {
            let a = alpha.ok_or_else(|| rate_only("RFLO"))?;
            let grad = credit_rflo::rflo::gradient(net, p, seq, &fb, a).map_err(e)?.grad;
            let floats = credit_rflo::rflo::Rflo::<f64>::new(net, a).map_err(e)?.len_scalars() as u64;
            // docs/rflo.md §4: the trace N·P_loc, the signal N·K
            Ok(formula(grad, floats, "len_scalars", dm.n * dm.pl + dm.n * dm.k))
        }
        "kernl" => {
            alpha.ok_or_else(|| rate_only("KeRNL"))?;
            let cfg = credit_check::rflo::LEARNING;
            let grad = credit_rflo::kernl::gradient(net, p, seq, &fb, &cfg).map_err(e)?.grad;
            let floats = credit_rflo::kernl::Kernl::<f64>::new(net, &cfg).map_err(e)?.len_scalars() as u64;
            // docs/rflo.md §4: RFLO's plus (K4) and the perturbed step, 2 N²
            Ok(formula(grad, floats, "len_scalars", dm.n * dm.pl + dm.n * dm.k + 2 * dm.n * dm.n))
        }
        "uoro" => lowrank(Kind::Uoro, "UORO", false),
        "uoro-mean" => lowrank(Kind::Uoro, "UORO", true),
        "kf-rtrl" => lowrank(Kind::Kf, "KF-RTRL", false),
        "kf-rtrl-mean" => lowrank(Kind::Kf, "KF-RTRL", true),
        "rkf-rtrl" => lowrank(Kind::Rkf, "R-KF-RTRL", false),
        "rkf-rtrl-mean" => lowrank(Kind::Rkf, "R-KF-RTRL", true),
        "mdgl" => {
            let grad = credit_mdgl::gradient(net, p, seq, credit_mdgl::SelfHop::Include).map_err(e)?.grad;
            let floats = credit_mdgl::Mdgl::<f64>::new(net, credit_mdgl::SelfHop::Include)
                .map_err(e)?
                .len_scalars() as u64;
            // docs/mdgl.md §4: the dense Ẑ, N² d P_loc, plus e-prop's trace N d² P_loc
            Ok(formula(grad, floats, "len_scalars", dm.n * dm.n * dm.d * dm.pl + dm.n * dm.d * dm.d * dm.pl))
        }
        other => Err(format!("unknown rule {other}")),
    }
}

fn main() -> ExitCode {
    let args: Args = match credit_check::cli::parse(TOOL) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if args.draws == 0 {
        eprintln!("rules-table: --draws must be at least 1");
        return ExitCode::from(2);
    }
    let cases = match credit_check::cli::single_layer_cases(
        TOOL,
        "the rules table",
        args.fixture.as_deref(),
        (args.n, args.steps, args.seed),
        &args.limits,
    ) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let steps = cases.first().map_or(0, |(_, _, seq)| seq.len());
    if steps == 0 {
        eprintln!("rules-table: T = 0 leaves nothing to compare");
        return ExitCode::from(2);
    }
    let window = args.window.unwrap_or(steps.div_ceil(2));
    if window == 0 {
        eprintln!("rules-table: --window must be at least 1");
        return ExitCode::from(2);
    }
    let files = match TableFiles::create(TOOL, args.json.as_deref(), args.csv.as_deref()) {
        Ok(f) => f,
        Err(code) => return code,
    };

    let started = std::time::Instant::now();
    let mut names: Vec<(String, &'static str)> = Vec::new();
    for &(rule, theory) in RULES {
        names.push((rule.to_string(), theory));
        if matches!(rule, "uoro" | "kf-rtrl" | "rkf-rtrl") {
            names.push((format!("{rule}-mean"), theory));
        }
    }
    let bar = credit_check::cli::progress((cases.len() * names.len()) as u64, "rules");
    let mut rows = Vec::new();
    for (net, p, seq) in &cases {
        let exact = match credit_bptt::gradient(net, p, seq) {
            Ok(b) => b.grad,
            Err(e) => {
                bar.finish_and_clear();
                eprintln!("rules-table: {e}");
                return ExitCode::from(2);
            }
        };
        let nc = net.n_cell_tensors();
        for (name, theory) in &names {
            bar.set_message(format!("{} {name}", net.cell.id()));
            let row = |na, cosine, rel_err, floats, floats_source, madds, madds_source| RuleRow {
                cell: net.cell.id(),
                n: net.n,
                steps: seq.len(),
                rule: if name.ends_with("-mean") { format!("{name}{}", args.draws) } else { name.clone() },
                na,
                cosine,
                rel_err,
                floats,
                floats_source,
                madds_per_step: madds,
                madds_source,
                theory,
            };
            rows.push(match run_rule(name, net, p, seq, window, args.seed, args.draws) {
                Ok(o) => row(
                    None,
                    Some(cosine(&o.grad, &exact, nc)),
                    Some(rel_err(&o.grad, &exact, nc)),
                    Some(o.floats),
                    o.floats_source,
                    Some(o.madds),
                    o.madds_source,
                ),
                Err(reason) => row(Some(reason), None, None, None, "", None, ""),
            });
            bar.inc(1);
        }
    }
    bar.finish_and_clear();

    let fixture = args.fixture.as_ref().map(|d| d.display().to_string());
    let json = || {
        let doc = RulesReport {
            schema: 1,
            tool: TOOL,
            window,
            draws: args.draws,
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
    out!(
        "online rules against BPTT, {what}, window L = {window}, {} noise draws (docs/family.md §6.1)\n",
        args.draws
    );
    for ((net, _, _), case_rows) in cases.iter().zip(rows.chunks(names.len())) {
        let (d, pl, pc) = (net.d(), net.p_loc(), net.p_cell());
        out!("cell {} (d = {d}, P_loc = {pl}, P_cell = {pc})", net.cell.id());
        out!(
            "  {:<16}  {:>10}  {:>10}  {:>8}  {:<11}  {:>12}  {:<8}  {}",
            "rule",
            "cosine",
            "rel. err",
            "floats",
            "(how)",
            "madds/step",
            "(how)",
            "theory"
        );
        for r in case_rows {
            match &r.na {
                Some(reason) => out!("  {:<16}  n/a: {reason}", r.rule),
                None => out!(
                    "  {:<16}  {:>10.6}  {:>10.2e}  {:>8}  {:<11}  {:>12}  {:<8}  {}",
                    r.rule,
                    r.cosine.unwrap_or(f64::NAN),
                    r.rel_err.unwrap_or(f64::NAN),
                    r.floats.unwrap_or(0),
                    r.floats_source,
                    r.madds_per_step.unwrap_or(0),
                    r.madds_source,
                    r.theory
                ),
            }
        }
        out!();
    }
    out!(
        "rel. err = max over cell tensors of max|a − b| / max|b| against BPTT; cosine over the cell tensors."
    );
    out!(
        "\n{} rows: {} cells × {} rules, {:.1} s",
        rows.len(),
        cases.len(),
        names.len(),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
