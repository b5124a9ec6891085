//! Fast online e-prop for one layer: the causal form (E1), (E2), (E5), (E6), (E12) of
//! `docs/eprop.md` with the structure-aware traces (K10)–(K13) of `docs/fast.md` §4.
//!
//! It must equal [`crate::gradient`] (loss and every gradient tensor, for symmetric, random and
//! adaptive feedback and with the firing-rate regulariser; the relation `eprop-fast=eprop` of
//! `credit-check` proves it on the whole suite at ≤ 1e-12 per tensor). Like the literal
//! [`crate::Online`] it is online in the strict sense: [`FastOnline::step`] consumes one time
//! step and the state's size depends on the network only ([`FastOnline::len_scalars`]). Unlike
//! it, it never builds a local Jacobian: the step is one fused kernel
//! ([`credit_core::fast::Kernel::step`], two GEMVs for the drive), the eligibility vectors are
//! kept in the cell's own structure —
//!
//! * rate: `ε_j = (1 − α) ε_j + γ_j [x | z^{t−1} | 1]`, `N × P_loc` (K10);
//! * LIF: one presynaptic trace shared by every neuron (P17),
//!   `x̄ = α x̄ + ζ [x | z^{t−1} | 1]`, `e_j = ψ_j x̄` (K11);
//! * ALIF: the same `x̄` and a per-neuron `ε^a_j = ψ_j^{t−1} x̄^{t−1} + (ρ − βψ_j^{t−1}) ε^a_j` (K12);
//! * LSTM: the cell-state row of the gates `i, f, c` only, `ε^c_{j,g} = f_j ε^c_{j,g} + γ_{g,j} [x | z^{t−1} | 1]`,
//!   the output gate's trace `γ_{o,j} [x | z^{t−1} | 1]` without memory (K13);
//!
//! — and the trace, its κ-filter and the gradient update are one fused loop per neuron.
//!
//! Reference: Bellec et al. (2020), as [`crate::gradient`].

use crate::feedback::Feedback;
use credit_core::fast::{Kernel, StepIn, StepOut, loss_and_grad};
use credit_core::{Cell, CellModel, Network, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector, DVectorView, DVectorViewMut};

/// What fast e-prop returns: the loss and the e-prop gradient.
#[derive(Clone, Debug, PartialEq)]
pub struct FastEprop<T: Scalar> {
    /// The loss `E` (with `E_reg`).
    pub loss: T,
    /// The e-prop gradient estimate for every parameter tensor.
    pub grad: Params<T>,
}

/// Fast e-prop gradient of `seq` with feedback `feedback`: equal to [`crate::gradient`] (its
/// `loss` and `grad`). Validates its inputs and the feedback matrix.
pub fn gradient<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    feedback: &Feedback<T>,
) -> credit_core::Result<FastEprop<T>> {
    let kernel = Kernel::new(net, params)?;
    seq.validate(net)?;
    let b = crate::checked_feedback(net, params, feedback)?;
    let mut st = FastOnline::new(net, &kernel);
    for t in 0..seq.len() {
        st.step(net, params, &kernel, &b, &seq.x[t], &seq.target[t], seq.mask[t]);
    }
    Ok(st.finish(net, &kernel))
}

/// The state of fast online e-prop after `t` steps: buffers allocated once, sized by the
/// network.
#[derive(Clone, Debug)]
pub struct FastOnline<T: Scalar> {
    h: Vec<T>,
    h_new: Vec<T>,
    refractory: Vec<u32>,
    refractory_new: Vec<u32>,
    z_prev: Vec<T>,
    z: Vec<T>,
    zh_prev: Vec<T>,
    zh: Vec<T>,
    gain: Vec<T>,
    decay: Vec<T>,
    u: Vec<T>,
    x: Vec<T>,
    /// `[x^t | z^{t−1} | 1]`, the presynaptic row shared by every gate.
    pre: Vec<T>,
    y: Vec<T>,
    y_new: Vec<T>,
    g: Vec<T>,
    target: Vec<T>,
    signal: Vec<T>,
    /// Rate: `ε` (`N × W`); LIF/ALIF: the presynaptic trace `x̄` (`W`); LSTM: `ε^c` (`N × 3W`).
    eps: Vec<T>,
    /// ALIF: `ε^a` (`N × W`); empty otherwise.
    eps_a: Vec<T>,
    e_bar: Vec<T>,
    acc: Vec<T>,
    e_sum: Vec<T>,
    z_sum: Vec<T>,
    z_bar: Vec<T>,
    b_bar: T,
    g_out: DMatrix<T>,
    g_bout: DVector<T>,
    loss: T,
    steps: usize,
}

impl<T: Scalar> FastOnline<T> {
    /// The state at `t = 0`.
    pub fn new(net: &Network, kernel: &Kernel<T>) -> Self {
        let (n, d, k, g) = (net.n, net.d(), net.n_out, kernel.gates);
        let w = net.n_in + n + 1;
        let p = g * w;
        let zero = T::zero();
        let spiking = net.cell.is_spiking();
        let eps_len = match net.cell {
            Cell::Rate(_) => n * w,
            Cell::Lif(_) | Cell::Alif(_) => w,
            Cell::Lstm(_) => n * 3 * w,
        };
        let reg = net.reg.is_some();
        FastOnline {
            h: vec![zero; n * d],
            h_new: vec![zero; n * d],
            refractory: vec![0; if spiking { n } else { 0 }],
            refractory_new: vec![0; if spiking { n } else { 0 }],
            z_prev: vec![zero; n],
            z: vec![zero; n],
            zh_prev: kernel.initial_zh().as_slice().to_vec(),
            zh: vec![zero; n * d],
            gain: vec![zero; g * n],
            decay: vec![zero; n],
            u: vec![zero; g * n],
            x: vec![zero; net.n_in],
            pre: vec![zero; w],
            y: vec![zero; k],
            y_new: vec![zero; k],
            g: vec![zero; k],
            target: vec![zero; k],
            signal: vec![zero; n],
            eps: vec![zero; eps_len],
            eps_a: vec![zero; if matches!(net.cell, Cell::Alif(_)) { n * w } else { 0 }],
            e_bar: vec![zero; n * p],
            acc: vec![zero; n * p],
            e_sum: vec![zero; if reg { n * p } else { 0 }],
            z_sum: vec![zero; if reg { n } else { 0 }],
            z_bar: vec![zero; n],
            b_bar: zero,
            g_out: DMatrix::zeros(k, n),
            g_bout: DVector::zeros(k),
            loss: zero,
            steps: 0,
        }
    }

    /// Number of scalars the state holds: a function of the network only, never of the number
    /// of steps consumed.
    pub fn len_scalars(&self) -> usize {
        [
            &self.h,
            &self.h_new,
            &self.z_prev,
            &self.z,
            &self.zh_prev,
            &self.zh,
            &self.gain,
            &self.decay,
            &self.u,
            &self.x,
            &self.pre,
            &self.y,
            &self.y_new,
            &self.g,
            &self.target,
            &self.signal,
            &self.eps,
            &self.eps_a,
            &self.e_bar,
            &self.acc,
            &self.e_sum,
            &self.z_sum,
            &self.z_bar,
        ]
        .iter()
        .map(|v| v.len())
        .sum::<usize>()
            + self.refractory.len()
            + self.refractory_new.len()
            + self.g_out.len()
            + self.g_bout.len()
            + 3
    }

    /// One step with input `x^t`, target and mask (the sequence's `f64` data), feedback `b`
    /// (`N × K`). Allocates nothing.
    pub fn step(
        &mut self,
        net: &Network,
        params: &Params<T>,
        kernel: &Kernel<T>,
        b: &DMatrix<T>,
        x: &DVector<f64>,
        target: &DVector<f64>,
        mask: f64,
    ) {
        let (n, n_in, k) = (net.n, net.n_in, net.n_out);
        let lag = net.readout.lag();
        let (kappa, c_out) = (T::c(net.readout.kappa), T::c(net.readout.c()));
        for (dst, &src) in self.x.iter_mut().zip(x.iter()) {
            *dst = T::c(src);
        }
        kernel.drive(&self.x, &self.z_prev, &mut self.u); // (K1)
        kernel.step(
            &self.u,
            StepIn { h: &self.h, refractory: &self.refractory, z: &self.z_prev },
            StepOut {
                h: &mut self.h_new,
                refractory: &mut self.refractory_new,
                z: &mut self.z,
                zh: &mut self.zh,
                gain: &mut self.gain,
                decay: &mut self.decay,
            },
        );
        // Eq. (Y1): y^t = κ y^{t−1} + c (W_out z^{t−δ} + b_out)
        let z_read = if lag == 0 { &self.z } else { &self.z_prev };
        DVectorViewMut::from_slice(&mut self.y_new, k).gemv(
            T::one(),
            params.w_out(),
            &DVectorView::from_slice(z_read, n),
            T::zero(),
        );
        let b_out = params.b_out();
        for q in 0..k {
            self.y_new[q] = self.y[q] * kappa + (self.y_new[q] + b_out[(q, 0)]) * c_out;
        }
        for (dst, &src) in self.target.iter_mut().zip(target.iter()) {
            *dst = T::c(src);
        }
        self.loss += loss_and_grad(net, &self.y_new, &self.target, T::c(mask), &mut self.g); // g^t
        // Eq. (E5): L^t = c B g^t
        DVectorViewMut::from_slice(&mut self.signal, n).gemv(
            T::one(),
            b,
            &DVectorView::from_slice(&self.g, k),
            T::zero(),
        );
        self.signal.iter_mut().for_each(|l| *l *= c_out);
        // the presynaptic row [x^t | z^{t−1} | 1] of every I^t (Eqs. R6, L7, M6)
        self.pre[..n_in].copy_from_slice(&self.x);
        self.pre[n_in..n_in + n].copy_from_slice(&self.z_prev);
        self.pre[n_in + n] = T::one();
        // the traces, specialised on the delay and the regulariser (no branch in the inner loops)
        match (lag == 0, net.reg.is_some()) {
            (true, false) => self.traces::<true, false>(net, kernel, kappa),
            (true, true) => self.traces::<true, true>(net, kernel, kappa),
            (false, false) => self.traces::<false, false>(net, kernel, kappa),
            (false, true) => self.traces::<false, true>(net, kernel, kappa),
        }
        // Eq. (E6): z̄^t = κ z̄^{t−1} + c z^{t−δ}, b̄^t = κ b̄^{t−1} + c; the exact readout gradient
        let z_read = if lag == 0 { &self.z } else { &self.z_prev };
        for j in 0..n {
            self.z_bar[j] = self.z_bar[j] * kappa + z_read[j] * c_out;
        }
        self.b_bar = self.b_bar * kappa + c_out;
        let gv = DVectorView::from_slice(&self.g, k);
        self.g_out.ger(T::one(), &gv, &DVectorView::from_slice(&self.z_bar, n), T::one());
        self.g_bout.axpy(self.b_bar, &gv, T::one());
        if net.reg.is_some() {
            for j in 0..n {
                self.z_sum[j] += self.z[j];
            }
        }
        std::mem::swap(&mut self.h, &mut self.h_new);
        std::mem::swap(&mut self.refractory, &mut self.refractory_new);
        std::mem::swap(&mut self.z_prev, &mut self.z);
        std::mem::swap(&mut self.zh_prev, &mut self.zh);
        std::mem::swap(&mut self.y, &mut self.y_new);
        self.steps += 1;
    }

    /// Eqs. (E1), (E2), (E5), (E12) in the cell's structure, (K10)–(K13): the traces of step `t`,
    /// their κ-filter and the gradient update, one fused loop per neuron. `LAG0`: `δ = 0`;
    /// `REG`: a regulariser (sum the unfiltered traces).
    fn traces<const LAG0: bool, const REG: bool>(&mut self, net: &Network, kernel: &Kernel<T>, kappa: T) {
        let (n, n_in) = (net.n, net.n_in);
        let w = n_in + n + 1;
        let p = kernel.gates * w;
        match &net.cell {
            Cell::Rate(_) => {
                for j in 0..n {
                    let (gj, dj, zj, lj) = (self.gain[j], self.decay[j], self.zh[j], self.signal[j]);
                    let row = j * p..(j + 1) * p;
                    let (eb, acc, es) =
                        (&mut self.e_bar[row.clone()], &mut self.acc[row.clone()], &mut self.e_sum);
                    let es = if REG { &mut es[row] } else { &mut es[..] };
                    let eps = &mut self.eps[j * w..(j + 1) * w];
                    for q in 0..w {
                        eps[q] = dj * eps[q] + gj * self.pre[q]; // (K10), Eq. (E1): D ε + I
                        update::<T, LAG0, REG>(kappa, q, zj * eps[q], lj, eb, acc, es); // Eq. (E2), (E5)
                    }
                }
            }
            Cell::Lif(c) => {
                let (alpha, zeta) = (T::c(c.spiking.alpha), T::c(c.spiking.zeta()));
                for q in 0..w {
                    self.eps[q] = alpha * self.eps[q] + zeta * self.pre[q]; // (K11), Eq. (E7)
                }
                for j in 0..n {
                    let (psi, lj) = (self.zh[j], self.signal[j]);
                    let row = j * p..(j + 1) * p;
                    let (eb, acc, es) =
                        (&mut self.e_bar[row.clone()], &mut self.acc[row.clone()], &mut self.e_sum);
                    let es = if REG { &mut es[row] } else { &mut es[..] };
                    // Eq. (E8): e_ji = ψ_j x̄_i; no autapse: W_rec[j, j] has no trace (its entries stay 0)
                    let eps = &self.eps;
                    for (lo, hi) in [(0, n_in + j), (n_in + j + 1, w)] {
                        for q in lo..hi {
                            update::<T, LAG0, REG>(kappa, q, psi * eps[q], lj, eb, acc, es);
                        }
                    }
                }
            }
            Cell::Alif(c) => {
                let (alpha, zeta) = (T::c(c.spiking.alpha), T::c(c.spiking.zeta()));
                let (rho, beta) = (T::c(c.rho), T::c(c.beta));
                for j in 0..n {
                    // (K12), Eq. (E9): ε^a = ψ^{t−1} x̄^{t−1} + (ρ − βψ^{t−1}) ε^a, before x̄ moves on
                    let psi_prev = self.zh_prev[2 * j];
                    let ea = &mut self.eps_a[j * w..(j + 1) * w];
                    for q in 0..w {
                        ea[q] = psi_prev * self.eps[q] + (rho - beta * psi_prev) * ea[q];
                    }
                }
                for q in 0..w {
                    self.eps[q] = alpha * self.eps[q] + zeta * self.pre[q]; // (K12), Eq. (E7)
                }
                for j in 0..n {
                    let (zv, za, lj) = (self.zh[2 * j], self.zh[2 * j + 1], self.signal[j]);
                    let row = j * p..(j + 1) * p;
                    let (eb, acc, es) =
                        (&mut self.e_bar[row.clone()], &mut self.acc[row.clone()], &mut self.e_sum);
                    let es = if REG { &mut es[row] } else { &mut es[..] };
                    let ea = &self.eps_a[j * w..(j + 1) * w];
                    // Eq. (E10): e = ψ ε^v − βψ ε^a (no autapse: the diagonal's entries stay 0)
                    let eps = &self.eps;
                    for (lo, hi) in [(0, n_in + j), (n_in + j + 1, w)] {
                        for q in lo..hi {
                            update::<T, LAG0, REG>(kappa, q, zv * eps[q] + za * ea[q], lj, eb, acc, es);
                        }
                    }
                }
            }
            Cell::Lstm(_) => {
                for j in 0..n {
                    let (f, zc, zo, lj) = (self.decay[j], self.zh[2 * j], self.zh[2 * j + 1], self.signal[j]);
                    let row = j * p..(j + 1) * p;
                    let (eb, acc, es) =
                        (&mut self.e_bar[row.clone()], &mut self.acc[row.clone()], &mut self.e_sum);
                    let es = if REG { &mut es[row] } else { &mut es[..] };
                    let eps = &mut self.eps[j * 3 * w..(j + 1) * 3 * w];
                    for gate in 0..3 {
                        let gj = self.gain[gate * n + j];
                        for q in 0..w {
                            let i = gate * w + q;
                            eps[i] = f * eps[i] + gj * self.pre[q]; // (K13), Eq. (E1): c-row
                            update::<T, LAG0, REG>(kappa, i, zc * eps[i], lj, eb, acc, es); // Eq. (E2)
                        }
                    }
                    let go = self.gain[3 * n + j];
                    for q in 0..w {
                        // (K13): the o-row has no memory, ε^o = ∂o/∂u_o [x | z | 1]
                        update::<T, LAG0, REG>(kappa, 3 * w + q, zo * (go * self.pre[q]), lj, eb, acc, es);
                    }
                }
            }
        }
    }

    /// Ends the sequence (the regulariser of Eq. E12 on the unfiltered traces) and returns the
    /// loss and the gradient.
    pub fn finish(mut self, net: &Network, kernel: &Kernel<T>) -> FastEprop<T> {
        let (n, n_in) = (net.n, net.n_in);
        let w = n_in + n + 1;
        let p = kernel.gates * w;
        if let Some(reg) = &net.reg {
            let z_sum = DVector::from_column_slice(&self.z_sum);
            let (e, gr) = reg.value_and_grad(&z_sum, self.steps); // Eq. (Y5)
            self.loss += e;
            for j in 0..n {
                for q in 0..p {
                    self.acc[j * p + q] += self.e_sum[j * p + q] * gr[j]; // Eq. (E12)
                }
            }
        }
        let mut grad = Params::zeros(net);
        for gate in 0..kernel.gates {
            for j in 0..n {
                let row = &self.acc[j * p + gate * w..j * p + (gate + 1) * w];
                for i in 0..n_in {
                    grad.tensors[3 * gate].value[(j, i)] = row[i];
                }
                for i in 0..n {
                    grad.tensors[3 * gate + 1].value[(j, i)] = row[n_in + i];
                }
                grad.tensors[3 * gate + 2].value[(j, 0)] = row[n_in + n];
            }
        }
        let nc = net.n_cell_tensors();
        grad.tensors[nc].value.copy_from(&self.g_out);
        grad.tensors[nc + 1].value.column_mut(0).copy_from(&self.g_bout);
        FastEprop { loss: self.loss, grad }
    }
}

/// The fused tail of every trace update, Eq. (E5): `ē^t = κ ē^{t−1} + e^t`, `Δθ += L^t ē^{t−δ}`
/// (`LAG0`: `δ = 0`, else the value before the update); Eq. (E12) with `REG`: `Σ_t e^t`.
#[inline(always)]
fn update<T: Scalar, const LAG0: bool, const REG: bool>(
    kappa: T,
    i: usize,
    e: T,
    l: T,
    e_bar: &mut [T],
    acc: &mut [T],
    e_sum: &mut [T],
) {
    let old = e_bar[i];
    let new = old * kappa + e;
    e_bar[i] = new;
    acc[i] += (if LAG0 { new } else { old }) * l;
    if REG {
        e_sum[i] += e;
    }
}
