//! `family-table`: the m-order family on one fixed config per cell, `m = 0 … T−1`: cosine
//! similarity and relative error to the exact gradient, floats held and multiply-adds per step
//! (counted by the recursion), next to the theoretical orders of `docs/family.md` §3.
//! Usually invoked as `cargo xtask family-table`.

use clap::Parser;
use credit_check::budget::{Sizes, family_table};
use credit_check::out;
use credit_check::suite::{alif, lif, lstm, rate};
use credit_core::cell::Reset;
use credit_core::{CellModel, Loss, Network, Params, Readout, Sequence};
use credit_family::{Reading, recursion};
use std::process::ExitCode;

/// Prints the family table.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Neurons N.
    #[arg(long, default_value_t = 8)]
    n: usize,
    /// Sequence length T.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Seed of parameters and data.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Reading of "order": hop-count (default), last-step-hop (MDGL-like) or time-lag.
    #[arg(long, default_value = "hop-count")]
    reading: String,
    /// Use this fixture's config, weights and inputs instead of the four built-in cells.
    #[arg(long, value_name = "DIR")]
    fixture: Option<std::path::PathBuf>,
    #[command(flatten)]
    limits: credit_check::budget::Limits,
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
    let args: Args = match credit_check::cli::parse("family-table") {
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
    let mut cases = Vec::new();
    match &args.fixture {
        Some(dir) => match credit_check::fixtures::read_any_limited(dir, &args.limits) {
            Ok(credit_check::fixtures::AnyFixture::Single(fx)) => cases.push((fx.net, fx.params, fx.seq)),
            Ok(credit_check::fixtures::AnyFixture::Stack(_)) => {
                eprintln!(
                    "family-table: {} is a stack fixture; the family table is for single layers (see deep-table)",
                    dir.display()
                );
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("family-table: {e}");
                return ExitCode::from(2);
            }
        },
        None => {
            for cell in [rate(0.5), lif(0, Reset::Differentiated), alif(0, Reset::Differentiated), lstm()] {
                let sized = Network::new(cell, 3, args.n, 2, Readout::leaky(0.8), Loss::Mse);
                if let Ok(net) = &sized
                    && let Err(e) = args
                        .limits
                        .check("the family table", family_table(&Sizes::of_network(net, args.steps)))
                {
                    eprintln!("family-table: {e}");
                    return ExitCode::from(2);
                }
                let built = sized.and_then(|net| {
                    let p = Params::<f64>::random(&net, args.seed)?;
                    let seq = Sequence::random(&net, args.steps, args.seed)?;
                    Ok((net, p, seq))
                });
                match built {
                    Ok(c) => cases.push(c),
                    Err(e) => {
                        eprintln!("family-table: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
        }
    }
    for (net, _, seq) in &cases {
        if let Err(e) =
            args.limits.check("the family table", family_table(&Sizes::of_network(net, seq.len())))
        {
            eprintln!("family-table: {e}");
            return ExitCode::from(2);
        }
    }
    let what = match &args.fixture {
        Some(d) => format!("fixture {}", d.display()),
        None => format!("N = {}, T = {}, seed {}", args.n, args.steps, args.seed),
    };
    out!("m-order e-prop family (a reconstruction, docs/family.md), reading {}, {what}", args.reading);
    out!(
        "theory (dense net, P ≈ N² per neuron row set): m = 0: memory O(d·P), compute O(d²·P); m = 1: O(N³), O(N³); m ≥ 2: O(m·N³), O(m·N⁴)\n"
    );
    for (net, p, seq) in cases {
        let exact = match credit_bptt::gradient(&net, &p, &seq) {
            Ok(b) => b.grad,
            Err(e) => {
                eprintln!("family-table: {e}");
                return ExitCode::from(2);
            }
        };
        let nc = net.n_cell_tensors();
        let (d, pl, pc) = (net.d(), net.p_loc(), net.p_cell());
        out!("cell {} (d = {d}, P_loc = {pl}, P_cell = {pc})", net.cell.id());
        out!(
            "  {:>3}  {:>10}  {:>10}  {:>10}  {:>12}  {:>18}",
            "m",
            "cosine",
            "rel. err",
            "floats",
            "madds/step",
            "theory madds/step"
        );
        for m in 0..seq.len() {
            let g = match recursion::gradient(&net, &p, &seq, m, reading) {
                Ok(g) => g,
                Err(e) => {
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
            let (d, pl, pc) = (d as u64, pl as u64, pc as u64);
            // the leading terms of Eqs. (F1)–(F2): level 0, the first hop (block-sparse Z^{(0)}),
            // then one dense hop per further order
            let theory = n * d * d * pl
                + if m >= 1 { n * d * n * pl + n * d * d * pc } else { 0 }
                + (m.saturating_sub(1) as u64) * (n * d * n * pc + n * d * d * pc);
            out!(
                "  {:>3}  {:>10.6}  {:>10.2e}  {:>10}  {:>12}  {:>18}",
                m,
                cosine(&g.grad, &exact, nc),
                err,
                g.cost.floats,
                g.cost.madds / seq.len() as u64,
                theory
            );
        }
        out!();
    }
    out!(
        "rel. err = max over cell tensors of max|a − b| / max|b| against BPTT; the error need not fall monotonically in m."
    );
    ExitCode::SUCCESS
}
