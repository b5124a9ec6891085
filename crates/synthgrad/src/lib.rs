//! # credit-synthgrad — synthetic gradients: DNI, accumulate BP(λ), the online cortex update
//!
//! Three rules that cut BPTT's backward pass with a learned estimate $S(h^t;\\phi)$ of the
//! **future gradient** $G^t = \\sum_{\\tau > t} \\partial E^\\tau / \\partial h^t$, on any cell of
//! `credit-core` (rate, LSTM, and spiking cells through their surrogate) and any scalar. The
//! equations are numbered (S1)–(S14) in `docs/synthgrad.md`, which derives them in the shared
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
//! ## Scope
//! The synthesiser predicts the gradient on the cell state $h^t$ only, so the readout must be
//! memoryless and same-step ($\\kappa = 0$, $\\delta = 0$, as the papers' $o^t = W^{out}h^t + b^{out}$)
//! and without the firing-rate regulariser (whose gradient couples every step): other networks
//! are refused with [`credit_core::Error::Invalid`] naming the field.
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
/// trajectory, the local Jacobians of every step, `∂z^t/∂h^t` and the direct signal (S1).
#[derive(Clone, Debug)]
pub struct Cortex<T: Scalar> {
    /// The forward pass.
    pub traj: Trajectory<T>,
    /// `jac[t]`: the local Jacobians of step `t` (`D^t`, `∂M^t/∂z^{t−1}`, `I^t`), `t = 1..=T`
    /// (entry 0 is a copy of entry 1 and never read).
    pub jac: Vec<LocalJacobians<T>>,
    /// `f[t]`: `∂z^t/∂h^t` (`N×d` rows), `t = 0..=T`.
    pub f: Vec<DMatrix<T>>,
    /// `direct[t]`: `ℓ'^t = (∂z^t/∂h^t)ᵀ c W_outᵀ g^t` (S1), `t = 0..=T` (entry 0 is zero).
    pub direct: Vec<DVector<T>>,
}

/// Refuses networks outside the scope of the crate (module doc): a readout with memory or a
/// delay, or a firing-rate regulariser.
// exact: only κ = 0 exactly makes the readout memoryless
#[allow(clippy::float_cmp)]
pub fn check_memoryless(net: &Network) -> Result<()> {
    net.validate()?;
    if net.readout.kappa != 0.0 {
        return Err(Error::Invalid {
            field: "network.readout.kappa".into(),
            value: format!("{}", net.readout.kappa),
            requirement: "synthetic gradients predict dE/dh only: the readout must be memoryless (kappa = 0)",
        });
    }
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
        let mut direct = vec![DVector::zeros(n * d)];
        for t in 1..=steps {
            let dz = params.w_out().tr_mul(&traj.dl_dy[t]) * c_out; // Eq. (B3) with κ = 0, δ = 0
            let mut l = DVector::zeros(n * d);
            for j in 0..n {
                for c in 0..d {
                    l[j * d + c] = dz[j] * f[t][(j, c)]; // Eq. (S1): (∂z^t/∂h^t)ᵀ ∂E/∂z^t
                }
            }
            direct.push(l);
        }
        Ok(Cortex { traj, jac, f, direct })
    }

    /// Number of steps `T`.
    pub fn steps(&self) -> usize {
        self.traj.steps()
    }

    /// `h^t`.
    pub fn h(&self, t: usize) -> &DVector<T> {
        &self.traj.states[t].h
    }

    /// `(J^t)ᵀ v` for `t = 1..=T`, Eq. (S2): `J^t = D^t + (∂M^t/∂z^{t−1}) F^{t−1}` for `t ≥ 2` and
    /// `J^1 = D^1` (`z^0 = 0` is a constant of the forward pass, not a function of `h^0`).
    pub fn jt_times(&self, t: usize, v: &DVector<T>) -> DVector<T> {
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
    pub fn j_times(&self, t: usize, e: &DMatrix<T>) -> DMatrix<T> {
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
    /// `h^t`, Eqs. (B6), (S5), (S12)) into the cell tensors of `grad`.
    pub fn add_immediate(&self, net: &Network, grad: &mut Params<T>, t: usize, v: &DVector<T>) {
        let d = net.d();
        for (j, ij) in self.jac[t].i.iter().enumerate() {
            let g = ij.tr_mul(&v.rows(j * d, d));
            grad.add_local_row(net, j, g.as_slice());
        }
    }

    /// Adds the readout gradient, exact for every rule here (κ = 0, Eq. (B2)):
    /// `dE/dW_out = c Σ_t g^t (z^t)ᵀ`, `dE/db_out = c Σ_t g^t`.
    pub fn add_readout(&self, net: &Network, grad: &mut Params<T>) {
        let nc = net.n_cell_tensors();
        let c_out = T::c(net.readout.c());
        for t in 1..=self.steps() {
            let g = &self.traj.dl_dy[t];
            grad.tensors[nc].value += g * self.traj.z[t].transpose() * c_out; // Eq. (B2)
            grad.tensors[nc + 1].value.column_mut(0).axpy(c_out, g, T::one()); // Eq. (B2)
        }
    }
}

/// A hyper-parameter check: `x` finite and in `[lo, hi]`.
pub(crate) fn check_range(field: &str, x: f64, lo: f64, hi: f64, requirement: &'static str) -> Result<()> {
    if !(x.is_finite() && x >= lo && x <= hi) {
        return Err(Error::Invalid { field: field.into(), value: format!("{x}"), requirement });
    }
    Ok(())
}
