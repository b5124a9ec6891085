//! KeRNL (Roth, Kanitscheider & Fiete 2019), Eqs. (K1)–(K5) of `docs/rflo.md`, in the order of
//! the authors' review code (`omarschall/vanilla-rtrl`, `learning_algorithms/KeRNL.py`):
//! $$ \\tilde h^{t} = M(\\tilde h^{t-1} + \\zeta^{t-1}, x^t), \\qquad k_i = \\max(0, 1 - \\alpha_i) \\quad\\text{(K1)} $$
//! $$ \\Gamma^t = k \\odot \\Gamma^{t-1} - \\Omega^{t-1}, \\qquad \\Omega^t = k \\odot \\Omega^{t-1} + \\zeta^t \\quad\\text{(K2)} $$
//! $$ B_{ij}^t = k_i B_{ij}^{t-1} + \\alpha\\, \\varphi'(u_i^t)\\, \\hat a_j^t \\quad\\text{(K3)} $$
//! $$ \\epsilon^t = A \\Omega^t - (\\tilde h^t - h^t), \\quad
//!    A \\mathrel{-}= \\eta_A\\, \\epsilon^t (\\Omega^t)^\\top, \\quad
//!    \\alpha \\mathrel{-}= \\eta_\\alpha\\, (A^\\top \\epsilon^t) \\odot \\Gamma^t \\quad\\text{(K4)} $$
//! $$ \\bar B^t = \\kappa \\bar B^{t-1} + B^t, \\qquad \\Delta W_{ij} \\mathrel{+}= (A^\\top q^t)_i\\, \\bar B_{ij}^{t-\\delta},
//!    \\quad q^t = c\\, W_{FB}^\\top g^t \\quad\\text{(K5)} $$
//! with `ζ^t ~ N(0, σ²)` per neuron (ChaCha8 from a seed), `α` the network's leak and `α_i`
//! the learned timescales. With `A = I`, `α_i = α` and `η_A = η_α = 0`, (K3) is (RF1) with
//! `α_r = α` and (K5) is (RF3): KeRNL = RFLO (`kernl-fixed=rflo`).

use crate::{Estimate, drive, filtered_update, rate_alpha, run, tanh_prime};
use credit_core::online::OnlineReadout;
use credit_core::{CellModel, CellState, Network, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// KeRNL's hyper-parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct KernlConfig {
    /// Initial `A` (`N × N`); `None` is the identity (the authors' default).
    pub a0: Option<DMatrix<f64>>,
    /// Initial timescales `α_i` (length `N`); `None` is the network's `α` for every neuron.
    pub alpha0: Option<Vec<f64>>,
    /// Learning rate `η_A` of `A`.
    pub lr_a: f64,
    /// Learning rate `η_α` of the timescales.
    pub lr_alpha: f64,
    /// Standard deviation `σ` of the perturbations (the authors' default `1e-5`).
    pub sigma: f64,
    /// Seed of the perturbations.
    pub seed: u64,
}

impl KernlConfig {
    /// `A = I`, `α_i = α`, zero learning rates: the configuration that reduces to RFLO.
    pub fn fixed(seed: u64) -> Self {
        KernlConfig { a0: None, alpha0: None, lr_a: 0.0, lr_alpha: 0.0, sigma: 1e-5, seed }
    }
}

/// The online state of KeRNL after `t` steps.
#[derive(Clone, Debug)]
pub struct Kernl<T: Scalar> {
    /// The mixing matrix `A` (`N × N`).
    pub a: DMatrix<T>,
    /// The learned timescales `α_i`.
    pub alpha: DVector<T>,
    /// Cell state at `t`.
    pub cell: CellState<T>,
    /// `z^t`.
    pub z: DVector<T>,
    /// The perturbed network's state `h̃^t`.
    pub noisy: CellState<T>,
    /// The perturbation `ζ^t` to apply at the next step.
    pub zeta: DVector<T>,
    /// `Ω^t`, the filtered perturbations.
    pub omega: DVector<T>,
    /// `Γ^t`, their derivative in `α`.
    pub gamma: DVector<T>,
    /// `B^t`, `N × P_loc` (Eq. K3).
    pub trace: DMatrix<T>,
    /// `B̄^t` (Eq. K5).
    pub trace_bar: DMatrix<T>,
    /// `y^t`, `z̄^t`, `b̄^t` (eprop.md Eq. (E6); the core's shared [`OnlineReadout`]).
    pub readout: OnlineReadout<T>,
    rng: ChaCha8Rng,
    cfg: KernlConfig,
    /// Steps consumed.
    pub steps: usize,
    /// Accumulated loss.
    pub loss: T,
    /// Accumulated gradient estimate.
    pub grad: Params<T>,
}

impl<T: Scalar> Kernl<T> {
    /// The state at `t = 0`. Errors name the field (`kernl.a0`, `kernl.alpha0`, `kernl.sigma`,
    /// `kernl.lr_a`, `kernl.lr_alpha`).
    pub fn new(net: &Network, cfg: &KernlConfig) -> credit_core::Result<Self> {
        let alpha_net = rate_alpha(net)?;
        let invalid = |field: &str, value: String, requirement: &'static str| credit_core::Error::Invalid {
            field: field.into(),
            value,
            requirement,
        };
        for (field, v) in
            [("kernl.sigma", cfg.sigma), ("kernl.lr_a", cfg.lr_a), ("kernl.lr_alpha", cfg.lr_alpha)]
        {
            if !(v.is_finite() && v >= 0.0) {
                return Err(invalid(field, v.to_string(), "must be finite and ≥ 0"));
            }
        }
        let a = match &cfg.a0 {
            None => DMatrix::identity(net.n, net.n),
            Some(m) if m.shape() == (net.n, net.n) && m.iter().all(|v| v.is_finite()) => m.map(T::c),
            Some(m) => {
                return Err(invalid(
                    "kernl.a0",
                    format!("{}×{}", m.nrows(), m.ncols()),
                    "must be a finite N×N matrix",
                ));
            }
        };
        let alpha = match &cfg.alpha0 {
            None => DVector::from_element(net.n, T::c(alpha_net)),
            Some(v) if v.len() == net.n && v.iter().all(|x| x.is_finite()) => {
                DVector::from_iterator(net.n, v.iter().map(|&x| T::c(x)))
            }
            Some(v) => {
                return Err(invalid(
                    "kernl.alpha0",
                    format!("{} values", v.len()),
                    "must be N finite values",
                ));
            }
        };
        Ok(Kernl {
            a,
            alpha,
            cell: CellState::zeros(net.n, 1, false),
            z: DVector::zeros(net.n),
            noisy: CellState::zeros(net.n, 1, false),
            zeta: DVector::zeros(net.n),
            omega: DVector::zeros(net.n),
            gamma: DVector::zeros(net.n),
            trace: DMatrix::zeros(net.n, net.p_loc()),
            trace_bar: DMatrix::zeros(net.n, net.p_loc()),
            readout: OnlineReadout::for_network(net),
            rng: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x4E_52_4E_4C),
            cfg: cfg.clone(),
            steps: 0,
            loss: T::zero(),
            grad: Params::zeros(net),
        })
    }

    /// Scalars held; independent of the steps consumed.
    pub fn len_scalars(&self) -> usize {
        self.a.len()
            + self.alpha.len()
            + self.cell.h.len()
            + self.z.len()
            + self.noisy.h.len()
            + self.zeta.len()
            + self.omega.len()
            + self.gamma.len()
            + self.trace.len()
            + self.trace_bar.len()
            + self.readout.len_scalars()
            + 2
            + self.grad.len()
    }

    /// One step with feedback `fb` (`N × K`).
    pub fn step(
        &mut self,
        net: &Network,
        params: &Params<T>,
        w: &[DMatrix<T>],
        fb: &DMatrix<T>,
        x: &DVector<T>,
        target: &DVector<T>,
        mask: T,
    ) {
        let (c_out, lag) = (T::c(net.readout.c()), net.readout.lag());
        let alpha_net = T::c(rate_alpha(net).unwrap_or(1.0));
        let (u, a_hat) = drive(w, &self.z, x);
        let cell = net.cell.step(w, &self.cell, &self.z, x, &Default::default());
        // Eq. (K1): the perturbed network, h̃^t = M(h̃^{t−1} + ζ^{t−1}, x^t) (rate cell: z = h)
        let kicked = CellState { h: &self.noisy.h + &self.zeta, refractory: Vec::new() };
        let noisy = net.cell.step(w, &kicked, &kicked.h, x, &Default::default());
        let k = self.alpha.map(|a| (T::one() - a).max(T::zero())); // Eq. (K1): k_i = max(0, 1 − α_i)
        let zeta = DVector::from_fn(net.n, |_, _| {
            let v: f64 = self.rng.sample(StandardNormal);
            T::c(self.cfg.sigma * v)
        });
        self.gamma = self.gamma.component_mul(&k) - &self.omega; // Eq. (K2)
        self.omega = self.omega.component_mul(&k) + &zeta; // Eq. (K2)
        for i in 0..net.n {
            let m = alpha_net * tanh_prime(u[i]); // α φ'(u_i^t)
            for j in 0..a_hat.len() {
                self.trace[(i, j)] = k[i] * self.trace[(i, j)] + m * a_hat[j]; // Eq. (K3)
            }
        }
        let eps = &self.a * &self.omega - (&noisy.h - &cell.h); // Eq. (K4): predicted − observed
        let grad_a = &eps * self.omega.transpose(); // Eq. (K4)
        let grad_alpha = self.a.tr_mul(&eps).component_mul(&self.gamma); // Eq. (K4)
        self.a -= grad_a * T::c(self.cfg.lr_a);
        self.alpha -= grad_alpha * T::c(self.cfg.lr_alpha);
        let z = net.cell.output(&cell);
        let z_read = if lag == 0 { &z } else { &self.z }; // z^{t−δ}
        let (w_out, b_out) = (params.w_out(), params.b_out());
        let (e, g) = self.readout.observe(&net.readout, &net.loss, w_out, b_out, z_read, target, mask); // Eq. (Y1)
        self.loss += e;
        let q = fb * &g * c_out; // Eq. (K5): q^t = c W_FBᵀ g^t
        let signal = self.a.tr_mul(&q); // Eq. (K5): (Aᵀ q)_i = Σ_k q_k A_ki
        filtered_update(net, &self.trace, &mut self.trace_bar, &signal, &mut self.grad); // Eq. (K5): B̄, ΔW
        self.readout.add_exact_grad(&net.readout, z_read, &g, &mut self.grad); // eprop.md Eq. (E6)
        self.steps += 1;
        self.zeta = zeta;
        self.noisy = noisy;
        self.cell = cell;
        self.z = z;
    }
}

/// KeRNL's gradient estimate of `seq` with feedback `fb` (`N × K`).
pub fn gradient<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    fb: &DMatrix<f64>,
    cfg: &KernlConfig,
) -> credit_core::Result<Estimate<T>> {
    let st = final_state(net, params, seq, fb, cfg)?;
    Ok(Estimate { loss: st.loss, grad: st.grad })
}

/// The state [`gradient`] leaves after the last step of `seq`: its loss and gradient estimate and
/// the learned `A` and `α_i` (K4), for a caller that carries them to the next sequence.
pub fn final_state<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    fb: &DMatrix<f64>,
    cfg: &KernlConfig,
) -> credit_core::Result<Kernl<T>> {
    let mut st = Kernl::new(net, cfg)?;
    run(net, params, seq, fb, |w, fb, x, target, mask| st.step(net, params, w, fb, x, target, mask))?;
    Ok(st)
}
