//! Fast BPTT through a stack of layers: the reverse recursion (B1)–(B7) of `docs/bptt.md` and
//! `docs/deep.md` in the structure-aware form (K14)–(K18) of `docs/fast.md` §6.
//!
//! It must equal [`crate::stack::gradient`] (loss and every gradient tensor; the relation
//! `bptt-fast=bptt` of `credit-check` proves it on every stack of the suite at ≤ 1e-12 per
//! tensor). Since no layer reads a layer above it in the forward pass (Eq. S1), the forward pass
//! runs **layer by layer over the whole sequence**, bottom-up, and the reverse pass **layer by
//! layer over the whole sequence**, top-down: the path through the layer above (B7) is
//! $$ \\big(\\Phi^{l+1,t'}\\big)^\\top \\lambda^{l+1,t'} = \\big(W^{{\\rm in},l+1}\\big)^\\top a^{l+1,t'}
//!    \\quad\\text{(K15)} $$
//! (the input Jacobian is the gain times the packed input weights, (K3)), so once the drive
//! adjoints `A^{l+1}` of the layer above are known, the learning signals it sends to layer `l`
//! for every step are one GEMM. Each layer then runs the single-layer reverse loop (K5)–(K7) of
//! [`crate::fast`] with its own [`Kernel`], and its gradient is the GEMMs (K8).
//!
//! Reference: Werbos (1990), as [`crate::stack::gradient`]; the depth term (B7) of
//! `docs/deep.md`; derivation of the fast form in `docs/fast.md` §6.

use crate::fast::{FastBptt, drive_adjoints};
use credit_core::fast::{Kernel, layer_states, mul_tr_cols, readout_loss};
use credit_core::stack::{InterLayer, Stack};
use credit_core::{Network, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// One layer's packed kernel, its single-layer shim network (for [`Kernel::new`] and
/// [`Kernel::unpack_into`]) and its stored forward pass (column `t` = step `t`, `t = 0..=T`).
struct LayerPass<T: Scalar> {
    kernel: Kernel<T>,
    net: Network,
    /// `z^{l,t}`, `N_l × (T+1)`.
    z: DMatrix<T>,
    /// `∂z^{l,t}/∂h^{l,t}`, `(N_l d_l) × (T+1)`.
    zh: DMatrix<T>,
    /// The gain `γ^{l,t}`, `(G_l N_l) × (T+1)`.
    gain: DMatrix<T>,
    /// The decay `D^{l,t}_{00}`, `N_l × (T+1)`.
    decay: DMatrix<T>,
}

/// Column `t` of a column-major matrix, mutable.
fn col_mut<T: Copy>(m: &mut DMatrix<T>, t: usize) -> &mut [T] {
    let rows = m.nrows();
    &mut m.as_mut_slice()[t * rows..(t + 1) * rows]
}

/// The column of the layer below's output (or of `X`) that layer `l > 0` reads at step 1:
/// `z^{l−1,t}` (same step, column `t`) or `z^{l−1,t−1}` (one-step delay, column `t − 1`), Eq. (S1).
fn input_first(stack: &Stack, l: usize) -> usize {
    match (l, stack.inter) {
        (0, _) | (_, InterLayer::SameStep) => 1,
        (_, InterLayer::OneStep) => 0,
    }
}

/// Fast BPTT gradient of a stack: equal to [`crate::stack::gradient`] (its `loss` and `grad`),
/// for every cell and layer mix, inter-layer timing ([`InterLayer`]) and readout
/// ([`credit_core::ReadoutFrom`]), in any [`Scalar`] (fast for `f32` and `f64`). Validates its
/// inputs. Equations (K14)–(K18) of `docs/fast.md` §6.
pub fn stack_gradient<T: Scalar>(
    stack: &Stack,
    params: &Params<T>,
    seq: &Sequence,
) -> credit_core::Result<FastBptt<T>> {
    stack.validate()?;
    stack.validate_params(params)?;
    stack.validate_sequence(seq)?;
    let (nl, steps) = (stack.layers.len(), seq.len());
    let mut x = DMatrix::zeros(stack.n_in, steps + 1);
    for t in 1..=steps {
        for (dst, &src) in col_mut(&mut x, t).iter_mut().zip(seq.x[t - 1].iter()) {
            *dst = T::c(src);
        }
    }
    // (K14): each layer's forward pass over the whole sequence, bottom-up
    let mut layers: Vec<LayerPass<T>> = Vec::with_capacity(nl);
    for l in 0..nl {
        let layer = &stack.layers[l];
        let net = Network::new(
            layer.cell.clone(),
            stack.layer_input(l),
            layer.n,
            stack.n_out,
            stack.readout,
            stack.loss,
        )?;
        let mut p_l = Params::zeros(&net);
        for (dst, k) in p_l.tensors.iter_mut().zip(stack.layer_tensors(l)) {
            dst.value.copy_from(&params.tensors[k].value);
        }
        let kernel = Kernel::new(&net, &p_l)?;
        let input = if l == 0 { &x } else { &layers[l - 1].z };
        layers.push(layer_forward(kernel, net, input, input_first(stack, l), steps));
    }
    // (K16), Eq. (S2): the readout drive of every step, b_out + Σ_l W_out[:, off_l] z^{l,t−δ}
    let nt = params.tensors.len();
    let (w_out, b_out) = (&params.tensors[nt - 2].value, &params.tensors[nt - 1].value);
    let (k, lag) = (stack.n_out, stack.readout.lag());
    let (kappa, c_out) = (T::c(stack.readout.kappa), T::c(stack.readout.c()));
    let mut drive = DMatrix::zeros(k, steps);
    for t in 0..steps {
        drive.column_mut(t).copy_from(&b_out.column(0));
    }
    for (l, lp) in layers.iter().enumerate() {
        if let Some(off) = stack.read_offset(l) {
            let n = stack.layers[l].n;
            drive.gemm(T::one(), &w_out.columns(off, n), &lp.z.columns(1 - lag, steps), T::one());
        }
    }
    // Eq. (S2), Eqs. (Y2)–(Y4): y^t, E^t and g^t (the readout and loss of layer 0's shim)
    let (_, dl_dy, loss) = readout_loss(&layers[0].net, &drive, seq);
    // Eq. (B1): ȳ^t = g^t + κ ȳ^{t+1}, ȳ^{T+1} = 0; column t is ȳ^t, t = 0..=T+1
    let mut y_bar = DMatrix::zeros(k, steps + 2);
    for t in (1..=steps).rev() {
        for q in 0..k {
            y_bar[(q, t)] = dl_dy[(q, t)] + y_bar[(q, t + 1)] * kappa;
        }
    }
    let mut grad: Params<T> = stack.zeros();
    // (K16), Eq. (B2): dE/dW_out[:, off_l] = c Ȳ (Z^l_δ)ᵀ per read layer, dE/db_out = c Ȳ 1
    let y_cols = y_bar.columns(1, steps).into_owned();
    for (l, lp) in layers.iter().enumerate() {
        if let Some(off) = stack.read_offset(l) {
            let g = mul_tr_cols(&y_cols, &lp.z, 1 - lag) * c_out;
            grad.tensors[nt - 2].value.columns_mut(off, stack.layers[l].n).copy_from(&g);
        }
    }
    grad.tensors[nt - 1].value.column_mut(0).copy_from(&(y_cols.column_sum() * c_out));
    // the reverse pass, top-down: the drive adjoints A^{l+1} of the layer above feed layer l
    let mut a_above: Option<DMatrix<T>> = None;
    for l in (0..nl).rev() {
        let lp = &layers[l];
        let n = stack.layers[l].n;
        // (K17): column t−1 is ∂E/∂z^{l,t} from outside the layer (the readout and the layer above)
        let mut dz = DMatrix::zeros(n, steps);
        if let Some(off) = stack.read_offset(l) {
            // Eq. (B3): c W_out[:, off_l]ᵀ ȳ^{t+δ}
            dz.gemm_tr(c_out, &w_out.columns(off, n), &y_bar.columns(1 + lag, steps), T::one());
        }
        if let Some(a_up) = &a_above {
            // Eq. (B7) as (K15): (W_in^{l+1})ᵀ a^{l+1,t'}, t' = t (same step) or t + 1 (delay)
            let w_in_up = &layers[l + 1].kernel.w_in;
            match stack.inter {
                InterLayer::SameStep => dz.gemm_tr(T::one(), w_in_up, a_up, T::one()),
                InterLayer::OneStep if steps > 1 => {
                    let mut head = dz.columns_mut(0, steps - 1);
                    head.gemm_tr(T::one(), w_in_up, &a_up.columns(1, steps - 1), T::one());
                }
                InterLayer::OneStep => {}
            }
        }
        let a = drive_adjoints(&lp.kernel, &lp.zh, &lp.gain, &lp.decay, dz);
        // (K18), Eq. (B6) as (K8): A^l [In^l | Z^l_− | 1]ᵀ, In^l = X or Z^{l−1} from column input_first
        let input = if l == 0 { &x } else { &layers[l - 1].z };
        let d_in = mul_tr_cols(&a, input, input_first(stack, l));
        let d_rec = mul_tr_cols(&a, &lp.z, 0);
        let d_b: DVector<T> = a.column_sum();
        let mut g_l = Params::zeros(&lp.net);
        lp.kernel.unpack_into(&d_in, &d_rec, &d_b, &mut g_l);
        for (src, k) in g_l.tensors.iter().zip(stack.layer_tensors(l)) {
            grad.tensors[k].value.copy_from(&src.value);
        }
        a_above = Some(a);
    }
    Ok(FastBptt { loss, grad })
}

/// (K14): one layer's forward pass over the whole sequence — [`layer_states`] on the input
/// columns `first .. first + T` (input column `first + t − 1` at step `t`, Eq. S1).
fn layer_forward<T: Scalar>(
    kernel: Kernel<T>,
    net: Network,
    input: &DMatrix<T>,
    first: usize,
    steps: usize,
) -> LayerPass<T> {
    let states = layer_states(&kernel, input.columns(first, steps));
    LayerPass { kernel, net, z: states.z, zh: states.zh, gain: states.gain, decay: states.decay }
}
