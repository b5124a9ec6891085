//! # credit-synthgrad — synthetic gradients: DNI, accumulate BP(λ), the online cortex update
//!
//! Three rules that cut BPTT's backward pass with a learned estimate $S(h^t;\\phi)$ of the
//! **future gradient** $G^t = \\sum_{\\tau > t} \\partial E^\\tau / \\partial h^t$, on any cell of
//! `credit-core` (rate, LSTM, and spiking cells through their surrogate) and any scalar. The
//! equations are numbered (S1)–(S16) in `docs/synthgrad.md`, which derives them in the shared
//! notation and maps each to the papers and the authors' code:
//!
//! * [`synth`]: the synthesisers (linear and one-hidden-layer ReLU MLP, output layer
//!   zero-initialised) and their parameter Jacobian $K^t = \\partial S(h^t)/\\partial\\phi$ (S4);
//! * [`dni`]: decoupled neural interfaces for RNNs (Jaderberg et al., ICML 2017, arXiv
//!   1608.05343; code koz4k/dni-pytorch as reused in neuralml/ccDNI and neuralml/bp_lambda):
//!   truncated BPTT with chunk length $T_c$, detached chunk starts, the injected
//!   $s\\,S(h^e)$ and the bootstrapped target (S5)–(S7); the least-squares fixed point of a
//!   linear synthesiser (S13)–(S14);
//! * [`bplambda`]: accumulate BP(λ) (Pemberton & Costa, TMLR 2024, arXiv 2401.07044; code
//!   neuralml/bp_lambda `src/model/synthesiser.py`): the TD error (S8), the matrix-valued
//!   eligibility trace (S9), the update (S10), and the forward λ-return view (S11);
//! * [`cortex`]: the fully online cortex update with learning signal
//!   $\\partial E/\\partial h^t + s\\,S(h^t)$, with immediate derivatives or e-prop-style traces (S12).
//!
//! Shared here: the replay of the forward pass with the local Jacobians ([`Cortex`]), the
//! direct loss signal (S1), the one-step Jacobian (S2) and the true future gradient (S3).
//!
//! [`Layout::MossyFibre`] feeds the synthesiser ccDNI's LSTM input `[z; c]` instead of the state (S16).
//!
//! ## Scope
//! The synthesiser predicts the gradient on the cell state $h^t$ for a memoryless readout
//! ($\\kappa = 0$, as the papers' $o^t = W^{out}h^t + b^{out}$), and on the augmented state
//! $(h^t, y^t)$ for a leaky one ($\\kappa > 0$, Eq. (S15); [`state_dim`]). The readout must be
//! same-step ($\\delta = 0$) and without the firing-rate regulariser (whose gradient couples
//! every step): other networks are refused with [`credit_core::Error::Invalid`] naming the field.
//!
//! ```
//! use credit_core::{cell::{Cell, Rate}, Loss, Network, Params, Readout, Sequence};
//! use credit_synthgrad::{dni, synth::Synth};
//! let net = Network::new(Cell::Rate(Rate { alpha: 1.0 }), 2, 3, 1, Readout::leaky(0.0), Loss::Mse)?;
//! let (p, seq) = (Params::<f64>::random(&net, 3)?, Sequence::random(&net, 6, 3)?);
//! let s = Synth::<f64>::linear(net.n * net.d()); // zero-initialised: S ≡ 0
//! let run = dni::dni(&net, &p, &seq, dni::DniOptions::new(2, 0.1), &|_, h| s.predict(h))?;
//! assert_eq!(run.boundaries, vec![2, 4]);
//! # Ok::<(), credit_core::Error>(())
//! ```

pub mod bplambda;
pub mod cortex;
pub mod dni;
pub mod synth;

use credit_core::{
    CellModel, Error, ForwardOptions, LocalJacobians, Network, Params, ReadoutDelay, Result, Scalar,
    Sequence, Trajectory, forward,
};
use nalgebra::{DMatrix, DVector};

/// The forward pass of a cortex with everything the synthetic-gradient rules read: the
/// trajectory, the local Jacobians of every step, `∂z^t/∂h^t`, the state the synthesiser reads
/// and the direct signal on it (S1). With a leaky readout (`κ > 0`) the state is augmented,
/// `ĥ^t = (h^t, y^t)` (S15): every rule runs unchanged on it.
#[derive(Clone, Debug)]
pub struct Cortex<T: Scalar> {
    /// The forward pass.
    pub traj: Trajectory<T>,
    /// `jac[t]`: the local Jacobians of step `t` (`D^t`, `∂M^t/∂z^{t−1}`, `I^t`), `t = 1..=T`
    /// (entry 0 is a copy of entry 1 and never read).
    pub jac: Vec<LocalJacobians<T>>,
    /// `f[t]`: `∂z^t/∂h^t` (`N×d` rows), `t = 0..=T`.
    pub f: Vec<DMatrix<T>>,
    /// `direct[t]`: the direct signal on the state, `t = 0..=T` (entry 0 is zero): `ℓ'^t =
    /// (∂z^t/∂h^t)ᵀ c W_outᵀ g^t` (S1) for `κ = 0`, `(0, g^t)` on `(h^t, y^t)` for `κ > 0` (S15).
    pub direct: Vec<DVector<T>>,
    /// The state the synthesiser reads, `t = 0..=T`: `h^t`, or `(h^t, y^t)` for `κ > 0`.
    pub states: Vec<DVector<T>>,
    /// The readout's leak `κ` (the augmented layout is used iff `κ ≠ 0`).
    kappa: T,
    /// `c W_out` (`K × N`).
    cw: DMatrix<T>,
}

/// Dimension of the state the synthesiser reads (and of the gradient it predicts): `N·d`,
/// plus `K` for a leaky readout (`κ ≠ 0`, the augmented state (S15)).
// exact: only κ = 0 exactly makes the readout memoryless
#[allow(clippy::float_cmp)]
pub fn state_dim(net: &Network) -> usize {
    net.n * net.d() + if net.readout.kappa != 0.0 { net.n_out } else { 0 }
}

/// Refuses networks outside the scope of the crate (module doc): a readout with a delay, or a
/// firing-rate regulariser.
pub fn check_memoryless(net: &Network) -> Result<()> {
    net.validate()?;
    if net.readout.delay != ReadoutDelay::SameStep {
        return Err(Error::Invalid {
            field: "network.readout.delay".into(),
            value: "one-step".into(),
            requirement: "synthetic gradients need the same-step readout (delta = 0)",
        });
    }
    if net.reg.is_some() {
        return Err(Error::Invalid {
            field: "network.reg".into(),
            value: "set".into(),
            requirement: "the firing-rate regulariser couples every step: synthetic gradients need a per-step loss",
        });
    }
    Ok(())
}

impl<T: Scalar> Cortex<T> {
    /// Runs the forward pass of `net` and stores the local Jacobians of every step.
    pub fn replay(net: &Network, params: &Params<T>, seq: &Sequence) -> Result<Self> {
        check_memoryless(net)?;
        let traj = forward(net, params, seq, ForwardOptions::default())?;
        let w = params.cell_tensors(net);
        let steps = seq.len();
        let (n, d) = (net.n, net.d());
        let mut jac = Vec::with_capacity(steps + 1);
        for t in 1..=steps {
            jac.push(net.cell.jacobians(&w, &traj.states[t - 1], &traj.z[t - 1], &traj.x[t]));
        }
        jac.insert(0, jac[0].clone());
        let f: Vec<_> = traj.states.iter().map(|s| net.cell.output_jacobian(s)).collect();
        let c_out = T::c(net.readout.c());
        let cw = params.w_out() * c_out;
        let aug = state_dim(net) > n * d;
        let mut direct = vec![DVector::zeros(state_dim(net))];
        let mut states = Vec::with_capacity(steps + 1);
        for t in 0..=steps {
            let h = &traj.states[t].h;
            states.push(if aug { concat(h, &traj.y[t]) } else { h.clone() }); // Eq. (S15), ĥ = (h, y)
        }
        for t in 1..=steps {
            if aug {
                let zero = DVector::zeros(n * d);
                direct.push(concat(&zero, &traj.dl_dy[t])); // Eq. (S15), ℓ̂^t = (0, g^t)
                continue;
            }
            let dz = cw.tr_mul(&traj.dl_dy[t]); // Eq. (B3) with κ = 0, δ = 0
            let mut l = DVector::zeros(n * d);
            for j in 0..n {
                for c in 0..d {
                    l[j * d + c] = dz[j] * f[t][(j, c)]; // Eq. (S1): (∂z^t/∂h^t)ᵀ ∂E/∂z^t
                }
            }
            direct.push(l);
        }
        Ok(Cortex { traj, jac, f, direct, states, kappa: T::c(net.readout.kappa), cw })
    }

    /// Whether the state is augmented with the readout (`κ ≠ 0`).
    fn aug(&self) -> bool {
        self.states[0].len() > self.f[0].nrows() * self.f[0].ncols()
    }

    /// Length `N·d` of `h`.
    fn nd(&self) -> usize {
        self.f[0].nrows() * self.f[0].ncols()
    }

    /// The signal on `h^t` of a signal `v` on the state: `v` itself (`κ = 0`), or
    /// `v_h + (F^t)ᵀ c W_outᵀ v_y` for the augmented state (S15: `y^t` reads `h^t` in the same step).
    pub fn to_h(&self, t: usize, v: &DVector<T>) -> DVector<T> {
        if !self.aug() {
            return v.clone();
        }
        let nd = self.nd();
        let dz = self.cw.tr_mul(&v.rows(nd, v.len() - nd)); // Eq. (S15), c W_outᵀ v_y
        let mut out = v.rows(0, nd).into_owned();
        let f = &self.f[t];
        for j in 0..f.nrows() {
            for c in 0..f.ncols() {
                out[j * f.ncols() + c] += dz[j] * f[(j, c)]; // Eq. (S15), + (F^t)ᵀ (…)
            }
        }
        out
    }

    /// Number of steps `T`.
    pub fn steps(&self) -> usize {
        self.traj.steps()
    }

    /// The state the synthesiser reads at `t`: `h^t`, or `(h^t, y^t)` for `κ > 0` (S15).
    pub fn h(&self, t: usize) -> &DVector<T> {
        &self.states[t]
    }

    /// `(J^t)ᵀ v` for `t = 1..=T`, Eq. (S2): `J^t = D^t + (∂M^t/∂z^{t−1}) F^{t−1}` for `t ≥ 2` and
    /// `J^1 = D^1` (`z^0 = 0` is a constant of the forward pass, not a function of `h^0`).
    /// On the augmented state (S15): `(Ĵ^t)ᵀ v = ((J^t)ᵀ (v_h + (F^t)ᵀ c W_outᵀ v_y), κ v_y)`.
    pub fn jt_times(&self, t: usize, v: &DVector<T>) -> DVector<T> {
        if !self.aug() {
            return self.jt_h(t, v);
        }
        let nd = self.nd();
        let vy = v.rows(nd, v.len() - nd).into_owned();
        concat(&self.jt_h(t, &self.to_h(t, v)), &(vy * self.kappa)) // Eq. (S15)
    }

    /// `(J^t)ᵀ v` on `h` alone, Eq. (S2).
    fn jt_h(&self, t: usize, v: &DVector<T>) -> DVector<T> {
        let jac = &self.jac[t];
        let d = jac.d[0].nrows();
        let mut out = DVector::zeros(v.len());
        for (j, dj) in jac.d.iter().enumerate() {
            out.rows_mut(j * d, d).copy_from(&dj.tr_mul(&v.rows(j * d, d))); // Eq. (S2), (D^t)ᵀ v
        }
        if t >= 2 {
            let mz = jac.m_z.tr_mul(v); // Eq. (S2), (∂M^t/∂z^{t−1})ᵀ v, one entry per neuron
            let f = &self.f[t - 1];
            for j in 0..f.nrows() {
                for c in 0..d {
                    out[j * d + c] += mz[j] * f[(j, c)]; // Eq. (S2), (F^{t−1})ᵀ (…)
                }
            }
        }
        out
    }

    /// `J^t e` for a matrix `e` with `N·d` neuron-major rows, Eq. (S2) (used by the trace (S9)).
    /// On the augmented state (S15): `Ĵ^t e = (J^t e_h, c W_out F^t J^t e_h + κ e_y)`.
    pub fn j_times(&self, t: usize, e: &DMatrix<T>) -> DMatrix<T> {
        if !self.aug() {
            return self.j_h(t, e);
        }
        let nd = self.nd();
        let jh = self.j_h(t, &e.rows(0, nd).into_owned());
        let ey = e.rows(nd, e.nrows() - nd) * self.kappa;
        let fy = &self.cw * credit_core::cell::output_times(&self.f[t], &jh) + ey; // Eq. (S15)
        let mut out = DMatrix::zeros(e.nrows(), e.ncols());
        out.rows_mut(0, nd).copy_from(&jh);
        out.rows_mut(nd, e.nrows() - nd).copy_from(&fy);
        out
    }

    /// `J^t e` on `h` alone, Eq. (S2).
    fn j_h(&self, t: usize, e: &DMatrix<T>) -> DMatrix<T> {
        let jac = &self.jac[t];
        let mut out = jac.d_times(e); // Eq. (S2), D^t e
        if t >= 2 {
            let fe = credit_core::cell::output_times(&self.f[t - 1], e); // F^{t−1} e (N rows)
            out += &jac.m_z * fe; // Eq. (S2), (∂M^t/∂z^{t−1}) F^{t−1} e
        }
        out
    }

    /// The true future gradient `G^t`, `t = 0..=T`, by the recursion (S3):
    /// `G^t = (J^{t+1})ᵀ (ℓ'^{t+1} + G^{t+1})`, `G^T = 0`.
    pub fn future_gradient(&self) -> Vec<DVector<T>> {
        let steps = self.steps();
        let mut g = vec![DVector::zeros(self.direct[0].len()); steps + 1];
        for t in (0..steps).rev() {
            let v = &self.direct[t + 1] + &g[t + 1];
            g[t] = self.jt_times(t + 1, &v); // Eq. (S3)
        }
        g
    }

    /// Adds `Σ_j (I_j^t)ᵀ v_j` (the immediate derivative of step `t` against a signal `v` on
    /// the state, Eqs. (B6), (S5), (S12); on the augmented state through [`Cortex::to_h`], S15)
    /// into the cell tensors of `grad`.
    pub fn add_immediate(&self, net: &Network, grad: &mut Params<T>, t: usize, v: &DVector<T>) {
        let d = net.d();
        let v = self.to_h(t, v);
        for (j, ij) in self.jac[t].i.iter().enumerate() {
            let g = ij.tr_mul(&v.rows(j * d, d));
            grad.add_local_row(net, j, g.as_slice());
        }
    }

    /// Adds step `t` of the readout gradient (B2), `c ȳ^t (z^t)ᵀ` and `c ȳ^t`, with the
    /// signal `v` on the state: `ȳ^t = g^t` for `κ = 0` (exact), `ȳ^t = v_y` on the augmented
    /// state (the rule's own adjoint of `y^t`, S15).
    pub fn add_readout(&self, net: &Network, grad: &mut Params<T>, t: usize, v: &DVector<T>) {
        let nc = net.n_cell_tensors();
        let c_out = T::c(net.readout.c());
        let nd = self.nd();
        let g = if self.aug() { v.rows(nd, v.len() - nd).into_owned() } else { self.traj.dl_dy[t].clone() };
        grad.tensors[nc].value += &g * self.traj.z[t].transpose() * c_out; // Eq. (B2)
        grad.tensors[nc + 1].value.column_mut(0).axpy(c_out, &g, T::one()); // Eq. (B2)
    }
}

/// What the synthesiser reads and predicts on (`docs/synthgrad.md` §1.1, Eq. (S16)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// The core's state `h^t` (or `(h^t, y^t)` for `κ > 0`, S15).
    #[default]
    State,
    /// ccDNI's "mossy fibres" for the LSTM: `u^t = [z^t; c^t]` (`2N`, PyTorch's `h = o·tanh c`
    /// first, then `c`: `nn_dni.py` `join_hidden`, `torch.cat((h, c), dim=2)`); the prediction
    /// on `u^t` is mapped back to `h^t = (c, o)` by Eq. (S16a), the target on `u^b` is (S16b).
    /// LSTM cell and memoryless readout (`κ = 0`) only.
    MossyFibre,
}

/// Refuses a layout the network cannot use: the mossy-fibre layout needs the LSTM cell and
/// `κ = 0` (field `layout`).
// exact: only κ = 0 exactly makes the readout memoryless
#[allow(clippy::float_cmp)]
pub fn check_layout(net: &Network, layout: Layout) -> Result<()> {
    if layout == Layout::MossyFibre
        && (!matches!(net.cell, credit_core::cell::Cell::Lstm(_)) || net.readout.kappa != 0.0)
    {
        return Err(Error::Invalid {
            field: "layout".into(),
            value: format!("MossyFibre on {} with kappa = {}", net.cell.id(), net.readout.kappa),
            requirement: "the mossy-fibre layout [z, c] needs the LSTM cell and a memoryless readout (kappa = 0)",
        });
    }
    Ok(())
}

impl<T: Scalar> Cortex<T> {
    /// What the synthesiser reads at `t` in `layout`: the state (S15), or `u^t = [z^t; c^t]` (S16).
    pub fn input(&self, layout: Layout, t: usize) -> DVector<T> {
        match layout {
            Layout::State => self.states[t].clone(),
            Layout::MossyFibre => {
                let h = &self.traj.states[t].h;
                let c = DVector::from_iterator(h.len() / 2, h.iter().step_by(2).copied()); // c_j at 2j
                concat(&self.traj.z[t], &c) // Eq. (S16), u = [z; c]
            }
        }
    }

    /// A gradient `v` on the synthesiser's input at `t` as a gradient on the state, Eq. (S16a):
    /// `v` itself (`State`), or `(v_c + F_c v_z, F_o v_z)` per neuron with `F^t = ∂z^t/∂h^t`
    /// (M4) for `[z; c]` (`MossyFibre`): `(∂u^t/∂h^t)ᵀ v`.
    pub fn from_input(&self, layout: Layout, t: usize, v: &DVector<T>) -> DVector<T> {
        match layout {
            Layout::State => v.clone(),
            Layout::MossyFibre => {
                let f = &self.f[t];
                let n = f.nrows();
                let mut out = DVector::zeros(2 * n);
                for j in 0..n {
                    out[2 * j] = v[n + j] + f[(j, 0)] * v[j]; // Eq. (S16a), G_c = v_c + o(1 − tanh² c) v_z
                    out[2 * j + 1] = f[(j, 1)] * v[j]; // Eq. (S16a), G_o = tanh(c) v_z
                }
                out
            }
        }
    }

    /// The gradient on the synthesiser's input at `t − 1` of a gradient `v` on the state at `t`
    /// (`t ≥ 2`), Eq. (S16b): `(J^t)ᵀ v` (`State`, S2), or
    /// `((∂M^t/∂z^{t−1})ᵀ v, [(D^t)ᵀ v]_c)` on `[z^{t−1}; c^{t−1}]` (`MossyFibre`).
    pub fn jt_input(&self, layout: Layout, t: usize, v: &DVector<T>) -> DVector<T> {
        match layout {
            Layout::State => self.jt_times(t, v),
            Layout::MossyFibre => {
                let jac = &self.jac[t];
                let gz = jac.m_z.tr_mul(v); // Eq. (S16b), (∂M^t/∂z^{t−1})ᵀ v
                let gc = DVector::from_iterator(
                    jac.d.len(),
                    jac.d.iter().enumerate().map(|(j, dj)| dj.tr_mul(&v.rows(2 * j, 2))[0]), // Eq. (S16b), [(D^t)ᵀ v]_c
                );
                concat(&gz, &gc)
            }
        }
    }
}

/// `(a, b)` stacked.
fn concat<T: Scalar>(a: &DVector<T>, b: &DVector<T>) -> DVector<T> {
    DVector::from_iterator(a.len() + b.len(), a.iter().chain(b.iter()).copied())
}

/// A hyper-parameter check: `x` finite and in `[lo, hi]`.
pub(crate) fn check_range(field: &str, x: f64, lo: f64, hi: f64, requirement: &'static str) -> Result<()> {
    if !(x.is_finite() && x >= lo && x <= hi) {
        return Err(Error::Invalid { field: field.into(), value: format!("{x}"), requirement });
    }
    Ok(())
}
