//! Learning-signal feedback `B` (`N × K`): symmetric, random, adaptive — Eqs. (E4), (E11) of
//! `docs/eprop.md` (Bellec et al. 2020: symmetric and random e-prop; adaptive e-prop in the
//! authors' TIMIT code, `KolenPollackDecay`).

use credit_core::{Network, Params, Scalar};
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Which matrix broadcasts the output error to the neurons.
#[derive(Clone, Debug, PartialEq)]
pub enum Feedback<T: Scalar> {
    /// `B = W_outᵀ`: the exact partial learning signal `∂E/∂z` (symmetric e-prop).
    Symmetric,
    /// A given `N × K` matrix: random e-prop (fixed) or adaptive e-prop (updated by
    /// [`Adaptive::update`] between sequences).
    Matrix(DMatrix<T>),
}

impl<T: Scalar> Feedback<T> {
    /// The `N × K` matrix `B` for the current parameters.
    pub fn matrix(&self, params: &Params<T>) -> DMatrix<T> {
        match self {
            Feedback::Symmetric => params.w_out().transpose(),
            Feedback::Matrix(b) => b.clone(),
        }
    }
}

/// A random feedback matrix drawn from `seed` (ChaCha8): entries `N(0, 1/N)`, the scale of the
/// default `W_out` initialisation, so random and symmetric signals have comparable size.
pub fn random_feedback(net: &Network, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xB0AD_CA57);
    let sd = 1.0 / (net.n as f64).sqrt();
    let mut b = DMatrix::zeros(net.n, net.n_out);
    for j in 0..net.n {
        for k in 0..net.n_out {
            let v: f64 = rng.sample(StandardNormal);
            b[(j, k)] = sd * v;
        }
    }
    b
}

/// Adaptive e-prop (Kolen–Pollack): `B` receives exactly `W_out`'s gradient (transposed) and
/// both decay by `(1 − λ)` at each update, Eq. (E11). Hence
/// `B − W_outᵀ ← (1 − λ)(B − W_outᵀ)`: the feedback aligns with the readout geometrically
/// (property P15), whatever the gradients.
#[derive(Clone, Debug, PartialEq)]
pub struct Adaptive<T: Scalar> {
    /// The feedback matrix `B` (`N × K`).
    pub b: DMatrix<T>,
    /// Weight decay `λ ∈ [0, 1)` applied to both `W_out` and `B`.
    pub lambda: f64,
}

impl<T: Scalar> Adaptive<T> {
    /// One plain-SGD update with learning rate `lr`: every tensor `θ ← θ − lr·g`; in addition
    /// `W_out ← (1 − λ)W_out − lr·g_out` and `B ← (1 − λ)B − lr·g_outᵀ` (Eq. E11).
    pub fn update(&mut self, params: &mut Params<T>, grad: &Params<T>, lr: f64) {
        let (lr, keep) = (T::c(lr), T::c(1.0 - self.lambda));
        let k = params.tensors.len() - 2; // index of w_out
        for (i, (p, g)) in params.tensors.iter_mut().zip(&grad.tensors).enumerate() {
            if i == k {
                p.value = &p.value * keep - &g.value * lr; // Eq. (E11), W_out
            } else {
                p.value -= &g.value * lr;
            }
        }
        self.b = &self.b * keep - grad.tensors[k].value.transpose() * lr; // Eq. (E11), B
    }
}
