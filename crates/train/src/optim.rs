//! Optimisers, Eqs. (O1)–(O4) of `docs/training.md` §2.
//!
//! Plain gradient descent (SGD) and Adam (Kingma & Ba 2015, Algorithm 1) with bias correction
//! and `ε` added to `√v̂` (outside the square root, after the bias correction):
//! $$ \\Delta\\theta = \\eta\\, g \\quad\\text{(O1, SGD)} $$
//! $$ m_k = \\beta_1 m_{k-1} + (1-\\beta_1) g_k, \\qquad v_k = \\beta_2 v_{k-1} + (1-\\beta_2) g_k^2 \\quad\\text{(O2)} $$
//! $$ \\hat m_k = \\frac{m_k}{1-\\beta_1^k}, \\qquad \\hat v_k = \\frac{v_k}{1-\\beta_2^k} \\quad\\text{(O3)} $$
//! $$ \\Delta\\theta = \\eta\\, \\frac{\\hat m_k}{\\sqrt{\\hat v_k} + \\epsilon} \\quad\\text{(O4)} $$
//! and `θ ← θ − Δθ`; `k = 1, 2, …` counts the updates; `m_0 = v_0 = 0`.

use credit_core::{Error, Params, Result};
use nalgebra::DMatrix;

/// The optimiser and its hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// `θ ← θ − η g` (O1).
    Sgd,
    /// Adam (O2)–(O4).
    Adam {
        /// `β₁ ∈ [0, 1)` (default 0.9).
        beta1: f64,
        /// `β₂ ∈ [0, 1)` (default 0.999).
        beta2: f64,
        /// `ε > 0` (default 1e-8), added to `√v̂`.
        eps: f64,
    },
}

impl Optimizer {
    /// Adam with Kingma & Ba's defaults `β₁ = 0.9`, `β₂ = 0.999`, `ε = 1e-8`.
    pub const ADAM: Optimizer = Optimizer::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

    /// Parses `sgd` or `adam` (with the defaults).
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "sgd" => Ok(Optimizer::Sgd),
            "adam" => Ok(Optimizer::ADAM),
            _ => Err(Error::Invalid {
                field: "optimizer".into(),
                value: name.into(),
                requirement: "one of sgd, adam",
            }),
        }
    }

    /// `sgd` or `adam`.
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Sgd => "sgd",
            Optimizer::Adam { .. } => "adam",
        }
    }

    /// Checks the hyper-parameters.
    pub fn validate(&self) -> Result<()> {
        if let Optimizer::Adam { beta1, beta2, eps } = *self {
            for (field, b) in [("optimizer.beta1", beta1), ("optimizer.beta2", beta2)] {
                if !(b.is_finite() && (0.0..1.0).contains(&b)) {
                    return Err(Error::Invalid {
                        field: field.into(),
                        value: format!("{b}"),
                        requirement: "must lie in [0, 1)",
                    });
                }
            }
            if !(eps.is_finite() && eps > 0.0) {
                return Err(Error::Invalid {
                    field: "optimizer.eps".into(),
                    value: format!("{eps}"),
                    requirement: "must be finite and > 0",
                });
            }
        }
        Ok(())
    }
}

/// The optimiser's state: the moments of Adam per tensor and the update count `k`.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimState {
    /// The optimiser.
    pub optimizer: Optimizer,
    /// Updates done so far (`k − 1` during update `k`).
    pub steps: u64,
    /// `m_k` per tensor (Adam; empty for SGD).
    pub m: Vec<DMatrix<f64>>,
    /// `v_k` per tensor (Adam; empty for SGD).
    pub v: Vec<DMatrix<f64>>,
}

impl OptimState {
    /// The state before the first update (`m_0 = v_0 = 0`, `k = 0`).
    pub fn new(optimizer: Optimizer, like: &Params<f64>) -> Self {
        let zeros =
            || like.tensors.iter().map(|t| DMatrix::zeros(t.value.nrows(), t.value.ncols())).collect();
        let (m, v) = match optimizer {
            Optimizer::Sgd => (Vec::new(), Vec::new()),
            Optimizer::Adam { .. } => (zeros(), zeros()),
        };
        OptimState { optimizer, steps: 0, m, v }
    }

    /// The step `Δθ` of update `k = steps + 1` for gradient `g` (O1–O4), per tensor; tensors
    /// with `trainable[i] = false` get a zero step and their moments are left unchanged.
    pub fn delta(&mut self, lr: f64, grad: &Params<f64>, trainable: &[bool]) -> Vec<DMatrix<f64>> {
        self.steps += 1;
        let k = self.steps as i32;
        grad.tensors
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let g = &g.value;
                if !trainable[i] {
                    return DMatrix::zeros(g.nrows(), g.ncols());
                }
                match self.optimizer {
                    Optimizer::Sgd => g * lr, // Eq. (O1)
                    Optimizer::Adam { beta1, beta2, eps } => {
                        self.m[i] = &self.m[i] * beta1 + g * (1.0 - beta1); // Eq. (O2), m_k
                        self.v[i] = &self.v[i] * beta2 + g.map(|x| x * x) * (1.0 - beta2); // Eq. (O2), v_k
                        let (c1, c2) = (1.0 - beta1.powi(k), 1.0 - beta2.powi(k)); // Eq. (O3)
                        self.m[i].zip_map(&self.v[i], |m, v| lr * (m / c1) / ((v / c2).sqrt() + eps)) // Eq. (O4)
                    }
                }
            })
            .collect()
    }
}
