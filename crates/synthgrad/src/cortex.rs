//! The fully online cortex update, Eq. (S12) of `docs/synthgrad.md`.
//!
//! neuralml/bp_lambda `src/model/rnn_bp_lambda.py` (`get_learning_signal`,
//! `update_grads_etraces`, `get_hidtoweight_grad_direct`): at every step the cortex receives
//!
//! $$ L^t = \\ell'^t + s\\,S(h^t) \\qquad (S(h^T) := 0), $$
//!
//! and its weights the product of `L^t` with either the immediate derivative
//! `∂h^t/∂θ|_{h^{t−1}, z^{t−1}}` `= I^t` ([`Traces::Immediate`]) or the e-prop eligibility vector
//! `ε^t = D^t ε^{t−1} + I^t` built from the core's Jacobians ([`Traces::Eprop`]; Bellec et al.
//! 2020, Eq. (E1) of `docs/eprop.md`):
//!
//! $$ \\Delta\\theta_j = \\sum_t (I^t_j)^\\top L^t_j \\quad\\text{or}\\quad \\sum_t (\\varepsilon^t_j)^\\top L^t_j. \\quad\\text{(S12)} $$
//!
//! With `S(h^t) = G^t` (the true future gradient) and `s = 1` the immediate form is the BPTT
//! gradient (P-b4); the trace form is, if `S` predicts the part of the future gradient that
//! leaves through `z^t` only, `(F^t)ᵀ(∂M^{t+1}/∂z^t)ᵀ λ^{t+1}` (e-prop's exact factorisation). The
//! authors' trace option (`alpha > 0`: a leaky filter of the presynaptic term) is a heuristic on
//! their non-leaky RNN and is not transcribed.

use crate::{Cortex, check_range};
use credit_core::{Network, Params, Result, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// Which derivative of `h^t` with respect to the weights multiplies the learning signal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Traces {
    /// `I^t`, `h^{t−1}` and `z^{t−1}` held fixed (the code's `get_hidtoweight_grad_direct`).
    #[default]
    Immediate,
    /// `ε^t = D^t ε^{t−1} + I^t`: the implicit (neuron-local) paths kept, as in e-prop.
    Eprop,
}

/// The cortex gradient (S12) on one sequence, with the exact readout gradient (B2). `s` scales
/// the synthetic gradient (`sg_weight`), `predict(t, h^t)` gives `S(h^t)` for `t < T`.
pub fn gradient<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    s: f64,
    traces: Traces,
    predict: &dyn Fn(usize, &DVector<T>) -> DVector<T>,
) -> Result<Params<T>> {
    check_range("cortex.s", s, f64::MIN, f64::MAX, "the synthetic-gradient scale must be finite")?;
    let cx = Cortex::replay(net, params, seq)?;
    let steps = cx.steps();
    let d = net.d();
    let mut grad = Params::zeros(net);
    let mut eps: Vec<DMatrix<T>> = vec![DMatrix::zeros(d, net.p_loc()); net.n];
    for t in 1..=steps {
        let mut l = cx.direct[t].clone(); // Eq. (S12), ℓ'^t
        if t < steps {
            l += predict(t, cx.h(t)) * T::c(s); // Eq. (S12), + s S(h^t)
        }
        cx.add_readout(net, &mut grad, t, &l); // Eq. (B2): g^t, or L_y^t (S15)
        match traces {
            Traces::Immediate => cx.add_immediate(net, &mut grad, t, &l), // Eq. (S12), (I^t)ᵀ L^t
            Traces::Eprop => {
                let l = cx.to_h(t, &l); // the signal on h^t (S15)
                for j in 0..net.n {
                    eps[j] = &cx.jac[t].d[j] * &eps[j] + &cx.jac[t].i[j]; // Eq. (E1): ε = D ε + I
                    let g = eps[j].tr_mul(&l.rows(j * d, d)); // Eq. (S12), (ε^t_j)ᵀ L^t_j
                    grad.add_local_row(net, j, g.as_slice());
                }
            }
        }
    }
    Ok(grad)
}
