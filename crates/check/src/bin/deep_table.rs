//! `deep-table`: stacks of `L = 1 … 4` layers, per layer and per rule (deep e-prop — a
//! reconstruction —, OSTL, e-prop applied layer-wise, and RTRL): cosine similarity and relative
//! error to the exact gradient (BPTT), and the rule's counted memory and multiply-adds per step
//! against the `O(L²N³)` estimate of `docs/deep.md` §6. Usually `cargo xtask deep-table`.

use clap::Parser;
use credit_check::budget::{Sizes, stack_suite};
use credit_check::out;
use credit_check::suite::{alif, lif, lstm, rate};
use credit_core::cell::Reset;
use credit_core::stack::{Layer, ReadoutFrom, Stack};
use credit_core::{CellModel, Loss, Params, Readout};
use credit_deep::Depth;
use std::process::ExitCode;

/// Prints the deep table.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Cell of every layer: rate, lif, alif, lstm.
    #[arg(long, default_value = "alif")]
    cell: String,
    /// Neurons per layer.
    #[arg(long, default_value_t = 6)]
    n: usize,
    /// Sequence length.
    #[arg(long, default_value_t = 16)]
    steps: usize,
    /// Seed.
    #[arg(long, default_value_t = 3)]
    seed: u64,
    /// What the readout reads: top or all.
    #[arg(long, default_value = "top")]
    read: String,
    /// Use this stack fixture's layers, weights and inputs instead of the built-in stacks.
    #[arg(long, value_name = "DIR")]
    fixture: Option<std::path::PathBuf>,
    #[command(flatten)]
    limits: credit_check::budget::Limits,
}

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
    let what = match &args.fixture {
        Some(d) => format!("the stack fixture {}", d.display()),
        None => format!(
            "stacks of {} (N = {} per layer, T = {}, readout from {}, seed {})",
            args.cell, args.n, args.steps, args.read, args.seed
        ),
    };
    out!("deep rules on {what}; deep e-prop is a reconstruction (docs/deep.md)");
    out!(
        "rel. err = max over the layer's tensors of max|a − b| / max|b| against BPTT; cosine over the layer's tensors\n"
    );
    for (stack, p, seq) in cases {
        let depth = stack.layers.len();
        let run = || -> credit_core::Result<_> {
            let bptt = credit_bptt::stack::gradient(&stack, &p, &seq)?;
            let deep = credit_deep::gradient(&stack, &p, &seq)?;
            let local = credit_deep::gradient_with(&stack, &p, &seq, Depth::LayerLocal)?;
            let ostl = credit_ostl::gradient(&stack, &p, &seq)?;
            let rtrl = credit_rtrl::stack::gradient(&stack, &p, &seq)?;
            Ok((bptt, deep, local, ostl, rtrl))
        };
        let (bptt, deep, local, ostl, rtrl) = match run() {
            Ok(x) => x,
            Err(e) => {
                eprintln!("deep-table: {e}");
                return ExitCode::from(2);
            }
        };
        let (n, d) = (stack.layers[0].n as u64, stack.layers[0].cell.state_dim() as u64);
        let p_tot = stack.p_cells() as u64;
        out!(
            "L = {depth}  ({}, P_cells = {p_tot}; estimate Σ_k N_k·d·P_tot = {} floats ≈ O(L²N³))",
            stack.id(),
            depth as u64 * n * d * p_tot
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
        let steps = seq.len() as u64;
        let rules: [(&str, &Params<f64>, u64, u64); 4] = [
            ("deep e-prop", &deep.grad, deep.floats, deep.madds / steps),
            ("e-prop layer-wise", &local.grad, local.floats, local.madds / steps),
            ("OSTL", &ostl.grad, ostl.floats, ostl.madds / steps),
            ("RTRL (exact)", &rtrl.grad, rtrl.floats, rtrl.madds / steps),
        ];
        for (name, g, floats, madds) in rules {
            for l in 0..depth {
                let (cos, err) = layer_stats(g, &bptt.grad, stack.layer_tensors(l));
                if l == 0 {
                    out!(
                        "  {:<22} {:>5}  {:>10.6}  {:>10.2e}  {:>12}  {:>14}",
                        name,
                        l + 1,
                        cos,
                        err,
                        floats,
                        madds
                    );
                } else {
                    out!("  {:<22} {:>5}  {:>10.6}  {:>10.2e}", "", l + 1, cos, err);
                }
            }
        }
        let bptt_floats = steps * stack.layers.iter().map(|l| (l.n * l.cell.state_dim()) as u64).sum::<u64>();
        out!(
            "  {:<22} {:>5}  {:>10}  {:>10}  {:>12}  {:>14}",
            "BPTT (reference)",
            "all",
            "1",
            "0",
            bptt_floats,
            "-"
        );
        out!("");
    }
    ExitCode::SUCCESS
}
