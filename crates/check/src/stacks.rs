//! The stacked-network relations (issue 5): `bptt=oracle`, `rtrl=oracle` and `rtrl=bptt` on
//! stacks of 2–3 layers of rate, LIF, ALIF (and LSTM) cells, with same-step and delayed
//! inter-layer input and readouts from the top or from every layer; and deep e-prop (a
//! reconstruction, `docs/deep.md` §6): `deep=oracle-detached` (equal to the exact gradient of
//! the graph with every within-layer `z^{t−1}` detached), `deep!=bptt` (generic stacks, expect
//! differ), `deep=bptt@R0` (no within-layer recurrence and the reset detached in every layer);
//! OSTL: `ostl=oracle-detached` (every tensor equals the exact gradient of the graph in which,
//! for a parameter of layer `l`, every temporal edge of every layer above `l` is detached: the
//! stop-gradient form (O-D) of `docs/deep.md` §7, by the oracle's `gradient_cut` (O7)),
//! `ostl-top=bptt` (the top layer and the readout are exact), `ostl=bptt` (every tensor, on the
//! stacks whose layers above the first have no memory: rate `α = 1`, `W_rec = 0`),
//! `ostl-lower!=bptt` (lower layers differ when the layers above are leaky: every other stack).
//! Cell ids are `stack(<cell>,…)`.

use crate::compare::{Liveness, alive, max_rel_err, worst_tensor};
use crate::relations::{Expect, Row, Select, TOL_F64};
use crate::suite::{alif, lif, lstm, rate};
use credit_core::cell::{InputScale, RefractoryPsi, Reset, Surrogate};
use credit_core::stack::{InterLayer, Layer, LayerCut, ReadoutFrom, Stack};
use credit_core::{Detach, Edges, Loss, Params, Readout, ReadoutDelay, ReadoutScale, Tensor};

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
    /// `W_rec = 0` in every layer.
    pub no_recurrence: bool,
    /// `W_rec = 0` in every layer above the first (with rate cells of `α = 1` there, the layers
    /// above the first have no memory: OSTL must be BPTT).
    pub memoryless_upper: bool,
    /// Explicit parameters and sequence (a fixture's) instead of drawing them from the seed.
    pub data: Option<(Params<f64>, credit_core::Sequence)>,
}

/// The config of a stack fixture read from disk (`--fixture DIR`).
pub fn from_fixture(fx: &crate::fixtures::stack::StackFixture) -> StackConfig {
    StackConfig {
        name: format!("fixture:{}", fx.config.name),
        stack: fx.stack.clone(),
        steps: fx.seq.len(),
        seed: fx.config.seed,
        no_recurrence: false,
        memoryless_upper: false,
        data: Some((fx.params.clone(), fx.seq.clone())),
    }
}

impl StackConfig {
    /// This stack as JSON, with the keys of a stack fixture's `config.json` (`layers` with each
    /// layer's cell spec, `inter_layer`, `readout_from`, …; the serialiser
    /// `StackFixtureConfig::describe`) and how its data are drawn (as
    /// [`crate::suite::Config::spec`]; `init_scale` is `null`: each layer uses its cell's
    /// default gains).
    pub fn spec(&self) -> serde_json::Value {
        let training = crate::fixtures::config::TrainingSpec::plain(0.0, 0);
        let fx = crate::fixtures::stack::StackFixtureConfig::describe(
            &self.name,
            crate::suite::preset_label(&self.name),
            &self.stack,
            self.steps,
            self.seed,
            training,
        );
        let fx = serde_json::to_value(fx).unwrap_or(serde_json::Value::Null);
        let style = credit_core::SequenceStyle::default();
        crate::suite::spec_json(fx, self.data.is_some(), None, self.no_recurrence, style)
    }
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
    StackConfig {
        name: name.to_string(),
        stack,
        steps,
        seed,
        no_recurrence: false,
        memoryless_upper: false,
        data: None,
    }
}

fn memoryless_upper(mut c: StackConfig) -> StackConfig {
    c.memoryless_upper = true;
    c
}

/// `cell` (LIF or ALIF) with its spiking conventions and parameters changed by `f`; the
/// stacks' share of the convention coverage (`docs/relations.md` §4).
fn tweak(cell: credit_core::Cell, f: impl FnOnce(&mut credit_core::cell::Spiking)) -> credit_core::Cell {
    use credit_core::Cell;
    match cell {
        Cell::Lif(mut c) => {
            f(&mut c.spiking);
            Cell::Lif(c)
        }
        Cell::Alif(mut c) => {
            f(&mut c.spiking);
            Cell::Alif(c)
        }
        other => other,
    }
}

/// The same stack with readout decay `κ`, prefactor `c` and delay `δ`.
fn readout(mut c: StackConfig, kappa: f64, scale: ReadoutScale, delay: ReadoutDelay) -> StackConfig {
    c.stack.readout.kappa = kappa;
    c.stack.readout.scale = scale;
    c.stack.readout.delay = delay;
    c
}

fn no_rec(mut c: StackConfig) -> StackConfig {
    c.no_recurrence = true;
    c
}

/// The built-in stacks. Seeds of the spiking stacks were found by search so that every layer
/// passes the liveness guard ([`Liveness::verdict`]; `docs/relations.md` §4).
pub fn builtin_stacks() -> Vec<StackConfig> {
    let d = Reset::Differentiated;
    // non-default conventions and parameters in the spiking layers (every value of every
    // convention appears in some stack layer; `tests/coverage.rs`)
    let lif_exp = tweak(lif(0, d), |sp| {
        sp.surrogate = Surrogate::Exponential { gamma: 0.5, beta: 2.0 };
        sp.v_th = 0.8;
    });
    let alif_fs_keep = tweak(alif(2, d), |sp| {
        sp.surrogate = Surrogate::FastSigmoid { gamma: 0.4, beta: 2.5 };
        sp.refractory_psi = RefractoryPsi::Keep;
    });
    let lif_arctan = tweak(lif(1, d), |sp| sp.surrogate = Surrogate::ArcTan { gamma: 0.5, beta: 1.5 });
    let lif_zeta = tweak(lif(0, Reset::Detached), |sp| {
        sp.alpha = (-0.5f64).exp(); // τ_m = 2 steps: ζ = 1 − α ≈ 0.39
        sp.input_scale = InputScale::OneMinusAlpha;
        sp.v_th = 0.4;
    });
    let lif_ref2 = lif(2, d);
    let alif_pl = match tweak(alif(0, d), |sp| {
        sp.surrogate = Surrogate::PiecewiseLinear { gamma: 0.5 };
        sp.v_th = 1.3;
    }) {
        credit_core::Cell::Alif(a) => {
            credit_core::Cell::Alif(credit_core::cell::Alif { rho: (-1.0f64 / 30.0).exp(), beta: 0.8, ..a })
        }
        other => other,
    };
    vec![
        make(
            "n4x2-t12",
            vec![(rate(0.5), 4), (rate(0.3), 4)],
            InterLayer::SameStep,
            ReadoutFrom::Top,
            12,
            201,
        ),
        readout(
            make(
                "n5x2-t16",
                vec![(lif_exp, 5), (alif_fs_keep, 5)],
                InterLayer::SameStep,
                ReadoutFrom::Top,
                16,
                6070,
            ),
            0.8,
            ReadoutScale::OneMinusKappa,
            ReadoutDelay::SameStep,
        ),
        readout(
            make(
                "n4x3-t16-delay",
                vec![(lif_arctan, 4), (lif_zeta, 4), (lif_ref2, 4)],
                InterLayer::OneStep,
                ReadoutFrom::Top,
                16,
                7637,
            ),
            0.7,
            ReadoutScale::One,
            ReadoutDelay::OneStep,
        ),
        make(
            "n4x3-t16-read-all",
            vec![(alif_pl, 4), (rate(0.5), 4), (alif(1, d), 4)],
            InterLayer::SameStep,
            ReadoutFrom::All,
            16,
            8154,
        ),
        make("n3x2-t10", vec![(rate(0.5), 3), (lstm(), 3)], InterLayer::SameStep, ReadoutFrom::Top, 10, 205),
        // R ≡ 0 in every layer: deep e-prop must be BPTT
        no_rec(make(
            "n4x2-t12-wrec0",
            vec![(rate(0.5), 4), (rate(0.3), 4)],
            InterLayer::SameStep,
            ReadoutFrom::Top,
            12,
            206,
        )),
        no_rec(make(
            "n5x2-t16-wrec0-reset-detached",
            vec![(lif(0, Reset::Detached), 5), (alif(0, Reset::Detached), 5)],
            InterLayer::SameStep,
            ReadoutFrom::Top,
            16,
            11693,
        )),
        no_rec(make(
            "n4x3-t12-wrec0-delay",
            vec![(alif(0, Reset::Detached), 4), (rate(0.5), 4), (lif(0, Reset::Detached), 4)],
            InterLayer::OneStep,
            ReadoutFrom::All,
            12,
            12007,
        )),
        // no memory above the first layer (rate α = 1, W_rec = 0 there): OSTL must be BPTT
        memoryless_upper(make(
            "n4x2-t12-upper-memoryless",
            vec![(lif(0, d), 4), (rate(1.0), 4)],
            InterLayer::SameStep,
            ReadoutFrom::Top,
            12,
            221,
        )),
        memoryless_upper(make(
            "n4x3-t12-upper-memoryless-delay-read-all",
            vec![(alif(0, d), 4), (rate(1.0), 4), (rate(1.0), 3)],
            InterLayer::OneStep,
            ReadoutFrom::All,
            12,
            222,
        )),
    ]
}

/// Liveness of a stack: every layer is judged on its own by [`Liveness::verdict`] (its
/// trajectory and its own gradient tensors); the returned evidence sums the layers, and the
/// reason of a failure names the first layer that fails (`layer 1` is the bottom).
fn liveness(
    cfg: &StackConfig,
    p: &Params<f64>,
    seq: &credit_core::Sequence,
    grad: &Params<f64>,
) -> credit_core::Result<(Liveness, Result<(), String>)> {
    let traj = cfg.stack.forward(p, seq, &Edges::default())?;
    let mut total: Option<Liveness> = None;
    let mut verdict = Ok(());
    for (l, (layer, lt)) in cfg.stack.layers.iter().zip(&traj.layers).enumerate() {
        let tensors = &grad.tensors[cfg.stack.layer_tensors(l)];
        let live = Liveness::of_run(&layer.cell, &lt.states, &lt.z, tensors);
        if verdict.is_ok() {
            verdict = live.verdict(&layer.cell).map_err(|e| format!("layer {}: {e}", l + 1));
        }
        match &mut total {
            None => total = Some(live),
            Some(t) => t.add_layer(&live),
        }
    }
    let total = total.ok_or_else(|| credit_core::Error::Empty { field: "stack.layers".into() })?;
    Ok((total, verdict))
}

/// The ids of the relations that run on stacks.
pub const IDS: &[&str] = &[
    "bptt=oracle",
    "rtrl=oracle",
    "rtrl=bptt",
    "deep=oracle-detached",
    "deep=bptt@R0",
    "deep!=bptt",
    "ostl-top=bptt",
    "ostl=oracle-detached",
    "ostl=bptt",
    "ostl-lower!=bptt",
];

/// One stack instance handed to the fast paths' stack rows ([`crate::fast_forward`],
/// [`crate::fast_reverse`]): the stack, its parameters and sequence, the selection, and `row`,
/// which builds an `equal` row as the stack relations do from `(relation, scalar, tensor,
/// max_rel_err, tolerance, reference live)`.
#[derive(Clone, Copy)]
pub(crate) struct StackCase<'a> {
    /// The stack.
    pub stack: &'a Stack,
    /// Its parameters.
    pub p: &'a Params<f64>,
    /// Its sequence.
    pub seq: &'a credit_core::Sequence,
    /// The selected relations.
    pub sel: Select<'a>,
    /// The row builder.
    pub row: &'a dyn Fn(&'static str, &'static str, String, f64, f64, bool) -> Row,
}

/// Evaluates the stack relations on one config.
pub fn run_stack(cfg: &StackConfig) -> credit_core::Result<Vec<Row>> {
    run_stack_selected(cfg, Select::ALL)
}

/// Evaluates the selected stack relations on one config (`check-gradients --relations`): a
/// stack is cheap, so every relation is computed when one is selected, and the rows of the
/// others are dropped; nothing is computed when none of [`IDS`] is selected.
pub fn run_stack_selected(cfg: &StackConfig, select: Select) -> credit_core::Result<Vec<Row>> {
    if !select.any(IDS)
        && !select.any(crate::fast_forward::IDS)
        && !select.any(crate::fast_reverse::STACK_IDS)
    {
        return Ok(Vec::new());
    }
    let stack = &cfg.stack;
    let (mut p, seq) = match &cfg.data {
        Some((p, s)) => (p.clone(), s.clone()),
        None => (stack.random_params(cfg.seed)?, stack.random_sequence(cfg.steps, cfg.seed)?),
    };
    if cfg.no_recurrence || cfg.memoryless_upper {
        let first = if cfg.no_recurrence { 0 } else { 1 };
        for l in first..stack.layers.len() {
            for k in stack.layer_tensors(l) {
                if p.tensors[k].name.contains(".w_rec") {
                    p.tensors[k].value.fill(0.0);
                }
            }
        }
    }
    let oracle = credit_oracle::gradient_of(stack, &p, &seq, Detach::default())?;
    let (live, live_verdict) = liveness(cfg, &p, &seq, &oracle.grad)?;
    let live_ok = live_verdict.is_ok();
    let spec = cfg.spec();
    let row_in = |scalar: &'static str,
                  relation: &'static str,
                  expect: Expect,
                  tensor: String,
                  err: f64,
                  tol: f64,
                  reference: bool| Row {
        relation,
        expect,
        cell: stack.id(),
        config: cfg.name.clone(),
        scalar,
        tensor,
        max_rel_err: err,
        tolerance: tol,
        pass: live_ok && reference && expect.holds(err, tol),
        liveness: live,
        reason: crate::relations::reason(&live_verdict, reference),
        spec: spec.clone(),
    };
    // the fast forward-mode paths against the literal ones (issue 11)
    let eq = |relation, scalar, tensor, err, tol, reference| {
        row_in(scalar, relation, Expect::Equal, tensor, err, tol, reference)
    };
    let case = StackCase { stack, p: &p, seq: &seq, sel: select, row: &eq };
    let mut rows = if select.any(crate::fast_forward::IDS) {
        crate::fast_forward::stack_rows(&case)?
    } else {
        Vec::new()
    };
    // fast BPTT through the stack against the literal one (issue 11)
    rows.extend(crate::fast_reverse::stack_rows(&case)?);
    if !select.any(IDS) {
        return Ok(rows);
    }
    let bptt = credit_bptt::stack::gradient(stack, &p, &seq)?;
    let rtrl = credit_rtrl::stack::gradient(stack, &p, &seq)?;
    let deep = credit_deep::gradient(stack, &p, &seq)?;
    let cut = credit_oracle::gradient_of(
        stack,
        &p,
        &seq,
        Detach { recurrent: true, reset: true, adaptation: false },
    )?;
    let row = |relation, expect, tensor, err, tol, reference| {
        row_in("f64", relation, expect, tensor, err, tol, reference)
    };
    // one `equal` row per tensor: `a` against the reference `b`
    let equal = |relation: &'static str, a: &[Tensor<f64>], b: &[Tensor<f64>]| -> Vec<Row> {
        a.iter()
            .zip(b)
            .map(|(ta, tb)| {
                let err = max_rel_err(&ta.value, &tb.value);
                row(relation, Expect::Equal, ta.name.to_string(), err, TOL_F64, alive(&tb.value))
            })
            .collect()
    };
    rows.extend(equal("deep=oracle-detached", &deep.grad.tensors, &cut.grad.tensors));
    // deep e-prop vs BPTT: equal when no layer has a within-layer explicit path, else different
    let r_zero = cfg.no_recurrence
        && stack.layers.iter().all(|l| match &l.cell {
            credit_core::Cell::Lif(c) => c.spiking.reset == Reset::Detached,
            credit_core::Cell::Alif(c) => c.spiking.reset == Reset::Detached,
            _ => true,
        });
    let cells = 0..stack.tensor_shapes().len() - 2;
    if r_zero {
        rows.extend(equal("deep=bptt@R0", &deep.grad.tensors[cells.clone()], &bptt.grad.tensors[cells]));
    } else {
        let (worst, name, all_alive) =
            worst_tensor(&deep.grad.tensors[cells.clone()], &bptt.grad.tensors[cells]);
        let tensor = format!("max over cell tensors ({name})");
        rows.push(row("deep!=bptt", Expect::Differ, tensor, worst, crate::eprop::TOL_DIFFER, all_alive));
    }
    // OSTL: exact for the top layer (and the readout), different for lower layers under leaky
    // upper layers
    let ostl = credit_ostl::gradient(stack, &p, &seq)?;
    let nl = stack.layers.len();
    let top = stack.layer_tensors(nl - 1);
    let nt = p.tensors.len();
    for range in [top.clone(), nt - 2..nt] {
        rows.extend(equal("ostl-top=bptt", &ostl.grad.tensors[range.clone()], &bptt.grad.tensors[range]));
    }
    // OSTL = the exact gradient of the graph in which, for a parameter of layer l, every
    // temporal edge of every layer above l is a stop-gradient (Eq. O-D of docs/deep.md §7)
    let ostl_target = credit_oracle::gradient_cut(stack, &p, &seq, Detach::default(), |layer| {
        let above = |k: usize| layer.is_some_and(|l| k > l);
        (0..nl).map(|k| if above(k) { LayerCut::TEMPORAL } else { LayerCut::default() }).collect()
    })?;
    rows.extend(equal("ostl=oracle-detached", &ostl.grad.tensors, &ostl_target.grad.tensors));
    // no memory above the first layer (rate cells with α = 1 and W_rec = 0): OSTL drops nothing
    let memoryless = |l: usize| {
        let rate_1 = matches!(&stack.layers[l].cell, credit_core::Cell::Rate(r) if r.alpha >= 1.0); // α ∈ (0, 1]
        rate_1
            && stack
                .layer_tensors(l)
                .all(|k| !p.tensors[k].name.ends_with(".w_rec") || !alive(&p.tensors[k].value))
    };
    let upper_memoryless = nl > 1 && (1..nl).all(memoryless);
    if upper_memoryless {
        rows.extend(equal("ostl=bptt", &ostl.grad.tensors, &bptt.grad.tensors));
    }
    if nl > 1 && !upper_memoryless {
        let lower = 0..top.start;
        let (worst, name, all_alive) =
            worst_tensor(&ostl.grad.tensors[lower.clone()], &bptt.grad.tensors[lower]);
        let tensor = format!("max over lower-layer tensors ({name})");
        rows.push(row(
            "ostl-lower!=bptt",
            Expect::Differ,
            tensor,
            worst,
            crate::eprop::TOL_DIFFER,
            all_alive,
        ));
    }
    for (relation, a, b) in [
        ("bptt=oracle", &bptt.grad, &oracle.grad),
        ("rtrl=oracle", &rtrl.grad, &oracle.grad),
        ("rtrl=bptt", &rtrl.grad, &bptt.grad),
    ] {
        rows.extend(equal(relation, &a.tensors, &b.tensors));
    }
    // rtrl=bptt in Dual64: parameters carry a random direction in their dual parts, so the dual
    // parts of the two gradients are the derivative of the gradient along it
    let dir = stack.random_params(cfg.seed.wrapping_add(1000))?;
    let mut pd: Params<num_dual::Dual64> = p.cast();
    for (t, d) in pd.tensors.iter_mut().zip(&dir.tensors) {
        for (e, &v) in t.value.iter_mut().zip(d.value.iter()) {
            e.eps = v;
        }
    }
    let bd = credit_bptt::stack::gradient(stack, &pd, &seq)?;
    let rd = credit_rtrl::stack::gradient(stack, &pd, &seq)?;
    for (ta, tb) in rd.grad.tensors.iter().zip(&bd.grad.tensors) {
        for (label, part) in [("", 0usize), ("ε:", 1)] {
            let get =
                |m: &nalgebra::DMatrix<num_dual::Dual64>| m.map(|x| if part == 0 { x.re } else { x.eps });
            let (a, b) = (get(&ta.value), get(&tb.value));
            let err = max_rel_err(&a, &b);
            let tensor = format!("{label}{}", ta.name);
            rows.push(row_in("Dual64", "rtrl=bptt", Expect::Equal, tensor, err, TOL_F64, alive(&b)));
        }
    }
    rows.retain(|r| select.wants(r.relation));
    Ok(rows)
}
