//! The stacked-network relations (issue 5, first slice): `bptt=oracle`, `rtrl=oracle` and
//! `rtrl=bptt` on stacks of 2–3 layers of rate, LIF, ALIF (and LSTM) cells, with same-step and
//! delayed inter-layer input and readouts from the top or from every layer. Cell ids are
//! `stack(<cell>,…)`.

use crate::compare::{Liveness, alive, max_rel_err};
use crate::relations::{Expect, Row, TOL_F64};
use crate::suite::{alif, lif, lstm, rate};
use credit_core::cell::Reset;
use credit_core::stack::{InterLayer, Layer, ReadoutFrom, Stack};
use credit_core::{CellModel, Detach, Edges, Loss, Params, Readout};

/// One stack config.
#[derive(Clone, Debug)]
pub struct StackConfig {
    /// Name shown in the `config` column.
    pub name: String,
    /// The stack.
    pub stack: Stack,
    /// Sequence length.
    pub steps: usize,
    /// Seed of parameters and data.
    pub seed: u64,
}

fn make(
    name: &str,
    layers: Vec<(credit_core::Cell, usize)>,
    inter: InterLayer,
    from: ReadoutFrom,
    steps: usize,
    seed: u64,
) -> StackConfig {
    let layers = layers.into_iter().map(|(cell, n)| Layer { cell, n }).collect();
    let mut stack =
        Stack::new(layers, 3, 2, Readout::leaky(0.9), Loss::Mse).expect("built-in stacks are valid");
    stack.inter = inter;
    stack.readout_from = from;
    StackConfig { name: name.to_string(), stack, steps, seed }
}

/// The built-in stacks.
pub fn builtin_stacks() -> Vec<StackConfig> {
    let d = Reset::Differentiated;
    vec![
        make(
            "n4x2-t12",
            vec![(rate(0.5), 4), (rate(0.3), 4)],
            InterLayer::SameStep,
            ReadoutFrom::Top,
            12,
            201,
        ),
        make(
            "n5x2-t16",
            vec![(lif(0, d), 5), (alif(0, d), 5)],
            InterLayer::SameStep,
            ReadoutFrom::Top,
            16,
            202,
        ),
        make(
            "n4x3-t16-delay",
            vec![(lif(1, d), 4), (lif(0, Reset::Detached), 4), (lif(0, d), 4)],
            InterLayer::OneStep,
            ReadoutFrom::Top,
            16,
            213,
        ),
        make(
            "n4x3-t16-read-all",
            vec![(alif(0, d), 4), (rate(0.5), 4), (alif(1, d), 4)],
            InterLayer::SameStep,
            ReadoutFrom::All,
            16,
            204,
        ),
        make("n3x2-t10", vec![(rate(0.5), 3), (lstm(), 3)], InterLayer::SameStep, ReadoutFrom::Top, 10, 205),
    ]
}

/// Liveness of a stack: spikes in every spiking layer (and not always), a non-zero surrogate
/// somewhere in every layer, and a non-trivial gradient.
fn liveness(
    cfg: &StackConfig,
    p: &Params<f64>,
    seq: &credit_core::Sequence,
    grad: &Params<f64>,
) -> credit_core::Result<(Liveness, bool)> {
    let traj = cfg.stack.forward(p, seq, &Edges::default())?;
    let (mut spikes, mut active, mut outputs, mut ok) = (0, 0, 0, true);
    for (layer, lt) in cfg.stack.layers.iter().zip(&traj.layers) {
        let s: usize = lt.z[1..].iter().map(|z| z.iter().filter(|v| **v > 0.5).count()).sum();
        let a: usize = lt.states[1..]
            .iter()
            .map(|st| {
                let zh = layer.cell.output_jacobian(st);
                (0..layer.n).filter(|&j| zh.row(j).iter().any(|v| *v != 0.0)).count()
            })
            .sum();
        let o = layer.n * seq.len();
        if layer.cell.is_spiking() {
            spikes += s;
            ok &= s > 0 && s < o;
        }
        ok &= a > 0;
        active += a;
        outputs += o;
    }
    let grad_norm = grad.tensors.iter().map(|t| t.value.norm_squared()).sum::<f64>().sqrt();
    ok &= grad_norm > 1e-8;
    let spiking = cfg.stack.layers.iter().any(|l| l.cell.is_spiking());
    Ok((Liveness { spiking, spikes, active_derivatives: active, outputs, grad_norm }, ok))
}

/// Evaluates the stack relations on one config.
pub fn run_stack(cfg: &StackConfig) -> credit_core::Result<Vec<Row>> {
    let stack = &cfg.stack;
    let p = stack.random_params(cfg.seed)?;
    let seq = stack.random_sequence(cfg.steps, cfg.seed)?;
    let oracle = credit_oracle::gradient_of(stack, &p, &seq, Detach::default())?;
    let (live, live_ok) = liveness(cfg, &p, &seq, &oracle.grad)?;
    let bptt = credit_bptt::stack::gradient(stack, &p, &seq)?;
    let rtrl = credit_rtrl::stack::gradient(stack, &p, &seq)?;
    let mut rows = Vec::new();
    for (relation, a, b) in [
        ("bptt=oracle", &bptt.grad, &oracle.grad),
        ("rtrl=oracle", &rtrl.grad, &oracle.grad),
        ("rtrl=bptt", &rtrl.grad, &bptt.grad),
    ] {
        for (ta, tb) in a.tensors.iter().zip(&b.tensors) {
            let err = max_rel_err(&ta.value, &tb.value);
            rows.push(Row {
                relation,
                expect: Expect::Equal,
                cell: stack.id(),
                config: cfg.name.clone(),
                scalar: "f64",
                tensor: ta.name.to_string(),
                max_rel_err: err,
                tolerance: TOL_F64,
                pass: err <= TOL_F64 && live_ok && alive(&tb.value),
                liveness: live,
            });
        }
    }
    Ok(rows)
}
