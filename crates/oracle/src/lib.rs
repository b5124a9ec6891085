//! # credit-oracle
//!
//! The independent witness of the workspace: **exact** gradients by forward-mode dual numbers
//! pushed through the very forward code of `credit-core` ([`credit_core::forward_unchecked`]).
//! It knows nothing of BPTT, RTRL or any learning rule and depends on the core only.
//!
//! * [`gradient`]: `dE/dθ_p` for every parameter `p`, one `Dual` pass per parameter
//!   (passes spread over the machine's cores). Spikes carry the pseudo-derivative in their dual
//!   part, so this is exactly the surrogate-gradient reference ("BPTT with pseudo-derivatives").
//! * [`gradient`] with a [`Detach`]: the exact gradient of a *modified* graph in which chosen
//!   edges are stop-gradients — the target of approximate rules (e-prop's, property P4).
//! * [`learning_signals`]: the total learning signal `dE/dz_j^t` of Bellec et al. (2020) Eq. (1),
//!   by seeding an additive tap on `z_j^t`.
//! * [`readout_signals`]: `dE/du^t` of the readout drive `u^t = W_out z^{t−δ} + b_out`, by a
//!   tap on the drive — the readout error signal of e-prop's learning signal, from the forward
//!   code.
//! * [`output_tangents`]: `dz^t/dθ_p` for every parameter, one pass each (with a [`Detach`]).
//! * [`gradient_cut`]: the exact gradient of a stack whose stop-gradients depend on the layer
//!   of the parameter ([`LayerCut`]) — the target of OSTL.
//! * [`step_jacobians`]: dual-number Jacobians of one step, to check the hand-derived ones.
//! * [`finite_difference`]: central differences, a third opinion for smooth cells.
//! * [`ff_gradient`]: `dℓ/dθ` of a feedforward network ([`credit_core::feedforward`]) on one
//!   sample, through its forward code (`feedforward::forward_unchecked`) and the loss value
//!   [`FfLoss::eval`] only.
//!
//! ## Requirements
//! The scalar is a primitive float `F ∈ {f32, f64}`; passes run in `num_dual::Dual<F>`.
//! Cost: `P` forward passes, i.e. `O(P·T·N²)` for `P` parameters — the price of exactness.
//!
//! ## Reference
//! Dual numbers: Rehner & Bauer, *num-dual* (2021). The surrogate spike plays the role of the
//! custom gradient of the authors' TF `SpikeFunction` (Bellec et al. 2020, code); `docs/oracle.md`.
//!
//! ```
//! use credit_core::{cell::{Cell, Rate}, Detach, Loss, Network, Params, Readout, Sequence};
//! let net = Network::new(Cell::Rate(Rate { alpha: 0.5 }), 2, 3, 1, Readout::leaky(0.0), Loss::Mse)?;
//! let p = Params::<f64>::random(&net, 1)?;
//! let seq = Sequence::random(&net, 5, 1)?;
//! let g = credit_oracle::gradient(&net, &p, &seq, Detach::default())?;
//! let fd = credit_oracle::finite_difference(&net, &p, &seq, 1e-6)?;
//! // dE/dW_rec agrees with central differences
//! let (a, b) = (g.grad.get("w_rec").unwrap(), fd.get("w_rec").unwrap());
//! assert!((a - b).amax() < 1e-7);
//! # Ok::<(), credit_core::Error>(())
//! ```

use credit_core::feedforward::{self, FeedForward, FfLoss};
use credit_core::{
    CellModel, CellState, Detach, Edges, ForwardOptions, LayerCut, LocalJacobians, Model, Network, Params,
    Scalar, Sequence, Stack, Tap, TapSite, forward, forward_unchecked,
};
use nalgebra::{DMatrix, DVector};
use num_dual::{Dual, DualNumFloat};

/// The primitive floats the oracle runs on (`f32`, `f64`).
pub trait Primitive: Scalar + DualNumFloat + Send + Sync {}
impl<F: Scalar + DualNumFloat + Send + Sync> Primitive for F where Dual<F>: Scalar {}

/// Loss and its exact gradient.
#[derive(Clone, Debug, PartialEq)]
pub struct OracleGradient<F: Scalar> {
    /// `E`.
    pub loss: F,
    /// `dE/dθ`, same layout as the parameters.
    pub grad: Params<F>,
}

fn lift<F: Primitive>(p: &Params<F>) -> Params<Dual<F>>
where
    Dual<F>: Scalar,
{
    p.map(|x| Dual::new(x, F::zero()))
}

fn threads() -> usize {
    std::env::var("CREDIT_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Runs `f(k)` for `k in 0..count` on all cores and returns the results in order.
fn par_map<R: Send>(count: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let nt = threads().min(count.max(1));
    if nt <= 1 {
        return (0..count).map(f).collect();
    }
    let mut parts: Vec<Vec<(usize, R)>> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..nt)
            .map(|tid| {
                let f = &f;
                s.spawn(move || (tid..count).step_by(nt).map(|k| (k, f(k))).collect::<Vec<_>>())
            })
            .collect();
        for h in handles {
            parts.push(h.join().unwrap_or_default());
        }
    });
    let mut out: Vec<Option<R>> = (0..count).map(|_| None).collect();
    for (k, r) in parts.into_iter().flatten() {
        out[k] = Some(r);
    }
    out.into_iter().map(|r| r.expect("every index is computed by exactly one thread")).collect()
}

/// Exact `dE/dθ` of the graph with `detach` applied: one `Dual<F>` forward pass per parameter,
/// seeding `ε = 1` on that parameter (Eq. O1 of `docs/oracle.md`).
pub fn gradient<F: Primitive>(
    net: &Network,
    params: &Params<F>,
    seq: &Sequence,
    detach: Detach,
) -> credit_core::Result<OracleGradient<F>>
where
    Dual<F>: Scalar,
{
    gradient_of(net, params, seq, detach)
}

/// [`gradient`] for any [`Model`]: a single layer or a stack (Eq. O1).
pub fn gradient_of<F: Primitive, M: Model>(
    model: &M,
    params: &Params<F>,
    seq: &Sequence,
    detach: Detach,
) -> credit_core::Result<OracleGradient<F>>
where
    Dual<F>: Scalar,
{
    model.validate_all(params, seq)?;
    let base = lift(params);
    let edges = Edges::detached(detach);
    let loss = model.loss(&base, seq, &edges).re;
    let count = params.len();
    let derivs = par_map(count, |k| {
        let mut p = base.clone();
        let (ti, r, c) = p.locate(k).expect("k < P");
        p.tensors[ti].value[(r, c)].eps = F::one(); // seed θ_k
        model.loss(&p, seq, &edges).eps // dE/dθ_k
    });
    let mut grad: Params<F> = model.zeros();
    for (k, g) in derivs.into_iter().enumerate() {
        let (ti, r, c) = grad.locate(k).expect("k < P");
        grad.tensors[ti].value[(r, c)] = g;
    }
    Ok(OracleGradient { loss, grad })
}

/// Total learning signals `L_j^t = dE/dz_j^t`, `t = 0..=T` (entry 0 is zero), by an additive
/// tap `z_j^t + (0 + 1ε)` (Eq. O2). Every path from `z_j^t` counts: readout, recurrent input,
/// reset; the ALIF adaptation's own-spike path is neuron-local and belongs to `D`.
pub fn learning_signals<F: Primitive>(
    net: &Network,
    params: &Params<F>,
    seq: &Sequence,
    detach: Detach,
) -> credit_core::Result<Vec<DVector<F>>>
where
    Dual<F>: Scalar,
{
    let base = lift(params);
    forward(net, &base, seq, ForwardOptions::detached(detach))?;
    Ok(tap_signals(net, &base, seq, detach, TapSite::Output, net.n))
}

/// `dE/dv_i^t` for every step `t = 1..=T` and entry `i < width` of the tapped vector `v` at
/// `site` (the outputs `z`, or the readout drive), by an additive tap `v_i^t + (0 + 1ε)`: one
/// `Dual` pass per `(t, i)`, spread over the cores; entry 0 (`t = 0`) is zero. The inputs are
/// validated by the caller.
fn tap_signals<F: Primitive>(
    net: &Network,
    base: &Params<Dual<F>>,
    seq: &Sequence,
    detach: Detach,
    site: TapSite,
    width: usize,
) -> Vec<DVector<F>>
where
    Dual<F>: Scalar,
{
    let steps = seq.len();
    let vals = par_map(steps * width, |k| {
        let (t, j) = (k / width + 1, k % width);
        let tap = Tap { t, j, delta: Dual::new(F::zero(), F::one()), site };
        forward_unchecked(
            net,
            base,
            seq,
            ForwardOptions { tap: Some(tap), ..ForwardOptions::detached(detach) },
        )
        .loss
        .eps
    });
    let mut out = vec![DVector::zeros(width)];
    for t in 1..=steps {
        out.push(DVector::from_fn(width, |j, _| vals[(t - 1) * width + j]));
    }
    out
}

/// Readout signals `dE/du^t`, `t = 0..=T` (entry 0 is zero), of the readout drive
/// `u^t = W_out z^{t−δ} + b_out` of Eq. (Y1), by an additive tap `u_k^t + (0 + 1ε)` (Eq. O5):
/// one pass per `(t, k)`. The readout does not feed back into the network, so this is the
/// loss's sensitivity to the drive through the leaky filter alone, `c ȳ^t` of `docs/eprop.md`
/// (E4) — computed here from the forward code, not from that formula.
pub fn readout_signals<F: Primitive>(
    net: &Network,
    params: &Params<F>,
    seq: &Sequence,
) -> credit_core::Result<Vec<DVector<F>>>
where
    Dual<F>: Scalar,
{
    let base = lift(params);
    forward(net, &base, seq, ForwardOptions::default())?;
    Ok(tap_signals(net, &base, seq, Detach::default(), TapSite::ReadoutDrive, net.n_out))
}

/// Output tangents `dz^t/dθ_p` of the graph with `detach` applied, for every parameter `p`
/// (flat layout of `Params::locate`): entry `p` is an `N × (T+1)` matrix whose column `t` is
/// `dz^t/dθ_p` (column 0 is zero). One `Dual<F>` pass per parameter, seeding `ε = 1` on
/// `θ_p` and reading the dual parts of the stored outputs (Eq. O6).
pub fn output_tangents<F: Primitive>(
    net: &Network,
    params: &Params<F>,
    seq: &Sequence,
    detach: Detach,
) -> credit_core::Result<Vec<DMatrix<F>>>
where
    Dual<F>: Scalar,
{
    let base = lift(params);
    forward(net, &base, seq, ForwardOptions::detached(detach))?;
    let steps = seq.len();
    Ok(par_map(params.len(), |k| {
        let mut p = base.clone();
        let (ti, r, c) = p.locate(k).expect("k < P");
        p.tensors[ti].value[(r, c)].eps = F::one(); // seed θ_k
        let traj = forward_unchecked(net, &p, seq, ForwardOptions::detached(detach));
        DMatrix::from_fn(net.n, steps + 1, |j, t| traj.z[t][j].eps) // dz_j^t/dθ_k
    }))
}

/// Exact `dE/dθ` of a stack whose stop-gradients depend on the parameter: for parameter `p`
/// the pass detaches `detach` everywhere and, in layer `l`, the [`LayerCut`] `cuts(layer)[l]`,
/// where `layer` is the 0-based layer of `p` (`None` for the readout tensors). One `Dual<F>`
/// pass per parameter (Eq. O7); with `cuts` always empty this is [`gradient_of`].
pub fn gradient_cut<F: Primitive>(
    stack: &Stack,
    params: &Params<F>,
    seq: &Sequence,
    detach: Detach,
    cuts: impl Fn(Option<usize>) -> Vec<LayerCut> + Sync,
) -> credit_core::Result<OracleGradient<F>>
where
    Dual<F>: Scalar,
{
    stack.validate_all(params, seq)?;
    let base = lift(params);
    let edges = Edges::detached(detach);
    let loss = stack.forward_unchecked(&base, seq, &edges).loss.re;
    let layer_of = |ti: usize| (0..stack.layers.len()).find(|&l| stack.layer_tensors(l).contains(&ti));
    let derivs = par_map(params.len(), |k| {
        let mut p = base.clone();
        let (ti, r, c) = p.locate(k).expect("k < P");
        p.tensors[ti].value[(r, c)].eps = F::one(); // seed θ_k
        stack.forward_cut(&p, seq, &edges, &cuts(layer_of(ti))).loss.eps // dE'/dθ_k
    });
    let mut grad: Params<F> = stack.zeros();
    for (k, g) in derivs.into_iter().enumerate() {
        let (ti, r, c) = grad.locate(k).expect("k < P");
        grad.tensors[ti].value[(r, c)] = g;
    }
    Ok(OracleGradient { loss, grad })
}

/// Dense dual-number Jacobians of one step (Eq. O3): each column from one seeded pass.
#[derive(Clone, Debug, PartialEq)]
pub struct DualJacobians<F: Scalar> {
    /// `∂M/∂h^{t-1}`, `(N·d)×(N·d)` — must be block-diagonal.
    pub d: DMatrix<F>,
    /// `∂M/∂z^{t-1}`, `(N·d)×N`.
    pub m_z: DMatrix<F>,
    /// `∂M/∂θ_cell`, `(N·d)×P_cell`.
    pub i: DMatrix<F>,
    /// `∂z^t/∂h^t`, `N×(N·d)` — must be block-diagonal.
    pub z_h: DMatrix<F>,
    /// `∂M/∂x^t`, `(N·d)×N_in`.
    pub m_x: DMatrix<F>,
}

/// Dual-number Jacobians of the step that leaves `prev` with inputs `z_prev`, `x` (no edge
/// detached), and of the output at the state it produces.
pub fn step_jacobians<F: Primitive>(
    net: &Network,
    params: &Params<F>,
    prev: &CellState<F>,
    z_prev: &DVector<F>,
    x: &DVector<F>,
) -> DualJacobians<F>
where
    Dual<F>: Scalar,
{
    let nd = net.n * net.d();
    let lift_v = |v: &DVector<F>| v.map(|a| Dual::new(a, F::zero()));
    let p = lift(params);
    let w = p.cell_tensors(net);
    let prev_d = CellState { h: lift_v(&prev.h), refractory: prev.refractory.clone() };
    let (zd, xd) = (lift_v(z_prev), lift_v(x));
    let run = |w: &[DMatrix<Dual<F>>], s: &CellState<Dual<F>>, z: &DVector<Dual<F>>| {
        net.cell.step(w, s, z, &xd, &Edges::default())
    };
    let mut d = DMatrix::zeros(nd, nd);
    for k in 0..nd {
        let mut s = prev_d.clone();
        s.h[k].eps = F::one();
        let out = run(&w, &s, &zd);
        d.set_column(k, &out.h.map(|v| v.eps));
    }
    let mut m_z = DMatrix::zeros(nd, net.n);
    for k in 0..net.n {
        let mut z = zd.clone();
        z[k].eps = F::one();
        m_z.set_column(k, &run(&w, &prev_d, &z).h.map(|v| v.eps));
    }
    let mut i = DMatrix::zeros(nd, net.p_cell());
    for k in 0..net.p_cell() {
        let (ti, r, c) = p.locate(k).expect("cell parameter");
        let mut wk = w.clone();
        wk[ti][(r, c)].eps = F::one();
        i.set_column(k, &run(&wk, &prev_d, &zd).h.map(|v| v.eps));
    }
    let mut m_x = DMatrix::zeros(nd, x.len());
    for k in 0..x.len() {
        let mut xk = xd.clone();
        xk[k].eps = F::one();
        m_x.set_column(k, &net.cell.step(&w, &prev_d, &zd, &xk, &Edges::default()).h.map(|v| v.eps));
    }
    let next = run(&w, &prev_d, &zd);
    let mut z_h = DMatrix::zeros(net.n, nd);
    for k in 0..nd {
        let mut s = next.clone();
        s.h[k].eps = F::one();
        z_h.set_column(k, &net.cell.output(&s).map(|v| v.eps));
    }
    DualJacobians { d, m_z, i, z_h, m_x }
}

/// Expands hand-derived local Jacobians to the dense layout of [`DualJacobians`] (a convenience
/// for comparisons; it computes nothing new).
pub fn dense_hand_jacobians<F: Scalar>(
    net: &Network,
    local: &LocalJacobians<F>,
    output_rows: &DMatrix<F>,
    input: &DMatrix<F>,
) -> DualJacobians<F> {
    DualJacobians {
        d: local.dense_d(),
        m_z: local.m_z.clone(),
        i: local.dense_i(net),
        z_h: credit_core::cell::dense_output_jacobian(output_rows),
        m_x: input.clone(),
    }
}

/// Central finite differences `(E(θ + h e_p) − E(θ − h e_p)) / 2h` in `f64` (Eq. O4).
///
/// Meaningful for smooth cells (`rate`); for spiking cells the loss is piecewise constant in
/// the spikes and differences do not see the surrogate.
pub fn finite_difference(
    net: &Network,
    params: &Params<f64>,
    seq: &Sequence,
    h: f64,
) -> credit_core::Result<Params<f64>> {
    forward(net, params, seq, ForwardOptions::default())?;
    let vals = par_map(params.len(), |k| {
        let (ti, r, c) = params.locate(k).expect("k < P");
        let mut p = params.clone();
        p.tensors[ti].value[(r, c)] += h;
        let up = forward_unchecked(net, &p, seq, ForwardOptions::default()).loss;
        p.tensors[ti].value[(r, c)] -= 2.0 * h;
        let down = forward_unchecked(net, &p, seq, ForwardOptions::default()).loss;
        (up - down) / (2.0 * h)
    });
    let mut g = Params::zeros(net);
    for (k, v) in vals.into_iter().enumerate() {
        let (ti, r, c) = g.locate(k).expect("k < P");
        g.tensors[ti].value[(r, c)] = v;
    }
    Ok(g)
}

/// Exact `dℓ/dθ` of a feedforward network on one sample (Eq. O9 of `docs/oracle.md`): one
/// `Dual<F>` pass of [`credit_core::feedforward::forward_unchecked`] per parameter, seeding
/// `ε = 1` on it, and the loss value [`FfLoss::eval`] of the output. Nothing hand-derived
/// (no `f′`, no `∂ℓ/∂y`) is used.
pub fn ff_gradient<F: Primitive>(
    net: &FeedForward,
    params: &Params<F>,
    x: &DVector<F>,
    loss: &FfLoss,
) -> credit_core::Result<OracleGradient<F>>
where
    Dual<F>: Scalar,
{
    net.validate_params(params)?;
    net.validate_input(x)?;
    loss.validate(net.n_out())?;
    let base = lift(params);
    let xd = x.map(|v| Dual::new(v, F::zero()));
    let value = |p: &Params<Dual<F>>| loss.eval(feedforward::forward_unchecked(net, p, &xd).output());
    let l = value(&base).re;
    let derivs = par_map(params.len(), |k| {
        let mut p = base.clone();
        let (ti, r, c) = p.locate(k).expect("k < P");
        p.tensors[ti].value[(r, c)].eps = F::one(); // seed θ_k
        value(&p).eps // dℓ/dθ_k
    });
    let mut grad: Params<F> = net.zeros();
    for (k, g) in derivs.into_iter().enumerate() {
        let (ti, r, c) = grad.locate(k).expect("k < P");
        grad.tensors[ti].value[(r, c)] = g;
    }
    Ok(OracleGradient { loss: l, grad })
}
