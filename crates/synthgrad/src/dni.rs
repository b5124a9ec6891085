//! Decoupled neural interfaces for RNNs, Eqs. (S5)–(S7) of `docs/synthgrad.md`.
//!
//! Jaderberg et al., "Decoupled neural interfaces using synthetic gradients", ICML 2017
//! (arXiv 1608.05343), as implemented in koz4k/dni-pytorch and reused in neuralml/ccDNI
//! `src/dni.py` (`BackwardInterface.backward`, `make_trigger`, `_SyntheticGradientUpdater`).
//! The sequence is cut into chunks `(b, e] = (k T_c, min((k+1) T_c, T)]`; each chunk's start
//! state `h^b` is detached; at its end the synthetic gradient `s S(h^e)` is injected (never at
//! `e = T`); truncated BPTT runs inside the chunk:
//!
//! $$ \\hat\\lambda^e = \\ell'^e + s\\,S(h^e)\\;(e < T), \\qquad
//!    \\hat\\lambda^t = \\ell'^t + (J^{t+1})^\\top \\hat\\lambda^{t+1}\\;(b < t < e), \\qquad
//!    \\frac{\\Delta E}{\\Delta\\theta_j} = \\sum_t (I^t_j)^\\top \\hat\\lambda^t_j \\quad\\text{(S5)} $$
//!
//! and the gradient arriving at the detached start is the synthesiser's target
//!
//! $$ \\hat g^b = (J^{b+1})^\\top \\hat\\lambda^{b+1}, \\quad b = k T_c,\\ k \\ge 1 \\quad\\text{(S6)} $$
//!
//! (no target at `h^0`: the code's first chunk starts from the initial state without a
//! trigger). The synthesiser's gradient is that of `½ Σ_b ‖S(h^b) − ĝ^b‖²` with `ĝ` held
//! constant (S7); the code's `_SyntheticGradientUpdater` returns `2/B` times it.
//!
//! With [`Layout::MossyFibre`] the synthesiser reads and predicts on ccDNI's LSTM input
//! `u = [z; c]` (`nn_dni.py` `join_hidden`): the injection is mapped back to the state by (S16a),
//! the target is the gradient on `u^b` (S16b).

use crate::synth::Synth;
use crate::{Cortex, Layout, check_layout, check_range};
use credit_core::{Error, Network, Params, Result, Scalar, Sequence};
use nalgebra::DVector;

/// The two knobs of DNI.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DniOptions {
    /// Chunk length `T_c ≥ 1` (the code's `bptt`).
    pub chunk: usize,
    /// Scale `s` of the injected synthetic gradient (the code's `sg_factor`, 0.1 in ccDNI).
    pub s: f64,
    /// Whether the last chunk (`e = T`) gets an injection too.
    pub last: LastChunk,
    /// What the synthesiser reads and predicts on: the state, or ccDNI's `[z; c]` (S16).
    pub layout: Layout,
}

impl DniOptions {
    /// Chunk length `T_c` and scale `s`, nothing injected at `h^T` (bp_lambda's reading).
    pub fn new(chunk: usize, s: f64) -> Self {
        DniOptions { chunk, s, last: LastChunk::Zero, layout: Layout::State }
    }
}

/// The injection at the end of the sequence: the two authors' codes differ (`docs/synthgrad.md` §4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LastChunk {
    /// `S(h^T) := 0`: the future of the last state is empty (bp_lambda's `final_step`,
    /// `synthesiser.py` l. 146–147; the exact future gradient `G^T = 0`).
    #[default]
    Zero,
    /// `s S(h^T)` injected like at every chunk end: ccDNI's `nn_dni.py` l. 66–69 calls
    /// `backward_interface.backward(hidden, factor=self.sg_factor)` after every chunk, the last
    /// included.
    Inject,
}

/// What a DNI pass returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Dni<T: Scalar> {
    /// The loss `E`.
    pub loss: T,
    /// The cortex update (S5) plus the exact readout gradient (B2), in the layout of `Params`.
    pub grad: Params<T>,
    /// The chunk starts with a trigger, `b = k T_c < T`, `k ≥ 1`.
    pub boundaries: Vec<usize>,
    /// `ĝ^b` (S6), one per boundary (on `[z^b; c^b]` for [`Layout::MossyFibre`], S16b).
    pub targets: Vec<DVector<T>>,
    /// `h^b`, one per boundary (what the synthesiser reads for its own update; `[z^b; c^b]`
    /// for [`Layout::MossyFibre`]).
    pub states: Vec<DVector<T>>,
}

/// DNI on one sequence. `predict(t, h^t)` is the synthetic gradient `S(h^t)` at a chunk end
/// `t < T` (and at `T` with [`LastChunk::Inject`]) (a [`Synth`], or the true future gradient in the relation `sg-exact=bptt`).
pub fn dni<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    opts: DniOptions,
    predict: &dyn Fn(usize, &DVector<T>) -> DVector<T>,
) -> Result<Dni<T>> {
    if opts.chunk == 0 {
        return Err(Error::Empty { field: "dni.chunk".into() });
    }
    check_range("dni.s", opts.s, f64::MIN, f64::MAX, "the synthetic-gradient scale must be finite")?;
    check_layout(net, opts.layout)?;
    let cx = Cortex::replay(net, params, seq)?;
    let steps = cx.steps();
    let s = T::c(opts.s);
    let layout = opts.layout;
    let mut grad = Params::zeros(net);
    let (mut boundaries, mut targets, mut states) = (Vec::new(), Vec::new(), Vec::new());
    for b in (0..steps).step_by(opts.chunk) {
        let e = (b + opts.chunk).min(steps);
        let mut lam = cx.direct[e].clone(); // Eq. (S5), ℓ'^e
        if e < steps || opts.last == LastChunk::Inject {
            let sg = cx.from_input(layout, e, &predict(e, &cx.input(layout, e))); // Eq. (S16a)
            lam += sg * s; // Eq. (S5), + s S(h^e): the injection
        }
        for t in (b + 1..=e).rev() {
            cx.add_immediate(net, &mut grad, t, &lam); // Eq. (S5), (I^t)ᵀ λ̂^t
            cx.add_readout(net, &mut grad, t, &lam); // Eq. (B2): g^t, or λ̂_y^t (S15)
            if t > b + 1 {
                lam = &cx.direct[t - 1] + cx.jt_times(t, &lam); // Eq. (S5), inside the chunk
            } else if b > 0 {
                targets.push(cx.jt_input(layout, t, &lam)); // Eq. (S6): ĝ^b = (J^{b+1})ᵀ λ̂^{b+1}; (S16b)
                boundaries.push(b);
                states.push(cx.input(layout, b));
            }
        }
    }
    Ok(Dni { loss: cx.traj.loss, grad, boundaries, targets, states })
}

/// The synthesiser's gradient (S7): `Σ_b (K^b)ᵀ (S(h^b) − ĝ^b)`, the gradient of
/// `½ Σ_b ‖S(h^b) − ĝ^b‖²` with the targets held constant (flat layout of [`Synth`]).
pub fn synth_gradient<T: Scalar>(synth: &Synth<T>, run: &Dni<T>) -> DVector<T> {
    let mut g = DVector::zeros(synth.len());
    for (h, target) in run.states.iter().zip(&run.targets) {
        let err = synth.predict(h) - target; // Eq. (S7), S(h^b) − ĝ^b
        g += synth.vjp(h, &err); // Eq. (S7), (K^b)ᵀ (…)
    }
    g
}

/// A linear synthesiser fitted to DNI's own targets by least squares, Eq. (S13) of
/// `docs/synthgrad.md` (fitted value iteration, derived there): `S_0 = 0`; at iteration `k` the DNI pass
/// (S5)–(S6) with `S_k` gives the targets `ĝ^b(S_k)`, and `S_{k+1} = A h + c` minimises
/// `Σ_b ‖A h^b + c − ĝ^b(S_k)‖²` (minimum-norm least squares, SVD). A fixed point `S*` is
/// where the synthesiser's gradient (S7) vanishes with its own targets: the property P-e4.
/// When the `[h^b; 1]` are affinely independent and there are `N·d + 1` of them, the fit
/// interpolates and the iteration is exact after as many iterations as boundaries (each target
/// bootstraps from the next boundary only), with `S*(h^b)` the `s`-discounted chunk return (S14).
/// Returns the last fit and the DNI pass that produced its targets.
pub fn fit_linear(
    net: &Network,
    params: &Params<f64>,
    seq: &Sequence,
    opts: DniOptions,
    iterations: usize,
) -> Result<(Synth<f64>, Dni<f64>)> {
    if iterations == 0 {
        return Err(Error::Empty { field: "dni.iterations".into() });
    }
    let nd = crate::state_dim(net);
    let mut synth = Synth::<f64>::linear(nd);
    let mut run = dni(net, params, seq, opts, &|_, h| synth.predict(h))?;
    for _ in 0..iterations {
        if run.boundaries.is_empty() {
            return Err(Error::Empty { field: "dni.boundaries".into() });
        }
        let nb = run.boundaries.len();
        // Eq. (S13): rows [h^bᵀ, 1] against rows ĝ^bᵀ
        let x = nalgebra::DMatrix::from_fn(nb, nd + 1, |b, i| if i < nd { run.states[b][i] } else { 1.0 });
        let y = nalgebra::DMatrix::from_fn(nb, nd, |b, i| run.targets[b][i]);
        let svd = x.clone().svd(true, true);
        let solve = |rhs: &nalgebra::DMatrix<f64>| {
            svd.solve(rhs, 0.0).map_err(|e| Error::Invalid {
                field: "dni.states".into(),
                value: e.into(),
                requirement: "the least-squares fit of the synthesiser needs a solvable system",
            })
        };
        let mut theta = solve(&y)?; // (N·d + 1) × N·d: [Aᵀ; cᵀ]
        theta += solve(&(&y - &x * &theta))?; // one step of iterative refinement
        synth = Synth::Linear { a: theta.rows(0, nd).transpose(), c: theta.row(nd).transpose() };
        run = dni(net, params, seq, opts, &|_, h| synth.predict(h))?;
    }
    Ok((synth, run))
}
