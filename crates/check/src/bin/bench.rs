//! `bench`: the median wall time of one full gradient of one sequence and the peak memory of the
//! process while it runs, for the fast path of a rule or (with `--literal`) its literal
//! transcription. Usually `cargo xtask bench` (release build). Output and JSON:
//! `docs/benchmarks.md`, section `cargo xtask bench`.
//!
//! Adding a rule's fast path is one match arm in [`run`]. SnAp's fast path is its sparse path
//! (`credit_snap::sparse`); the other online rules of issue 15 (rflo, kernl, uoro, kf, rkf, mdgl,
//! ebptt, fbptt) have no fast path: they need `--literal`.

use clap::Parser;
use credit_check::cli::{OutputFile, non_negative};
use credit_check::out;
use credit_core::stack::{Layer, Stack};
use credit_core::{Cell, CellModel, Loss, Network, Params, Readout, Scalar, Sequence};
use credit_eprop::{Adaptive, Feedback};
use serde::Serialize;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

const TOOL: &str = "bench";

/// Times one full gradient of one sequence (median over --repeat runs) and measures the peak
/// resident memory, for the fast path of a rule or, with --literal, its literal transcription.
///
/// The network: N_in inputs, N neurons of the cell (rate: α = 0.5; lif: τ_m = 20, v_th = 1;
/// alif: τ_a = 50, β = 0.3; lstm), K outputs, leaky readout κ = 0.9, MSE; default
/// initialisation and a random sequence from --seed. Exit 2 on bad input (and for a rule
/// without a fast path unless --literal).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Rule: bptt, eprop, eprop-random, eprop-adaptive, rtrl, family, deep, ostl, snap (fast:
    /// the sparse path); and, literal only (no fast path), rflo, kernl, uoro, kf, rkf, mdgl,
    /// ebptt, fbptt.
    #[arg(long)]
    rule: String,
    /// Cell: rate, lif, alif, lstm.
    #[arg(long, default_value = "rate")]
    cell: String,
    /// Neurons (per layer).
    #[arg(long, default_value_t = 128, value_parser = non_negative::<usize>)]
    n: usize,
    /// Sequence length T.
    #[arg(long, default_value_t = 1000, value_parser = non_negative::<usize>)]
    steps: usize,
    /// Layers (a stack when > 1; deep and ostl always run on a stack).
    #[arg(long, default_value_t = 1, value_parser = non_negative::<usize>)]
    layers: usize,
    /// Scalar type: f32 or f64.
    #[arg(long, default_value = "f64")]
    scalar: String,
    /// Time the literal transcription instead of the fast path.
    #[arg(long)]
    literal: bool,
    /// Number of timed runs (the median is reported); one untimed warm-up run precedes them.
    #[arg(long, default_value_t = 5, value_parser = non_negative::<usize>)]
    repeat: usize,
    /// Inputs N_in.
    #[arg(long, default_value_t = 4, value_parser = non_negative::<usize>)]
    n_in: usize,
    /// Outputs K.
    #[arg(long, default_value_t = 2, value_parser = non_negative::<usize>)]
    n_out: usize,
    /// Order m of the family (rule family, default 0) or n of SnAp-n (rule snap, default 1).
    #[arg(long, value_parser = non_negative::<usize>)]
    order: Option<usize>,
    /// Window L of E-BPTT and F-BPTT (rules ebptt, fbptt).
    #[arg(long, default_value_t = 20, value_parser = non_negative::<usize>)]
    window: usize,
    /// Reading of "order" of the family (rule family): hop-count, last-step-hop or time-lag.
    #[arg(long, default_value = "hop-count")]
    reading: String,
    /// Seed of parameters, data, feedback and the noise (uoro, kf, rkf, kernl).
    #[arg(long, default_value_t = 1, value_parser = non_negative::<u64>)]
    seed: u64,
    /// Also write the result as JSON (docs/benchmarks.md) to this path.
    #[arg(long, value_name = "PATH")]
    json: Option<std::path::PathBuf>,
    /// Time the network, weights and sequence of this single-layer fixture (`config.json` +
    /// `inputs.npz`, docs/fixtures.md) instead of bench's own random ones, so that a peer times
    /// the same weights; the cell, `--n`, `--steps`, `--n-in` and `--n-out` are then the
    /// fixture's (giving them as well is refused).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["cell", "n", "steps", "n_in", "n_out"])]
    fixture: Option<std::path::PathBuf>,
    /// Also time the unavoidable parts of the rule's fast gradient alone, at the same sizes
    /// (rules bptt and eprop, one layer, fast path): the GEMVs of `W_rec` (2T for BPTT, T for
    /// e-prop) with the fast path's `gemv_acc`, as many plain streaming reads of the matrix (the
    /// L2 read bound), and the GEMMs of the weight gradients and of the input and readout drives
    /// (docs/benchmarks.md, `--floor`).
    #[arg(long)]
    floor: bool,
    /// Steps per block of fast e-prop's blocked traces (rules eprop, eprop-random,
    /// eprop-adaptive, fast path; `docs/fast.md` §4.1–§4.3): `0` runs the per-step traces
    /// (K10)–(K13); default the library's 64 (`credit_eprop::fast::BLOCK`).
    #[arg(long, value_name = "K")]
    block: Option<usize>,
}

/// The rules `bench` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    Bptt,
    Eprop,
    EpropRandom,
    EpropAdaptive,
    Rtrl,
    Family,
    Deep,
    Ostl,
    Snap,
    Rflo,
    Kernl,
    Uoro,
    Kf,
    Rkf,
    Mdgl,
    Ebptt,
    Fbptt,
}

const RULES: [(&str, Rule); 17] = [
    ("bptt", Rule::Bptt),
    ("eprop", Rule::Eprop),
    ("eprop-random", Rule::EpropRandom),
    ("eprop-adaptive", Rule::EpropAdaptive),
    ("rtrl", Rule::Rtrl),
    ("family", Rule::Family),
    ("deep", Rule::Deep),
    ("ostl", Rule::Ostl),
    ("snap", Rule::Snap),
    ("rflo", Rule::Rflo),
    ("kernl", Rule::Kernl),
    ("uoro", Rule::Uoro),
    ("kf", Rule::Kf),
    ("rkf", Rule::Rkf),
    ("mdgl", Rule::Mdgl),
    ("ebptt", Rule::Ebptt),
    ("fbptt", Rule::Fbptt),
];

/// The result: one JSON object (docs/benchmarks.md, section `cargo xtask bench`).
#[derive(Serialize)]
struct Report {
    schema: u32,
    rule: String,
    path: &'static str,
    cell: String,
    n: usize,
    steps: usize,
    layers: usize,
    n_in: usize,
    n_out: usize,
    scalar: String,
    repeat: usize,
    times_s: Vec<f64>,
    median_s: f64,
    min_s: f64,
    /// Peak resident set (VmHWM) over the timed runs, bytes.
    peak_rss_bytes: Option<u64>,
    /// Resident set before the first run (parameters and data built), bytes.
    baseline_rss_bytes: Option<u64>,
    /// Fraction of the `(t, j)` with a spike (spiking cells, single layer; `null` otherwise): a
    /// sparse net makes the spike-driven products of the fast path cheap.
    spike_fraction: Option<f64>,
    /// Whether VmHWM was reset before the first run (/proc/self/clear_refs); if not, the peak
    /// also covers the setup.
    peak_reset: bool,
    /// With `--floor`: the unavoidable parts timed alone (`null` otherwise).
    floor: Option<Floor>,
    /// Fast e-prop's block length (`--block`, else 64); `null` for the other rules and paths.
    block: Option<usize>,
}

/// The unavoidable parts of one fast gradient, each timed alone (median over `--repeat` runs
/// after one warm-up) at the sizes of the timed network (docs/benchmarks.md, `--floor`).
#[derive(Serialize)]
struct Floor {
    /// GEMVs of the `(G·N) × N` recurrent matrix per gradient: `2T` for BPTT (forward (K1) and
    /// reverse (K7)), `T` for e-prop (forward only).
    gemv_calls: usize,
    /// Each part: its name, what it computes, its median time.
    parts: Vec<FloorPart>,
    /// Sum of the parts' medians except `stream` (the floor with the GEMVs as we run them).
    total_s: f64,
    /// The same sum with `stream` in place of `gemv` (the floor if the GEMVs ran at the read
    /// bandwidth of the cache level that holds the matrix).
    total_stream_s: f64,
    /// `total_s` from the parts' minima (the least disturbed run of each, under shared load).
    total_min_s: f64,
}

/// One timed part of the floor.
#[derive(Serialize)]
struct FloorPart {
    name: &'static str,
    what: String,
    median_s: f64,
    min_s: f64,
}

/// What a run needs: the single-layer network (also the template of the stack) and the stack.
struct Setup {
    net: Network,
    stack: Stack,
    seq: Sequence,
    p_net: Params<f64>,
    p_stack: Params<f64>,
    feedback: nalgebra::DMatrix<f64>,
    order: usize,
    window: usize,
    seed: u64,
    reading: credit_family::Reading,
    layers: usize,
    spike_fraction: Option<f64>,
    /// Fast e-prop's block length.
    block: usize,
}

/// One full gradient of `rule` on the fast path (`fast`) or the literal one, in scalar `T`.
/// `Ok(None)`: the rule has no fast path (yet). A rule's fast path is one arm here.
fn run<T: Scalar>(
    rule: Rule,
    fast: bool,
    s: &Setup,
    pn: &Params<T>,
    ps: &Params<T>,
) -> credit_core::Result<Option<()>> {
    let (net, seq, stack) = (&s.net, &s.seq, &s.stack);
    let random = || Feedback::Matrix(s.feedback.map(T::c));
    let single = s.layers == 1;
    match (rule, fast) {
        (Rule::Bptt, true) if single => black_box(credit_bptt::fast(net, pn, seq)?).loss,
        (Rule::Bptt, true) => black_box(credit_bptt::fast::stack_gradient(stack, ps, seq)?).loss,
        (Rule::Bptt, false) if single => black_box(credit_bptt::gradient(net, pn, seq)?).loss,
        (Rule::Bptt, false) => black_box(credit_bptt::stack::gradient(stack, ps, seq)?).loss,
        (Rule::Eprop, true) if single => {
            black_box(fast_eprop(net, pn, seq, &Feedback::Symmetric, s.block)?).loss
        }
        (Rule::Eprop, false) if single => {
            black_box(credit_eprop::gradient(net, pn, seq, &Feedback::Symmetric)?).loss
        }
        (Rule::EpropRandom, true) if single => black_box(fast_eprop(net, pn, seq, &random(), s.block)?).loss,
        (Rule::EpropRandom, false) if single => {
            black_box(credit_eprop::gradient(net, pn, seq, &random())?).loss
        }
        // adaptive e-prop: the gradient with the current B, then one Kolen–Pollack update (E11)
        (Rule::EpropAdaptive, _) if single => {
            let mut ad = Adaptive { b: s.feedback.map(T::c), lambda: 0.1 };
            let fb = Feedback::Matrix(ad.b.clone());
            let out = if fast {
                fast_eprop(net, pn, seq, &fb, s.block)?.grad
            } else {
                credit_eprop::gradient(net, pn, seq, &fb)?.grad
            };
            let mut q = pn.clone();
            ad.update(&mut q, &out, 1e-3);
            black_box((q, ad)).1.b[(0, 0)]
        }
        (Rule::Rtrl, true) if single => black_box(credit_rtrl::fast::gradient(net, pn, seq)?).loss,
        (Rule::Rtrl, true) => black_box(credit_rtrl::fast::stack_gradient(stack, ps, seq)?).loss,
        (Rule::Rtrl, false) if single => black_box(credit_rtrl::gradient(net, pn, seq)?).loss,
        (Rule::Rtrl, false) => black_box(credit_rtrl::stack::gradient(stack, ps, seq)?).loss,
        (Rule::Family, true) if single => {
            let r = credit_family::fast::gradient(net, pn, seq, s.order, s.reading)?;
            black_box(r).loss
        }
        (Rule::Family, false) if single => {
            let r = credit_family::recursion::gradient(net, pn, seq, s.order, s.reading)?;
            black_box(r).loss
        }
        (Rule::Deep, true) => black_box(credit_deep::fast::gradient(stack, ps, seq)?).loss,
        (Rule::Ostl, true) => black_box(credit_ostl::fast::gradient(stack, ps, seq)?).loss,
        (Rule::Deep, false) => black_box(credit_deep::gradient(stack, ps, seq)?).loss,
        (Rule::Ostl, false) => black_box(credit_ostl::gradient(stack, ps, seq)?).loss,
        // the online rules of issue 15: literal transcriptions only (docs/benchmarks.md)
        (Rule::Snap, true) if single => black_box(credit_snap::sparse::gradient(net, pn, seq, s.order)?).loss,
        (Rule::Snap, false) if single => black_box(credit_snap::gradient(net, pn, seq, s.order)?).loss,
        (Rule::Ebptt, false) if single => black_box(credit_tbptt::ebptt(net, pn, seq, s.window)?).loss,
        (Rule::Fbptt, false) if single => black_box(credit_tbptt::fbptt(net, pn, seq, s.window)?).loss,
        (Rule::Rflo, false) if single => {
            let alpha = match &net.cell {
                Cell::Rate(r) => r.alpha,
                _ => 1.0, // refused by credit-rflo before it is read
            };
            black_box(credit_rflo::rflo::gradient(net, pn, seq, &s.feedback, alpha)?).loss
        }
        (Rule::Kernl, false) if single => {
            // learning A and α (K4) with check-gradients' kernl!=bptt rates
            let cfg = credit_rflo::KernlConfig { seed: s.seed, ..credit_check::rflo::LEARNING };
            black_box(credit_rflo::kernl::gradient(net, pn, seq, &s.feedback, &cfg)?).loss
        }
        (Rule::Uoro | Rule::Kf | Rule::Rkf, false) if single => {
            let kind = match rule {
                Rule::Uoro => credit_uoro::Kind::Uoro,
                Rule::Kf => credit_uoro::Kind::Kf,
                _ => credit_uoro::Kind::Rkf,
            };
            let noise = credit_uoro::Noise::Seed(s.seed);
            black_box(credit_uoro::gradient(net, pn, seq, kind, &noise)?).loss
        }
        (Rule::Mdgl, false) if single => {
            black_box(credit_mdgl::gradient(net, pn, seq, credit_mdgl::SelfHop::Include)?).loss
        }
        _ => return Ok(None),
    };
    Ok(Some(()))
}

/// Fast e-prop with blocks of `block` steps (`credit_eprop::fast::gradient_with_block`; the
/// default block is the library's, so without `--block` this is `credit_eprop::fast`).
fn fast_eprop<T: Scalar>(
    net: &Network,
    p: &Params<T>,
    seq: &Sequence,
    fb: &Feedback<T>,
    block: usize,
) -> credit_core::Result<credit_eprop::fast::FastEprop<T>> {
    credit_eprop::fast::gradient_with_block(net, p, seq, fb, block)
}

/// Which rules take a stack of more than one layer.
fn takes_layers(rule: Rule) -> bool {
    matches!(rule, Rule::Bptt | Rule::Rtrl | Rule::Deep | Rule::Ostl)
}

/// A field of /proc/self/status in bytes (`VmHWM`, `VmRSS`), if readable.
fn status_bytes(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resets the peak resident set to the current one (Linux ≥ 4.0: `5` to /proc/self/clear_refs).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn bad(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("{TOOL}: {msg}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Args = match credit_check::cli::parse(TOOL) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let Some(&(_, rule)) = RULES.iter().find(|(name, _)| *name == args.rule) else {
        let known: Vec<&str> = RULES.iter().map(|(k, _)| *k).collect();
        return bad(format!("unknown rule `{}` (known: {})", args.rule, known.join(", ")));
    };
    let Some(cell) = credit_check::suite::bench_cell(&args.cell) else {
        return bad(format!("unknown cell `{}` (known: rate, lif, alif, lstm)", args.cell));
    };
    if !["f32", "f64"].contains(&args.scalar.as_str()) {
        return bad(format!("unknown scalar `{}` (known: f32, f64)", args.scalar));
    }
    for (flag, v) in
        [("--n", args.n), ("--steps", args.steps), ("--layers", args.layers), ("--repeat", args.repeat)]
    {
        if v == 0 {
            return bad(format!("{flag} must be at least 1"));
        }
    }
    if args.layers > 1 && !takes_layers(rule) {
        // e-prop through a stack is deep e-prop (its own rule, with a fast path)
        let eprop = matches!(rule, Rule::Eprop | Rule::EpropRandom | Rule::EpropAdaptive);
        return bad(format!(
            "rule `{}` runs on one layer only (--layers 1){}",
            args.rule,
            if eprop { "; e-prop through a stack is deep e-prop: --rule deep" } else { "" }
        ));
    }
    let reading = match args.reading.as_str() {
        "hop-count" => credit_family::Reading::HopCount,
        "last-step-hop" => credit_family::Reading::LastStepHop,
        "time-lag" => credit_family::Reading::TimeLag,
        other => {
            return bad(format!("unknown reading `{other}` (known: hop-count, last-step-hop, time-lag)"));
        }
    };
    if args.block.is_some()
        && (!matches!(rule, Rule::Eprop | Rule::EpropRandom | Rule::EpropAdaptive) || args.literal)
    {
        return bad(
            "--block sets fast e-prop's trace blocks: --rule eprop, eprop-random or eprop-adaptive, no --literal",
        );
    }
    if args.floor && (!matches!(rule, Rule::Bptt | Rule::Eprop) || args.layers > 1 || args.literal) {
        return bad(
            "--floor times the parts of fast single-layer BPTT or e-prop: --rule bptt or eprop, --layers 1, no --literal",
        );
    }
    let order = args.order.unwrap_or(usize::from(rule == Rule::Snap));
    if rule == Rule::Snap && order == 0 {
        return bad("--order 0: SnAp-n needs n ≥ 1");
    }
    if matches!(rule, Rule::Ebptt | Rule::Fbptt) && args.window == 0 {
        return bad("--window must be at least 1");
    }
    let file = match OutputFile::create_opt(TOOL, "--json", args.json.as_deref()) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let setup = match build(&args, cell, order, reading) {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    if rule == Rule::Family && order >= setup.seq.len() {
        return bad(format!("--order {order} must be below --steps {}", setup.seq.len()));
    }
    let fast = !args.literal;
    let timed = match args.scalar.as_str() {
        "f32" => time::<f32>(rule, fast, &setup, args.repeat),
        _ => time::<f64>(rule, fast, &setup, args.repeat),
    };
    let (mut times, baseline, peak, peak_reset) = match timed {
        Ok(Some(t)) => t,
        Ok(None) => {
            return bad(format!(
                "rule `{}` has no fast path{}; add --literal to time its literal transcription",
                args.rule,
                if args.layers > 1 { " on stacks" } else { "" }
            ));
        }
        Err(e) => return bad(e),
    };
    let floor = args.floor.then(|| {
        let calls = if rule == Rule::Bptt { 2 } else { 1 } * setup.seq.len();
        match args.scalar.as_str() {
            "f32" => floor::<f32>(&setup, calls, args.repeat),
            _ => floor::<f64>(&setup, calls, args.repeat),
        }
    });
    let raw = times.clone();
    times.sort_by(f64::total_cmp);
    let median = if times.len() % 2 == 1 {
        times[times.len() / 2]
    } else {
        0.5 * (times[times.len() / 2 - 1] + times[times.len() / 2])
    };
    let report = Report {
        schema: 1,
        rule: args.rule.clone(),
        path: if fast { "fast" } else { "literal" },
        cell: match setup.net.cell {
            Cell::Rate(_) => "rate",
            Cell::Lif(_) => "lif",
            Cell::Alif(_) => "alif",
            Cell::Lstm(_) => "lstm",
        }
        .to_string(),
        n: setup.net.n,
        steps: setup.seq.len(),
        layers: args.layers,
        n_in: setup.net.n_in,
        n_out: setup.net.n_out,
        scalar: args.scalar.clone(),
        repeat: args.repeat,
        times_s: raw,
        median_s: median,
        min_s: times[0],
        peak_rss_bytes: peak,
        baseline_rss_bytes: baseline,
        peak_reset,
        spike_fraction: setup.spike_fraction,
        floor,
        block: (matches!(rule, Rule::Eprop | Rule::EpropRandom | Rule::EpropAdaptive) && !args.literal)
            .then_some(setup.block),
    };
    if let Some(f) = file {
        let text = serde_json::to_string_pretty(&report).unwrap_or_default();
        if let Err(code) = f.write(TOOL, &format!("{text}\n")) {
            return code;
        }
    }
    let mib = |b: Option<u64>| b.map_or("n/a".to_string(), |b| format!("{:.1} MiB", b as f64 / 1048576.0));
    let over = match (peak, baseline) {
        (Some(p), Some(b)) if peak_reset => format!(" (+{} over the setup)", mib(Some(p.saturating_sub(b)))),
        _ => String::new(),
    };
    let spikes =
        setup.spike_fraction.map_or(String::new(), |f| format!("; spikes at {:.1} % of (t, j)", 100.0 * f));
    if let Some(f) = &report.floor {
        for p in &f.parts {
            out!("floor {:<8} {:>10} (min {:>10})  {}", p.name, human(p.median_s), human(p.min_s), p.what);
        }
        out!(
            "floor total {} (min {}; {} with `stream` for `gemv`) = {:.0} % of the median gradient (min: {:.0} % of the min)",
            human(f.total_s),
            human(f.total_min_s),
            human(f.total_stream_s),
            100.0 * f.total_s / median,
            100.0 * f.total_min_s / times[0]
        );
    }
    out!(
        "{} {} {} n={} T={} layers={} {}: median {} (min {}, max {}) over {} runs; peak RSS {}{}{}",
        report.rule,
        report.path,
        report.cell,
        report.n,
        report.steps,
        report.layers,
        report.scalar,
        human(median),
        human(times[0]),
        human(times[times.len() - 1]),
        args.repeat,
        mib(peak),
        over,
        spikes
    );
    ExitCode::SUCCESS
}

fn human(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

fn build(args: &Args, cell: Cell, order: usize, reading: credit_family::Reading) -> Result<Setup, String> {
    let (net, p_net, seq) = match &args.fixture {
        // the fixture's network, weights and sequence (bench's own sizes are not used)
        Some(dir) => match credit_check::fixtures::read_any_limited(dir, &Default::default()) {
            Ok(credit_check::fixtures::AnyFixture::Single(f)) => (f.net, f.params, f.seq),
            Ok(credit_check::fixtures::AnyFixture::Stack(_)) => {
                return Err(format!("{}: a stack fixture; --fixture takes a single layer", dir.display()));
            }
            Err(e) => return Err(e.to_string()),
        },
        None => {
            let net = Network::new(cell, args.n_in, args.n, args.n_out, Readout::leaky(0.9), Loss::Mse)
                .map_err(|e| e.to_string())?;
            let p = Params::<f64>::random(&net, args.seed).map_err(|e| e.to_string())?;
            let seq = Sequence::random(&net, args.steps, args.seed).map_err(|e| e.to_string())?;
            (net, p, seq)
        }
    };
    let layers = vec![Layer { cell: net.cell.clone(), n: net.n }; args.layers];
    let stack = Stack::new(layers, net.n_in, net.n_out, net.readout, net.loss).map_err(|e| e.to_string())?;
    let p_stack = if args.layers == 1 {
        stack.rename(&p_net)
    } else {
        stack.random_params(args.seed).map_err(|e| e.to_string())?
    };
    let feedback = credit_eprop::random_feedback(&net, args.seed);
    let spike_fraction = if net.cell.is_spiking() && args.layers == 1 {
        let traj = credit_core::fast::forward(&net, &p_net, &seq).map_err(|e| e.to_string())?;
        Some(traj.states.z.iter().filter(|z| **z > 0.5).count() as f64 / (net.n * seq.len()) as f64)
    } else {
        None
    };
    Ok(Setup {
        net,
        stack,
        seq,
        p_net,
        p_stack,
        feedback,
        order,
        window: args.window,
        seed: args.seed,
        reading,
        layers: args.layers,
        spike_fraction,
        block: args.block.unwrap_or(credit_eprop::fast::BLOCK),
    })
}

type Timed = (Vec<f64>, Option<u64>, Option<u64>, bool);

/// One warm-up run, then `repeat` timed runs; the peak resident set is reset before the warm-up
/// (after the setup), so that the peak covers the gradient computations only.
fn time<T: Scalar>(rule: Rule, fast: bool, s: &Setup, repeat: usize) -> credit_core::Result<Option<Timed>> {
    let (pn, ps): (Params<T>, Params<T>) = (s.p_net.cast(), s.p_stack.cast());
    let bar = credit_check::cli::progress(repeat as u64 + 1, "runs");
    bar.set_message("warm-up");
    let baseline = status_bytes("VmRSS:");
    let peak_reset = reset_peak();
    if run(rule, fast, s, &pn, &ps)?.is_none() {
        bar.finish_and_clear();
        return Ok(None);
    }
    bar.inc(1);
    let mut times = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        bar.set_message("timed");
        let start = Instant::now();
        run(rule, fast, s, &pn, &ps)?;
        times.push(start.elapsed().as_secs_f64());
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(Some((times, baseline, status_bytes("VmHWM:"), peak_reset)))
}

/// The median and the minimum wall time of `repeat` runs of `f` after one warm-up run.
fn median_of(repeat: usize, mut f: impl FnMut()) -> (f64, f64) {
    f();
    let mut times: Vec<f64> = (0..repeat)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let median = if times.len() % 2 == 1 {
        times[times.len() / 2]
    } else {
        0.5 * (times[times.len() / 2 - 1] + times[times.len() / 2])
    };
    (median, times[0])
}

/// A plain streaming read of `a` (its sum, 32 independent accumulators so that the adds
/// vectorise and never wait on each other): one pass costs the read bandwidth of the cache level
/// that holds `a`. Runtime-dispatched like `gemv_acc` (AVX2/AVX-512 where the CPU has them).
struct Stream<'a, T> {
    a: &'a [T],
}

impl<T: Scalar> pulp::WithSimd for Stream<'_, T> {
    type Output = T;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> T {
        let mut acc = [T::zero(); 32];
        let mut chunks = self.a.chunks_exact(32);
        for c in &mut chunks {
            for (i, s) in acc.iter_mut().enumerate() {
                *s += c[i];
            }
        }
        let mut total = chunks.remainder().iter().fold(T::zero(), |s, &v| s + v);
        for s in acc {
            total += s;
        }
        total
    }
}

/// The unavoidable parts of one fast gradient at the sizes of `s.net` (`G·N` drive rows, `N`
/// neurons, `N_in` inputs, `K` outputs, `T` steps), each timed alone on random data: `calls`
/// GEMVs of the `(G·N) × N` matrix with `gemv_acc` (BPTT: `T` with `W_rec`, then `T` with
/// `W_recᵀ`, as the fast path does), `calls` streaming reads of it, and the products over time: `dW_rec = A Z₋ᵀ`
/// (`(G·N) × T · T × N`, nalgebra's GEMM, which is matrixmultiply's, on contiguous operands),
/// `dW_in = A Xᵀ`, `dW_out = Ȳ Zᵀ`, the input drive `W_in X`, the readout drive `W_out Z` and
/// the readout's signal `W_outᵀ Ȳ` (thin: one `gemv_acc` per column of the thin side, on
/// contiguous copies made before the clock starts).
fn floor<T: Scalar>(s: &Setup, calls: usize, repeat: usize) -> Floor {
    use credit_core::fast::gemv_acc;
    use nalgebra::DMatrix;
    let gates = if matches!(s.net.cell, Cell::Lstm(_)) { 4 } else { 1 };
    let (n, n_in, k, steps) = (s.net.n, s.net.n_in, s.net.n_out, s.seq.len());
    let gn = gates * n;
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let mut random = |r: usize, c: usize| {
        DMatrix::<T>::from_fn(r, c, |_, _| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            T::c((rng >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
        })
    };
    // the recurrent matrices scaled by 1/√N: the chained GEMVs below neither blow up nor decay
    let scale = T::c(1.0 / (n as f64).sqrt());
    let (w, w_t) = (random(gn, n).map(|e| e * scale), random(n, gn).map(|e| e * scale));
    let (w_in, w_out) = (random(gn, n_in), random(k, n));
    let (a, z, x, y_bar) = (random(gn, steps), random(n, steps), random(n_in, steps), random(k, steps));
    let (z_t, x_t, y_bar_t, w_out_t) = (z.transpose(), x.transpose(), y_bar.transpose(), w_out.transpose());
    let mut parts = Vec::new();
    let mut part = |name, what: String, (median_s, min_s): (f64, f64)| {
        parts.push(FloorPart { name, what, median_s, min_s })
    };
    let mut v = vec![T::zero(); gn.max(n)];
    let mut u = vec![T::zero(); gn.max(n)];
    part(
        "gemv",
        format!("{calls} x gemv_acc of the {gn} x {n} matrix ({} KiB)", gn * n * size_of::<T>() / 1024),
        median_of(repeat, || {
            for c in 0..calls {
                // BPTT: T forward W_rec z (K1), then T reverse W_recᵀ a (K7)
                let (m, rows, cols) = if c < steps { (&w, gn, n) } else { (&w_t, n, gn) };
                v[..rows].fill(T::zero());
                gemv_acc(m.as_slice(), rows, &u[..cols], &mut v[..rows]);
                std::mem::swap(&mut u, &mut v);
                u[0] = T::one(); // each GEMV reads the previous one's result, as in the fast path
            }
            black_box(&u);
        }),
    );
    part(
        "stream",
        format!("{calls} x a plain read of the same matrix (read-bandwidth bound)"),
        median_of(repeat, || {
            let mut sum = T::zero();
            for _ in 0..calls {
                sum += pulp::Arch::new().dispatch(Stream { a: black_box(w.as_slice()) });
            }
            black_box(sum);
        }),
    );
    let mut d_rec = DMatrix::<T>::zeros(gn, n);
    part(
        "dw_rec",
        format!("A Z-^T: ({gn} x {steps}) . ({steps} x {n}), one GEMM"),
        median_of(repeat, || d_rec.gemm(T::one(), &a, &z_t, T::zero())),
    );
    // thin products: one gemv_acc per column of the thin side
    let mut d_in = DMatrix::<T>::zeros(gn, n_in);
    part(
        "dw_in",
        format!("A X^T: ({gn} x {steps}) . ({steps} x {n_in}), {n_in} GEMVs"),
        median_of(repeat, || {
            d_in.fill(T::zero());
            for i in 0..n_in {
                gemv_acc(a.as_slice(), gn, x_t.column(i).as_slice(), d_in.column_mut(i).as_mut_slice());
            }
        }),
    );
    let mut d_out_t = DMatrix::<T>::zeros(n, k);
    part(
        "dw_out",
        format!("Ybar Z^T: ({k} x {steps}) . ({steps} x {n}), {k} GEMVs"),
        median_of(repeat, || {
            d_out_t.fill(T::zero());
            for q in 0..k {
                gemv_acc(z.as_slice(), n, y_bar_t.column(q).as_slice(), d_out_t.column_mut(q).as_mut_slice());
            }
        }),
    );
    let mut drive = DMatrix::<T>::zeros(gn, steps);
    part(
        "input",
        format!("W_in X: ({gn} x {n_in}) . ({n_in} x {steps}), {steps} GEMVs"),
        median_of(repeat, || {
            drive.fill(T::zero());
            for t in 0..steps {
                gemv_acc(w_in.as_slice(), gn, x.column(t).as_slice(), drive.column_mut(t).as_mut_slice());
            }
        }),
    );
    let mut readout_t = DMatrix::<T>::zeros(steps, k);
    part(
        "readout",
        format!("W_out Z: ({k} x {n}) . ({n} x {steps}), {k} GEMVs on Z^T"),
        median_of(repeat, || {
            readout_t.fill(T::zero());
            for q in 0..k {
                gemv_acc(
                    z_t.as_slice(),
                    steps,
                    w_out_t.column(q).as_slice(),
                    readout_t.column_mut(q).as_mut_slice(),
                );
            }
        }),
    );
    let mut dz = DMatrix::<T>::zeros(n, steps);
    part(
        "signal",
        format!("W_out^T Ybar: ({n} x {k}) . ({k} x {steps}), {steps} GEMVs"),
        median_of(repeat, || {
            dz.fill(T::zero());
            for t in 0..steps {
                gemv_acc(w_out_t.as_slice(), n, y_bar.column(t).as_slice(), dz.column_mut(t).as_mut_slice());
            }
        }),
    );
    black_box((&d_rec, &d_in, &d_out_t, &drive, &readout_t, &dz));
    let sum = |skip: &str, min: bool| {
        parts.iter().filter(|p| p.name != skip).map(|p| if min { p.min_s } else { p.median_s }).sum::<f64>()
    };
    let (total_s, total_stream_s, total_min_s) =
        (sum("stream", false), sum("gemv", false), sum("stream", true));
    Floor { gemv_calls: calls, parts, total_s, total_stream_s, total_min_s }
}
