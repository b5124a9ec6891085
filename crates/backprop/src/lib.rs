//! # credit-backprop
//!
//! Error backpropagation (Rumelhart, Hinton & Williams 1986) on the feedforward networks of
//! [`credit_core::feedforward`], hand-derived, for one sample; and feedback alignment
//! (Lillicrap et al. 2016), the same pass with fixed feedback matrices `B^l` in place of
//! `(W^l)ᵀ`. Equations (BP1)–(BP4) of `docs/feedforward.md`:
//!
//! $$ \delta^L = f_L'(u^L) \odot \frac{\partial \ell}{\partial y^L} \quad \text{(BP1)}, \qquad
//!    \delta^l = f_l'(u^l) \odot \big(W^{l+1}\big)^{\!\top} \delta^{l+1} \quad \text{(BP2)}, $$
//!
//! $$ \frac{\partial \ell}{\partial W^l} = \delta^l \big(y^{l-1}\big)^{\!\top}, \quad
//!    \frac{\partial \ell}{\partial b^l} = \delta^l \quad \text{(BP3)}, \qquad
//!    \text{FA:}\ \delta^l = f_l'(u^l) \odot B^{l+1} \delta^{l+1} \quad \text{(BP4)}. $$
//!
//! `δ^l = ∂ℓ/∂u^l` is a column vector; the gradient has the layout of the parameters
//! ([`credit_core::FeedForward::tensor_shapes`]). The crate is the *rule* side of
//! `ff-bp=oracle`: the dual-number oracle (`credit_oracle::ff_gradient`) never calls it.
//!
//! ```
//! use credit_core::{Activation, FeedForward, FfLoss};
//! use nalgebra::DVector;
//! let net = FeedForward::new(vec![3, 4, 2], Activation::Sigmoid, Activation::Linear, true)?;
//! let p = net.random_params::<f64>(1, 1.0, 0.1)?;
//! let x = DVector::from_vec(vec![0.5, -1.0, 2.0]);
//! let loss = FfLoss::Mse { target: DVector::from_vec(vec![1.0, 0.0]) };
//! let g = credit_backprop::gradient(&net, &p, &x, &loss)?;
//! assert_eq!(g.grad.tensors[0].value.shape(), (4, 3));
//! # Ok::<(), credit_core::Error>(())
//! ```

use credit_core::feedforward::{FeedForward, FfLoss, FfTrajectory, forward};
use credit_core::{Error, Params, Scalar};
use nalgebra::{DMatrix, DVector};

/// Loss, gradient and the errors `δ^l` of one sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradient<T: Scalar> {
    /// `ℓ` (Eq. FF2–FF4 of `docs/feedforward.md`).
    pub loss: T,
    /// `∂ℓ/∂θ` (BP3), the layout of the parameters.
    pub grad: Params<T>,
    /// `δ^l = ∂ℓ/∂u^l` for `l = 0..=L` (entry 0 is empty).
    pub delta: Vec<DVector<T>>,
    /// The forward pass it was computed on.
    pub trajectory: FfTrajectory<T>,
}

/// Backprop (BP1)–(BP3).
pub fn gradient<T: Scalar>(
    net: &FeedForward,
    params: &Params<T>,
    x: &DVector<T>,
    loss: &FfLoss,
) -> credit_core::Result<Gradient<T>> {
    run(net, params, None, x, loss)
}

/// Feedback alignment (BP4): `feedback[l − 1] = B^l`, an `n_{l−1} × n_l` matrix, replaces
/// `(W^l)ᵀ` in (BP2) for `l = 2..=L`; `feedback[0]` (`B^1`) is never read but must have its
/// shape, so that the list has the layout of the weights.
pub fn feedback_alignment<T: Scalar>(
    net: &FeedForward,
    params: &Params<T>,
    feedback: &[DMatrix<T>],
    x: &DVector<T>,
    loss: &FfLoss,
) -> credit_core::Result<Gradient<T>> {
    check_feedback(net, feedback)?;
    run(net, params, Some(feedback), x, loss)
}

/// Checks a list of feedback matrices `B^l` (`n_{l−1} × n_l`, `l = 1..=L`), named `feedback[l−1]`.
pub fn check_feedback<T: Scalar>(net: &FeedForward, feedback: &[DMatrix<T>]) -> credit_core::Result<()> {
    if feedback.len() != net.n_layers() {
        return Err(Error::Shape {
            field: "feedback".into(),
            expected: format!("{} matrices", net.n_layers()),
            found: format!("{} matrices", feedback.len()),
        });
    }
    for (i, b) in feedback.iter().enumerate() {
        let (r, c) = (net.sizes[i], net.sizes[i + 1]);
        let field = format!("feedback[{i}]");
        if b.shape() != (r, c) {
            return Err(Error::Shape {
                field,
                expected: format!("{r}×{c}"),
                found: format!("{}×{}", b.nrows(), b.ncols()),
            });
        }
        if let Some(k) = b.iter().position(|v| !v.is_finite_value()) {
            return Err(Error::NonFinite { field, index: format!("{}", k), value: b[k].value() });
        }
    }
    Ok(())
}

fn run<T: Scalar>(
    net: &FeedForward,
    params: &Params<T>,
    feedback: Option<&[DMatrix<T>]>,
    x: &DVector<T>,
    loss: &FfLoss,
) -> credit_core::Result<Gradient<T>> {
    let traj = forward(net, params, x)?;
    loss.validate(net.n_out())?;
    let layers = net.n_layers();
    let mut delta = vec![DVector::zeros(0); layers + 1];
    let out = traj.output();
    let f_out = net.activation(layers);
    // (BP1) δ^L = f_L'(u^L) ⊙ ∂ℓ/∂y^L
    delta[layers] = traj.u[layers].map(|u| f_out.prime(u)).component_mul(&loss.dloss_dy(out));
    for l in (1..layers).rev() {
        let back = match feedback {
            Some(b) => &b[l] * &delta[l + 1], // (BP4) B^{l+1} δ^{l+1}
            None => params.tensors[net.w_index(l + 1)].value.tr_mul(&delta[l + 1]), // (BP2) (W^{l+1})ᵀ δ^{l+1}
        };
        let f = net.activation(l);
        delta[l] = traj.u[l].map(|u| f.prime(u)).component_mul(&back); // (BP2) f_l'(u^l) ⊙ …
    }
    let mut grad = net.zeros();
    for l in 1..=layers {
        grad.tensors[net.w_index(l)].value = &delta[l] * traj.y[l - 1].transpose(); // (BP3) δ^l (y^{l−1})ᵀ
        if let Some(bi) = net.b_index(l) {
            grad.tensors[bi].value = DMatrix::from_column_slice(delta[l].len(), 1, delta[l].as_slice()); // (BP3) δ^l
        }
    }
    Ok(Gradient { loss: loss.eval(out), grad, delta, trajectory: traj })
}
