//! Deterministic initialisation from a seed (ChaCha8), for parameters and synthetic sequences.
//!
//! The same seed gives the same numbers on every platform: values are drawn as `f64` from
//! `rand_chacha::ChaCha8Rng` and converted to the run's scalar afterwards.

use crate::cell::CellModel;
use crate::error::Result;
use crate::network::{Network, Params, Sequence, Tensor};
use crate::readout::Loss;
use crate::scalar::Scalar;
use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Gains of the Gaussian initialisation: entries of a tensor are `N(0, (gain/√fan_in)²)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InitScale {
    /// Gain of `w_in` (fan-in `N_in`).
    pub w_in: f64,
    /// Gain of `w_rec` (fan-in `N`); `0` gives `W_rec = 0`.
    pub w_rec: f64,
    /// Standard deviation of the neuron bias `b`.
    pub b: f64,
    /// Gain of `w_out` (fan-in `N`).
    pub w_out: f64,
    /// Standard deviation of `b_out`.
    pub b_out: f64,
}

impl InitScale {
    /// Defaults that keep each cell in its working range on the synthetic sequences of
    /// [`Sequence::random`]: rate cells away from saturation, spiking cells firing sparsely
    /// but reliably.
    pub fn default_for(net: &Network) -> Self {
        if net.cell.is_spiking() {
            InitScale { w_in: 3.0, w_rec: 1.0, b: 0.3, w_out: 1.0, b_out: 0.1 }
        } else {
            InitScale { w_in: 1.0, w_rec: 0.9, b: 0.1, w_out: 1.0, b_out: 0.1 }
        }
    }
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample(StandardNormal)
}

impl<T: Scalar> Params<T> {
    /// Gaussian parameters from `seed` with [`InitScale::default_for`].
    pub fn random(net: &Network, seed: u64) -> Result<Self> {
        Self::random_scaled(net, seed, InitScale::default_for(net))
    }

    /// Gaussian parameters from `seed` with explicit gains. The diagonal of `w_rec` is 0 for
    /// cells without autapses.
    pub fn random_scaled(net: &Network, seed: u64, scale: InitScale) -> Result<Self> {
        net.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut tensors = Vec::new();
        for (name, r, c) in net.tensor_shapes() {
            let sd = match name {
                "w_out" => scale.w_out / (net.n as f64).sqrt(),
                "b_out" => scale.b_out,
                _ if name.starts_with("w_rec") => scale.w_rec / (net.n as f64).sqrt(),
                _ if name.starts_with("w_in") => scale.w_in / (c as f64).sqrt(),
                _ => scale.b, // neuron biases: `b`, `b_i`, `b_f`, …
            };
            let mut m = DMatrix::from_fn(r, c, |_, _| 0.0);
            // row-major draw order, so the numbers do not depend on storage order
            for i in 0..r {
                for j in 0..c {
                    m[(i, j)] = sd * normal(&mut rng);
                }
            }
            if name == "w_rec" && !net.cell.allows_autapses() {
                m.fill_diagonal(0.0);
            }
            tensors.push(Tensor { name, value: m.map(T::c) });
        }
        let p = Params { tensors };
        p.validate(net)?;
        Ok(p)
    }
}

impl Sequence {
    /// A synthetic sequence of `steps` steps from `seed`.
    ///
    /// Inputs: Bernoulli(0.3) spike trains for spiking cells, `N(0, 1)` for the rate cell.
    /// Targets: `N(0, 1)` for MSE, a one-hot random class for cross-entropy. Mask: each step
    /// kept with probability 0.75 (weight 1), the last step always kept.
    pub fn random(net: &Network, steps: usize, seed: u64) -> Result<Self> {
        crate::error::check_positive_size("sequence.T", steps)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0005_EED0_F5E0);
        let spiking = net.cell.is_spiking();
        let mut x = Vec::with_capacity(steps);
        let mut target = Vec::with_capacity(steps);
        let mut mask = Vec::with_capacity(steps);
        for t in 0..steps {
            x.push(DVector::from_fn(net.n_in, |_, _| {
                if spiking { if rng.random_bool(0.3) { 1.0 } else { 0.0 } } else { normal(&mut rng) }
            }));
            target.push(match net.loss {
                Loss::Mse => DVector::from_fn(net.n_out, |_, _| normal(&mut rng)),
                Loss::CrossEntropy => {
                    let k = rng.random_range(0..net.n_out);
                    DVector::from_fn(net.n_out, |i, _| if i == k { 1.0 } else { 0.0 })
                }
            });
            let keep = t + 1 == steps || rng.random_bool(0.75);
            mask.push(if keep { 1.0 } else { 0.0 });
        }
        let s = Sequence { x, target, mask };
        s.validate(net)?;
        Ok(s)
    }

    /// [`Sequence::random`] with targets and mask weights redrawn as `style` says (a second
    /// stream from `seed`, so the inputs, and everything `style` leaves alone, are those of
    /// [`Sequence::random`]; the default style returns that sequence unchanged).
    ///
    /// Soft targets (cross-entropy only): `π*^t_k = mass · u_k / Σ_i u_i` with
    /// `u_k ~ U(0.1, 1)`, so every class has weight and the target mass `Σ_k π*^t_k` is `mass`.
    /// Fractional mask: every kept step (weight 1) gets a weight `~ U(0.25, 1.75)`; dropped steps
    /// stay 0.
    pub fn random_styled(net: &Network, steps: usize, seed: u64, style: SequenceStyle) -> Result<Self> {
        let mut s = Sequence::random(net, steps, seed)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x50F7_7A96_E75E);
        if let (Some(mass), Loss::CrossEntropy) = (style.soft_targets, net.loss) {
            for t in &mut s.target {
                let u = DVector::from_fn(t.len(), |_, _| rng.random_range(0.1..1.0));
                *t = &u * (mass / u.sum());
            }
        }
        if style.fractional_mask {
            for m in &mut s.mask {
                if *m > 0.0 {
                    *m = rng.random_range(0.25..1.75);
                }
            }
        }
        s.validate(net)?;
        Ok(s)
    }
}

/// Targets and mask weights beyond the one-hot targets and 0/1 masks of [`Sequence::random`]
/// ([`Sequence::random_styled`]): a wrong term multiplied by the target mass or by a mask
/// weight is invisible when both are always 1.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SequenceStyle {
    /// Cross-entropy targets: `Some(mass)` draws soft targets of total mass `mass > 0` per step
    /// instead of one-hot ones (ignored for MSE).
    pub soft_targets: Option<f64>,
    /// Kept steps get fractional mask weights instead of 1.
    pub fractional_mask: bool,
}

/// An `r × c` matrix of `N(0, std²)` entries drawn row by row from `rng` (the draw order does
/// not depend on storage order).
pub(crate) fn normal_matrix(rng: &mut ChaCha8Rng, r: usize, c: usize, std: f64) -> DMatrix<f64> {
    let mut m = DMatrix::zeros(r, c);
    for i in 0..r {
        for j in 0..c {
            m[(i, j)] = std * normal(rng);
        }
    }
    m
}
