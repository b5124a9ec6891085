//! `train`: trains a model on a seeded task with any rule of the workspace and writes the
//! learning curve as `curve.csv`, `curve.json` and `curve.svg` in `--out DIR`
//! (`docs/training.md` §7). One-line errors and exit 2 for bad arguments.

use clap::Parser;
use credit_check::cli::{self, non_negative};
use credit_check::out;
use credit_train::{Clip, Optimizer, Reduction, Rule, Trainer, output, tasks};
use std::path::PathBuf;
use std::process::ExitCode;

/// Train a recurrent network on a seeded task with any rule of the workspace (BPTT, RTRL, e-prop
/// symmetric/random/adaptive, family-M, deep, ostl, snap-N, ebptt-L, fbptt-L, rflo, kernl,
/// kernl-fixed, uoro, kf-rtrl, rkf-rtrl, mdgl) and write the learning curve (CSV, JSON, SVG).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Task: sine, evidence, store-recall, copy, adding.
    #[arg(long)]
    task: String,
    /// Cell: rate, lif, alif, lstm (default: lif for sine, alif for evidence, rate otherwise).
    #[arg(long)]
    cell: Option<String>,
    /// Rule: bptt, rtrl, eprop-symmetric, eprop-random, eprop-adaptive, family-M, deep, ostl,
    /// snap-N (SnAp order N ≥ 1), ebptt-L, fbptt-L (window L ≥ 1), rflo, kernl (learns A, α),
    /// kernl-fixed, uoro, kf-rtrl, rkf-rtrl, mdgl. RFLO, KeRNL and KF-RTRL need --cell rate; the
    /// noise of UORO, KF-RTRL, R-KF-RTRL and KeRNL is seeded per sequence from --seed.
    #[arg(long, default_value = "bptt")]
    rule: String,
    /// Preset: default (every task), nest (sine, evidence).
    #[arg(long, default_value = "default")]
    preset: String,
    /// Number of updates (default: the preset's).
    #[arg(long, value_parser = non_negative::<usize>)]
    iterations: Option<usize>,
    /// Seed of the task, the initial parameters, the feedback matrix, the batches and the noise
    /// stream (one seed per sequence for UORO, KF-RTRL, R-KF-RTRL and KeRNL).
    #[arg(long, default_value_t = 1, value_parser = non_negative::<u64>)]
    seed: u64,
    /// Learning rate (default: the preset's).
    #[arg(long)]
    lr: Option<f64>,
    /// Optimiser: sgd, adam (default: the preset's).
    #[arg(long)]
    optimizer: Option<String>,
    /// Sequences per update (default: the preset's).
    #[arg(long, value_parser = non_negative::<usize>)]
    batch: Option<usize>,
    /// Gradient reduction over a batch: sum, mean (default: the preset's).
    #[arg(long)]
    reduction: Option<String>,
    /// Tensors not trained, comma-separated (e.g. b,b_out); replaces the preset's list.
    #[arg(long)]
    freeze: Option<String>,
    /// Clip every weight tensor (`w_*`) to [−W, W] after each update; replaces the preset's bounds.
    #[arg(long)]
    clip: Option<f64>,
    /// Layers (≥ 2 builds a stack; deep and ostl always train a stack).
    #[arg(long, default_value_t = 1, value_parser = non_negative::<usize>)]
    layers: usize,
    /// Log the cosine of the rule's gradient to BPTT's at every update.
    #[arg(long)]
    cosine: bool,
    /// Compute every gradient with the rules' literal transcriptions instead of their fast paths
    /// (equal to ~1e-15; the literal code is 5–20× slower).
    #[arg(long)]
    literal: bool,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
}

const TOOL: &str = "train";

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("{TOOL}: {msg}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let a = match cli::parse::<Args>(TOOL) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let rule = match Rule::parse(&a.rule) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let cell = a.cell.clone().unwrap_or_else(|| {
        match a.task.as_str() {
            "sine" => "lif",
            "evidence" => "alif",
            _ => "rate",
        }
        .to_string()
    });
    let s = match tasks::setup(&a.task, &cell, &a.preset, rule, a.layers, a.seed) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let mut config = s.config.clone();
    if let Some(k) = a.iterations {
        config.iterations = k;
    }
    if let Some(lr) = a.lr {
        config.lr = lr;
    }
    if let Some(b) = a.batch {
        config.batch = b;
    }
    config.cosine = a.cosine;
    if a.literal {
        config.path = credit_train::rule::Path::Literal;
    }
    if let Some(o) = &a.optimizer {
        match Optimizer::parse(o) {
            Ok(o) => config.optimizer = o,
            Err(e) => return fail(e),
        }
    }
    if let Some(r) = &a.reduction {
        match Reduction::parse(r) {
            Ok(r) => config.reduction = r,
            Err(e) => return fail(e),
        }
    }
    if let Some(f) = &a.freeze {
        config.frozen = f.split(',').filter(|x| !x.is_empty()).map(str::to_string).collect();
    }
    if let Some(w) = a.clip {
        if !(w.is_finite() && w > 0.0) {
            return fail(format!("--clip {w}: the bound must be finite and > 0"));
        }
        config.clip = s
            .model
            .tensor_shapes()
            .iter()
            .filter(|(n, _, _)| n.contains("w_"))
            .map(|(n, _, _)| Clip { tensor: n.to_string(), lo: -w, hi: w })
            .collect();
    }
    let settings = serde_json::json!({
        "task": s.task.name, "cell": cell, "model": s.model.id(), "rule": rule.name(), "preset": s.preset,
        "seed": a.seed, "lr": config.lr, "optimizer": config.optimizer.name(), "iterations": config.iterations,
        "batch": config.batch, "reduction": config.reduction, "frozen": config.frozen, "clip": config.clip,
        "steps": s.task.steps(), "layers": a.layers,
    });
    let mut trainer = match Trainer::new(s.model, s.params, config) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    if let Err(e) = std::fs::create_dir_all(&a.out) {
        return fail(format!("--out {}: cannot create: {e}", a.out.display()));
    }
    let files: Vec<cli::OutputFile> = match ["curve.csv", "curve.json", "curve.svg"]
        .iter()
        .map(|f| cli::OutputFile::create(TOOL, "--out", &a.out.join(f)))
        .collect()
    {
        Ok(f) => f,
        Err(code) => return code,
    };
    let bar = cli::progress(trainer.config.iterations as u64, "updates");
    let summary = match trainer.run(&s.task, |r| {
        bar.inc(1);
        bar.set_message(format!("task loss {:.3e}", r.task_loss));
    }) {
        Ok(x) => x,
        Err(e) => {
            bar.finish_and_clear();
            eprintln!("{TOOL}: training failed: {e}");
            return ExitCode::from(1);
        }
    };
    bar.finish_and_clear();
    let title = format!("{} · {} · {}", s.task.name, trainer.model.id(), rule.name());
    let svg = match output::svg(&title, &trainer.log) {
        Ok(svg) => svg,
        Err(e) => {
            eprintln!("{TOOL}: plot failed: {e}");
            return ExitCode::from(1);
        }
    };
    let contents = [output::csv(&trainer.log), output::json(settings, &summary, &trainer.log), svg];
    for (f, c) in files.into_iter().zip(contents) {
        if let Err(code) = f.write(TOOL, &c) {
            return code;
        }
    }
    out!(
        "train: {} {} {}: task loss {:.4e} -> {:.4e} ({:.1}x lower) in {} updates, {:.3} s/update; {}/curve.{{csv,json,svg}}",
        s.task.name,
        trainer.model.id(),
        rule.name(),
        summary.before.task_loss,
        summary.after.task_loss,
        summary.reduction_factor,
        trainer.config.iterations,
        summary.seconds_per_iteration,
        a.out.display()
    );
    ExitCode::SUCCESS
}
