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
//! — and the trace, its κ-filter and the gradient update are one fused loop per neuron
//! (block length 0), or are buffered for a block of steps and folded in by GEMMs
//! (`docs/fast.md` §4.1, (K19)–(K23) for rate and LIF; §4.2, (K40)–(K44) for the LSTM; §4.3,
//! (K45)–(K49) for the ALIF).
//!
//! Reference: Bellec et al. (2020), as [`crate::gradient`].

use crate::feedback::Feedback;
use credit_core::fast::{Kernel, StepIn, StepOut, loss_and_grad};
use credit_core::{Cell, CellModel, Network, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut, DVector, DVectorView, DVectorViewMut};

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
    gradient_with_block(net, params, seq, feedback, BLOCK)
}

/// [`gradient`] with blocks of `block` steps for rate, LIF (`docs/fast.md` §4.1), LSTM (§4.2)
/// and ALIF (§4.3) layers (`0`: per-step traces). Equal to [`crate::gradient`] for every `block`.
pub fn gradient_with_block<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    feedback: &Feedback<T>,
    block: usize,
) -> credit_core::Result<FastEprop<T>> {
    let kernel = Kernel::new(net, params)?;
    seq.validate(net)?;
    let b = crate::checked_feedback(net, params, feedback)?;
    let mut st = FastOnline::with_block(net, &kernel, block);
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
    /// `G_outᵀ` (`N × K`, column-major: element `(j, q)` at `q·N + j`), Eq. (E6).
    g_out_t: Vec<T>,
    g_bout: DVector<T>,
    loss: T,
    steps: usize,
    /// Rate and LIF: the last `≤ K` steps' factors, folded into the traces by GEMMs (K19)–(K23);
    /// LSTM: the same by (K40)–(K44); ALIF: by (K45)–(K49); `None` with block length 0
    /// (per-step traces).
    block: Option<Block<T>>,
}

/// Steps per block of the blocked trace update (`docs/fast.md` §4.1–§4.3): the GEMMs' inner
/// dimension. Memory `O(K·(W + 4N))` (rate, LIF), `O(K·(W + 7N))` (ALIF) or `O(K·(W + 24N))`
/// (LSTM), independent of `T`.
pub const BLOCK: usize = 64;

/// The buffered factors of up to [`BLOCK`] steps of a layer (`docs/fast.md` §4.1–§4.3):
/// column `u` is step `t₀ + u + 1`.
#[derive(Clone, Debug)]
struct Block<T> {
    /// Steps per block `K ≥ 1`.
    k: usize,
    /// Steps buffered, `B ≤ K`.
    len: usize,
    /// The decay `a` of (K19): `1 − α` (rate), `α` (LIF, ALIF's `x̄`); unused for the LSTM
    /// (`f^u_j`, `dec`).
    a: T,
    /// `π^u = [x | z^{t−1} | 1]`, `W × K`.
    pi: Vec<T>,
    /// `γ^u`, `GN × K` (rate, LIF: `γ^u_j`; LSTM: `γ^u_{gN+j}`, the four gates, (K3)); empty
    /// for the ALIF (`γ = ζ`).
    gam: Vec<T>,
    /// `∂z^u/∂h^u`, `Nd × K` (rate, LIF: `ψ^u_j`; LSTM: `ψ^{c,u}_j` at `2j`, `ψ^{o,u}_j` at `2j+1`;
    /// ALIF: `ψ^u_j` at `2j`, `−βψ^u_j` at `2j+1`).
    psi: Vec<T>,
    /// LSTM: the forget gate `f^u_j` (K4), `N × K`; empty otherwise.
    dec: Vec<T>,
    /// `L^u_j`, `N × K`.
    sig: Vec<T>,
    /// The GEMM right factors, each `K × GN` (rate, LIF: row-major, element `(u, j)` at
    /// `u·N + j`; LSTM, ALIF: element `(u, c)` at `c·K + u`, LSTM: `c = 4j + g`, and `c = 3j + g`
    /// in the fourth): `γ ⊙ N̂` (K21, K41), `γ ⊙ R̂`
    /// (K22, K42), `γ ⊙ Ŝ` (K23, K43), `γ a^{B−1−u}` (K20) or `γ F^u` (K40).
    coef: [Vec<T>; 4],
    /// Rate, LIF: the scans' four `N`-vectors `L̃`, `N̂`, `R̂`, `Ŝ`, then `c₀`, `a N̂⁰`, `a R̂⁰`,
    /// `a Ŝ⁰` (K21)–(K23), `N × 4` column-major; LSTM: `c₀`, `f⁰N̂⁰`,
    /// `f⁰R̂⁰`, `f⁰Ŝ⁰`, `F` (K40)–(K43), `N × 5`; ALIF: `c₀`, the four `x̄⁰` factors and the
    /// four `ε^{a,0}` factors of (K47)–(K49), `N × 9`.
    head: Vec<T>,
    /// ALIF: `ψ^{t₀}_j`, the `ψ` of the step before the block (it sets `ε^a`'s first decay
    /// `ρ − βψ^{t₀}`), `N`; empty otherwise.
    psi0: Vec<T>,
}

impl<T: Scalar> FastOnline<T> {
    /// The state at `t = 0` (blocks of [`BLOCK`] steps, `docs/fast.md` §4.1–§4.3).
    pub fn new(net: &Network, kernel: &Kernel<T>) -> Self {
        Self::with_block(net, kernel, BLOCK)
    }

    /// The state at `t = 0` with blocks of `block` steps for rate, LIF (§4.1), LSTM (§4.2) and
    /// ALIF (§4.3) layers; `block = 0`: per-step traces (K10)–(K13) for every cell. Every block length gives the
    /// same gradient up to rounding (the relation `eprop-fast=eprop` runs 0, 7 and [`BLOCK`]).
    pub fn with_block(net: &Network, kernel: &Kernel<T>, block: usize) -> Self {
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
            g_out_t: vec![zero; n * k],
            g_bout: DVector::zeros(k),
            loss: zero,
            steps: 0,
            block: match &net.cell {
                _ if block == 0 => None,
                Cell::Rate(c) => Some(Block::new(n, w, 1, T::one() - T::c(c.alpha), block)),
                Cell::Lif(c) => Some(Block::new(n, w, 1, T::c(c.spiking.alpha), block)),
                Cell::Lstm(_) => Some(Block::new(n, w, 4, T::one(), block)),
                Cell::Alif(c) => {
                    let zh0 = kernel.initial_zh();
                    Some(Block::new_alif(n, w, T::c(c.spiking.alpha), block, zh0.as_slice()))
                }
            },
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
            + self.g_out_t.len()
            + self.g_bout.len()
            + 3
            + self.block.as_ref().map_or(0, |b| {
                b.pi.len()
                    + b.gam.len()
                    + b.psi.len()
                    + b.dec.len()
                    + b.sig.len()
                    + b.head.len()
                    + b.psi0.len()
                    + b.coef.iter().map(Vec::len).sum::<usize>()
            })
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
        // W_out z^{t−δ}: per output q a dot product over the row q of the column-major K × N
        // slice (stride K), four partial sums (K ≪ N: a loop over the N columns with a length-K
        // inner loop pays the loop overhead N times per step)
        let w_out = params.w_out().as_slice();
        for (q, v) in self.y_new.iter_mut().enumerate() {
            *v = strided_dot(&w_out[q..], k, z_read);
        }
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
        if let Some(blk) = &mut self.block {
            // every cell: buffer the step's factors; every K steps, fold them in by GEMMs (§4.1–§4.3)
            blk.push(n, &self.pre, &self.gain, &self.zh, &self.decay, &self.signal);
            if blk.len == blk.k {
                self.flush(net, kappa);
            }
        } else {
            // the traces, specialised on the delay and the regulariser (no branch in the inner loops)
            self.per_step_traces(net, kernel, kappa);
        }
        // Eq. (E6): z̄^t = κ z̄^{t−1} + c z^{t−δ}, b̄^t = κ b̄^{t−1} + c; the exact readout gradient
        let z_read = if lag == 0 { &self.z } else { &self.z_prev };
        for j in 0..n {
            self.z_bar[j] = self.z_bar[j] * kappa + z_read[j] * c_out;
        }
        self.b_bar = self.b_bar * kappa + c_out;
        // Eq. (E6): G_out += g^t (z̄^t)ᵀ, kept transposed (`g_out_t`, N × K column-major: row q
        // of G_out contiguous) so that the inner loop runs over the N neurons (K ≪ N)
        for (row, &gq) in self.g_out_t.chunks_exact_mut(n).zip(&self.g) {
            for (o, &zb) in row.iter_mut().zip(&self.z_bar) {
                *o += gq * zb;
            }
        }
        let gv = DVectorView::from_slice(&self.g, k);
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

    /// The per-step traces, specialised on the delay and the regulariser (no branch in the
    /// inner loops).
    fn per_step_traces(&mut self, net: &Network, kernel: &Kernel<T>, kappa: T) {
        match (net.readout.lag() == 0, net.reg.is_some()) {
            (true, false) => self.traces::<true, false>(net, kernel, kappa),
            (true, true) => self.traces::<true, true>(net, kernel, kappa),
            (false, false) => self.traces::<false, false>(net, kernel, kappa),
            (false, true) => self.traces::<false, true>(net, kernel, kappa),
        }
    }

    /// Folds the buffered steps `t₀+1 … t₀+B` of a rate or LIF layer into `Δ` (`acc`), `ē`,
    /// `Σ e` and `ε` by (K19)–(K23) of `docs/fast.md` §4.1: three backward scans over the
    /// block (outer loop over the steps, inner loop over the neurons), `O(W)` element-wise
    /// work per neuron; then one GEMM `(W × B)·(B × N)` per quantity. Exact up to rounding.
    fn flush(&mut self, net: &Network, kappa: T) {
        if matches!(net.cell, Cell::Lstm(_)) {
            return self.flush_lstm(net, kappa);
        }
        if matches!(net.cell, Cell::Alif(_)) {
            return self.flush_alif(net, kappa);
        }
        let Some(blk) = &mut self.block else { return };
        let bl = blk.len;
        if bl == 0 {
            return;
        }
        let (n, w) = (net.n, net.n_in + net.n + 1);
        let (lag0, reg, rate) =
            (net.readout.lag() == 0, net.reg.is_some(), matches!(net.cell, Cell::Rate(_)));
        let (a, zero) = (blk.a, T::zero());
        let (mut kappa_b, mut a_b) = (T::one(), T::one());
        for _ in 0..bl {
            kappa_b *= kappa;
            a_b *= a;
        }
        // backward scans (K21)–(K23), u = B−1 … 0 (0-based steps of the block), all neurons at
        // once: the state L̃^{u+1}, N̂, R̂, Ŝ is four N-vectors (`head`, N × 4 column-major), the
        // inner loop runs over the neurons j on contiguous rows and vectorises
        let (lt_v, rest) = blk.head[..4 * n].split_at_mut(n);
        let (nh_v, rest) = rest.split_at_mut(n);
        let (rh_v, sh_v) = rest.split_at_mut(n);
        for v in [&mut *lt_v, &mut *nh_v, &mut *rh_v, &mut *sh_v] {
            v.iter_mut().for_each(|x| *x = zero);
        }
        let (mut kpow, mut apow) = (T::one(), T::one());
        let [c_n, c_r, c_s, c_a] = &mut blk.coef;
        for u in (0..bl).rev() {
            let row = u * n..(u + 1) * n;
            let (psi, gam, sig) = (&blk.psi[row.clone()], &blk.gam[row.clone()], &blk.sig[row.clone()]);
            let (c_n, c_r) = (&mut c_n[row.clone()], &mut c_r[row.clone()]);
            let (c_s, c_a) = (&mut c_s[row.clone()], &mut c_a[row]);
            for j in 0..n {
                let (ps, ga, ltn) = (psi[j], gam[j], lt_v[j]);
                let lt = sig[j] + kappa * ltn; // (K21): L̃^u = L^u + κ L̃^{u+1}
                let m = if lag0 { lt } else { ltn }; // δ = 0: L̃^u; δ = 1: L̃^{u+1}
                let nh = ps * m + a * nh_v[j]; // (K21): N̂^u = ψ^u M^u + a N̂^{u+1}
                let rh = kpow * ps + a * rh_v[j]; // (K22): R̂^u = κ^{B−1−u} ψ^u + a R̂^{u+1}
                let sh = ps + a * sh_v[j]; // (K23): Ŝ^u = ψ^u + a Ŝ^{u+1}
                c_n[j] = ga * nh;
                c_r[j] = ga * rh;
                c_s[j] = ga * sh;
                c_a[j] = ga * apow; // (K20): γ^u a^{B−1−u}
                (lt_v[j], nh_v[j], rh_v[j], sh_v[j]) = (lt, nh, rh, sh);
            }
            kpow *= kappa;
            apow *= a;
        }
        for j in 0..n {
            // (K21): c₀ = κ L̃⁰ (δ = 0) or L̃⁰ (δ = 1); the factors a N̂⁰, a R̂⁰, a Ŝ⁰ of ε⁰
            lt_v[j] = if lag0 { kappa * lt_v[j] } else { lt_v[j] };
            nh_v[j] *= a;
            rh_v[j] *= a;
            sh_v[j] *= a;
        }
        // the element-wise terms of the block's start, ε⁰ = ε^{t₀} (rate: row j; LIF: shared)
        for j in 0..n {
            let [c0, an, ar, as_] = [lt_v[j], nh_v[j], rh_v[j], sh_v[j]];
            let eps0 = if rate { &self.eps[j * w..(j + 1) * w] } else { &self.eps[..w] };
            let row = j * w..(j + 1) * w;
            let (acc, eb) = (&mut self.acc[row.clone()], &mut self.e_bar[row.clone()]);
            for q in 0..w {
                acc[q] += c0 * eb[q] + an * eps0[q]; // (K21)
                eb[q] = kappa_b * eb[q] + ar * eps0[q]; // (K22)
            }
            if reg {
                for (es, &e0) in self.e_sum[row].iter_mut().zip(eps0) {
                    *es += as_ * e0; // (K23)
                }
            }
        }
        // the GEMMs: Δᵀ += Π (γ⊙N̂), ēᵀ += Π (γ⊙R̂), (Σe)ᵀ += Π (γ⊙Ŝ); all W × N, column-major
        let pi = DMatrixView::from_slice_with_strides(&blk.pi, w, bl, 1, w);
        // the right factors are row-major B × N (element (u, j) at u·N + j)
        fn coef<T: Scalar>(c: &[T], bl: usize, n: usize) -> DMatrixView<'_, T, nalgebra::Dyn, nalgebra::Dyn> {
            DMatrixView::from_slice_with_strides(c, bl, n, n, 1)
        }
        DMatrixViewMut::from_slice(&mut self.acc, w, n).gemm(
            T::one(),
            &pi,
            &coef(&blk.coef[0], bl, n),
            T::one(),
        );
        DMatrixViewMut::from_slice(&mut self.e_bar, w, n).gemm(
            T::one(),
            &pi,
            &coef(&blk.coef[1], bl, n),
            T::one(),
        );
        if reg {
            DMatrixViewMut::from_slice(&mut self.e_sum, w, n).gemm(
                T::one(),
                &pi,
                &coef(&blk.coef[2], bl, n),
                T::one(),
            );
        }
        // (K20): ε^{t₀+B} = a^B ε^{t₀} + Σ_u a^{B−1−u} γ^u π^u
        if rate {
            self.eps.iter_mut().for_each(|e| *e *= a_b);
            DMatrixViewMut::from_slice(&mut self.eps, w, n).gemm(
                T::one(),
                &pi,
                &coef(&blk.coef[3], bl, n),
                T::one(),
            );
        } else {
            // LIF: γ = ζ for every neuron, so ε̄ is one W-vector: ε̄ = a^B ε̄ + Π (column 0 of the coefficients)
            self.eps.iter_mut().for_each(|e| *e *= a_b);
            let c0 = DMatrixView::from_slice_with_strides(&blk.coef[3], bl, 1, n, 1);
            DMatrixViewMut::from_slice(&mut self.eps, w, 1).gemm(T::one(), &pi, &c0, T::one());
        }
        blk.len = 0;
    }

    /// Folds the buffered steps `t₀+1 … t₀+B` of an LSTM layer into `Δ` (`acc`), `ē`, `Σ e` and
    /// `ε^c` by (K40)–(K44) of `docs/fast.md` §4.2: per neuron, one backward scan over the block
    /// (the forget gates `f^u_j` in place of the rate cell's constant `a`) and `O(W)`
    /// element-wise work per gate; then one GEMM `(W × B)·(B × 4N)` per filtered quantity and one
    /// `(W × B)·(B × 3N)` for `ε^c`. Exact up to rounding.
    fn flush_lstm(&mut self, net: &Network, kappa: T) {
        let Some(blk) = &mut self.block else { return };
        let (bl, kk) = (blk.len, blk.k);
        if bl == 0 {
            return;
        }
        let (n, w) = (net.n, net.n_in + net.n + 1);
        let (p, gn) = (4 * w, 4 * n);
        let (lag0, reg) = (net.readout.lag() == 0, net.reg.is_some());
        let (zero, one) = (T::zero(), T::one());
        let mut kappa_b = one;
        for _ in 0..bl {
            kappa_b *= kappa;
        }
        // disjoint borrows of the block's buffers (the scan reads four and writes four)
        let (psi, sig, dec, gam, head) =
            (&blk.psi[..], &blk.sig[..], &blk.dec[..], &blk.gam[..], &mut blk.head);
        let [c_n, c_r, c_s, c_f] = &mut blk.coef;
        for j in 0..n {
            // backward scans (K41)–(K43), u = B−1 … 0 (0-based steps of the block); `f_next` is
            // f^{u+1} (1 at u = B−1, where the scans start from 0), `f_prod` is F^u = Π_{s>u} f^s
            let (mut lt_next, mut n_hat, mut r_hat, mut s_hat) = (zero, zero, zero, zero);
            let (mut kpow, mut f_next, mut f_prod) = (one, one, one);
            for u in (0..bl).rev() {
                let (psi_c, psi_o) = (psi[u * 2 * n + 2 * j], psi[u * 2 * n + 2 * j + 1]);
                let lt = sig[u * n + j] + kappa * lt_next; // (K41): L̃^u = L^u + κ L̃^{u+1}
                let m = if lag0 { lt } else { lt_next }; // δ = 0: L̃^u; δ = 1: L̃^{u+1}
                n_hat = psi_c * m + f_next * n_hat; // (K41): N̂^u = ψ^{c,u} M^u + f^{u+1} N̂^{u+1}
                r_hat = kpow * psi_c + f_next * r_hat; // (K42): R̂^u = κ^{B−1−u} ψ^{c,u} + f^{u+1} R̂^{u+1}
                s_hat = psi_c + f_next * s_hat; // (K43): Ŝ^u = ψ^{c,u} + f^{u+1} Ŝ^{u+1}
                f_prod *= f_next; // (K40): F^u = f^{u+1} F^{u+1}
                for g in 0..3 {
                    // gates i, f, c: the c-row's trace, (K40)–(K43)
                    let gm = gam[u * gn + g * n + j];
                    let col = (4 * j + g) * kk + u;
                    c_n[col] = gm * n_hat;
                    c_r[col] = gm * r_hat;
                    c_s[col] = gm * s_hat;
                    c_f[(3 * j + g) * kk + u] = gm * f_prod;
                }
                // gate o: no memory, e^u = ψ^{o,u} γ^u_o π^u (K44)
                let go = gam[u * gn + 3 * n + j] * psi_o;
                let col = (4 * j + 3) * kk + u;
                c_n[col] = go * m;
                c_r[col] = go * kpow;
                c_s[col] = go;
                lt_next = lt;
                kpow *= kappa;
                f_next = dec[u * n + j];
            }
            // after the scan f_next = f^0 (the block's first step): F = f⁰ F⁰ = Π_u f^u
            let c0 = if lag0 { kappa * lt_next } else { lt_next }; // (K41): c₀
            head[5 * j..5 * j + 5].copy_from_slice(&[
                c0,
                f_next * n_hat,
                f_next * r_hat,
                f_next * s_hat,
                f_next * f_prod,
            ]);
        }
        // the element-wise terms of the block's start, ε^{c,0} = ε^{c,t₀} (row j, gates i, f, c)
        for j in 0..n {
            let [c0, fn_, fr, fs, ff] = std::array::from_fn(|i| blk.head[5 * j + i]);
            for g in 0..4 {
                let row = j * p + g * w..j * p + (g + 1) * w;
                let (acc, eb) = (&mut self.acc[row.clone()], &mut self.e_bar[row.clone()]);
                if g == 3 {
                    for q in 0..w {
                        acc[q] += c0 * eb[q]; // (K44)
                        eb[q] *= kappa_b; // (K44)
                    }
                    continue;
                }
                let eps0 = &mut self.eps[(3 * j + g) * w..(3 * j + g + 1) * w];
                for q in 0..w {
                    acc[q] += c0 * eb[q] + fn_ * eps0[q]; // (K41)
                    eb[q] = kappa_b * eb[q] + fr * eps0[q]; // (K42)
                }
                if reg {
                    for (es, &e0) in self.e_sum[row].iter_mut().zip(eps0.iter()) {
                        *es += fs * e0; // (K43)
                    }
                }
                eps0.iter_mut().for_each(|e| *e *= ff); // (K40): F ε^{c,0}
            }
        }
        // the GEMMs: Δᵀ += Π (γ⊙N̂), ēᵀ += Π (γ⊙R̂), (Σe)ᵀ += Π (γ⊙Ŝ), all W × 4N column-major
        // (column 4j + g); ε^{cᵀ} += Π (γ⊙F), W × 3N (column 3j + g)
        let pi = DMatrixView::from_slice_with_strides(&blk.pi, w, bl, 1, w);
        let coef =
            |c: usize, cols: usize| DMatrixView::from_slice_with_strides(&blk.coef[c], bl, cols, 1, kk);
        DMatrixViewMut::from_slice(&mut self.acc, w, gn).gemm(one, &pi, &coef(0, gn), one);
        DMatrixViewMut::from_slice(&mut self.e_bar, w, gn).gemm(one, &pi, &coef(1, gn), one);
        if reg {
            DMatrixViewMut::from_slice(&mut self.e_sum, w, gn).gemm(one, &pi, &coef(2, gn), one);
        }
        DMatrixViewMut::from_slice(&mut self.eps, w, 3 * n).gemm(one, &pi, &coef(3, 3 * n), one);
        blk.len = 0;
    }

    /// Folds the buffered steps `t₀+1 … t₀+B` of an ALIF layer into `Δ` (`acc`), `ē`, `Σ e`,
    /// `ε^a` and `x̄` by (K45)–(K49) of `docs/fast.md` §4.3: per neuron, one backward scan over
    /// the block (the adaptation's decay `ρ − βψ^u_j` per neuron and step, like the LSTM's forget
    /// gate) and `O(W)` element-wise work; then one GEMM `(W × B)·(B × N)` per quantity and
    /// `O(WB)` for the shared `x̄`. Exact up to rounding.
    fn flush_alif(&mut self, net: &Network, kappa: T) {
        let Cell::Alif(c) = &net.cell else { return };
        let Some(blk) = &mut self.block else { return };
        let (bl, kk) = (blk.len, blk.k);
        if bl == 0 {
            return;
        }
        let (n, w) = (net.n, net.n_in + net.n + 1);
        let (lag0, reg) = (net.readout.lag() == 0, net.reg.is_some());
        let (alpha, zeta) = (T::c(c.spiking.alpha), T::c(c.spiking.zeta()));
        let (rho, beta) = (T::c(c.rho), T::c(c.beta));
        let (zero, one) = (T::zero(), T::one());
        let (mut kappa_b, mut alpha_b) = (one, one);
        for _ in 0..bl {
            kappa_b *= kappa;
            alpha_b *= alpha;
        }
        let (psi, sig, head, psi0) = (&blk.psi[..], &blk.sig[..], &mut blk.head, &mut blk.psi0);
        let [c_n, c_r, c_s, c_a] = &mut blk.coef;
        for j in 0..n {
            // backward scans (K46), u = B−1 … 0 (0-based steps of the block), for the four
            // weightings: Δ (M^u), ē (κ^{B−1−u}), Σe (1), ε^{a,B} (1 at the last step only)
            let mut lt_next = zero;
            let mut kpow = one;
            let (mut a_hat, mut h_hat) = ([zero; 4], [zero; 4]);
            for u in (0..bl).rev() {
                let (psi_v, psi_a) = (psi[u * 2 * n + 2 * j], psi[u * 2 * n + 2 * j + 1]); // ψ^u, −βψ^u
                let lt = sig[u * n + j] + kappa * lt_next; // (K21): L̃^u = L^u + κ L̃^{u+1}
                let m = if lag0 { lt } else { lt_next }; // δ = 0: L̃^u; δ = 1: L̃^{u+1}
                let decay = rho - beta * psi_v; // (K45): ε^a's decay from step u to u+1
                let wt = [m, kpow, one];
                for i in 0..3 {
                    // (K46): Ĥ^u = w^u ψ^u + ψ^u Â^{u+1} + α Ĥ^{u+1}, Â^u = w^u (−βψ^u) + (ρ − βψ^u) Â^{u+1}
                    h_hat[i] = psi_v * (wt[i] + a_hat[i]) + alpha * h_hat[i];
                    a_hat[i] = wt[i] * psi_a + decay * a_hat[i];
                }
                // (K49): ε^{a,B} — Ĥ^u = ψ^u Â^{u+1} + α Ĥ^{u+1}, Â^u = [u = B−1] + (ρ − βψ^u) Â^{u+1}
                h_hat[3] = psi_v * a_hat[3] + alpha * h_hat[3];
                a_hat[3] = if u + 1 == bl { one } else { decay * a_hat[3] };
                c_n[j * kk + u] = zeta * h_hat[0]; // (K47)
                c_r[j * kk + u] = zeta * h_hat[1]; // (K48)
                c_s[j * kk + u] = zeta * h_hat[2]; // (K48)
                c_a[j * kk + u] = zeta * h_hat[3]; // (K49)
                lt_next = lt;
                kpow *= kappa;
            }
            let c0 = if lag0 { kappa * lt_next } else { lt_next }; // (K21): c₀
            let (p0, decay0) = (psi0[j], rho - beta * psi0[j]); // ψ^{t₀}, ρ − βψ^{t₀}
            let hd = &mut head[9 * j..9 * j + 9];
            hd[0] = c0;
            for i in 0..4 {
                hd[1 + i] = alpha * h_hat[i] + p0 * a_hat[i]; // (K47)–(K49): the factor of x̄⁰
                hd[5 + i] = decay0 * a_hat[i]; // (K47)–(K49): the factor of ε^{a,0}
            }
            psi0[j] = psi[(bl - 1) * 2 * n + 2 * j]; // the next block's ψ^{t₀}
        }
        // the element-wise terms of the block's start: x̄⁰ (shared) and ε^{a,0} (row j)
        let xb0 = &self.eps[..w];
        for j in 0..n {
            let hd = &blk.head[9 * j..9 * j + 9];
            let row = j * w..(j + 1) * w;
            let (acc, eb) = (&mut self.acc[row.clone()], &mut self.e_bar[row.clone()]);
            let ea = &mut self.eps_a[row.clone()];
            for q in 0..w {
                acc[q] += hd[0] * eb[q] + hd[1] * xb0[q] + hd[5] * ea[q]; // (K47)
                eb[q] = kappa_b * eb[q] + hd[2] * xb0[q] + hd[6] * ea[q]; // (K48)
            }
            if reg {
                for ((es, &x0), &a0) in self.e_sum[row].iter_mut().zip(xb0).zip(ea.iter()) {
                    *es += hd[3] * x0 + hd[7] * a0; // (K48)
                }
            }
            for (a0, &x0) in ea.iter_mut().zip(xb0) {
                *a0 = hd[8] * *a0 + hd[4] * x0; // (K49)
            }
        }
        // (K45): x̄^{t₀+B} = α^B x̄^{t₀} + ζ Σ_u α^{B−1−u} π^u (one W-vector, O(WB))
        self.eps.iter_mut().for_each(|e| *e *= alpha_b);
        let mut apow = zeta;
        for u in (0..bl).rev() {
            for (e, &p) in self.eps.iter_mut().zip(&blk.pi[u * w..(u + 1) * w]) {
                *e += apow * p;
            }
            apow *= alpha;
        }
        // the GEMMs: Δᵀ += Π (ζĤ), ēᵀ += Π (ζĤ), (Σe)ᵀ += Π (ζĤ), ε^{aᵀ} += Π (ζĤ); all W × N
        let pi = DMatrixView::from_slice_with_strides(&blk.pi, w, bl, 1, w);
        let coef = |c: usize| DMatrixView::from_slice_with_strides(&blk.coef[c], bl, n, 1, kk);
        DMatrixViewMut::from_slice(&mut self.acc, w, n).gemm(one, &pi, &coef(0), one);
        DMatrixViewMut::from_slice(&mut self.e_bar, w, n).gemm(one, &pi, &coef(1), one);
        if reg {
            DMatrixViewMut::from_slice(&mut self.e_sum, w, n).gemm(one, &pi, &coef(2), one);
        }
        DMatrixViewMut::from_slice(&mut self.eps_a, w, n).gemm(one, &pi, &coef(3), one);
        blk.len = 0;
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
        self.flush(net, T::c(net.readout.kappa));
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
        if !net.cell.allows_autapses() {
            // no autapse (Eq. L7): the blocked update of §4.1 fills these entries, the literal has none
            grad.tensors[1].value.fill_diagonal(T::zero());
        }
        let nc = net.n_cell_tensors();
        for (q, row) in self.g_out_t.chunks_exact(n).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                grad.tensors[nc].value[(q, j)] = v; // G_out = (G_outᵀ)ᵀ, Eq. (E6)
            }
        }
        grad.tensors[nc + 1].value.column_mut(0).copy_from(&self.g_bout);
        FastEprop { loss: self.loss, grad }
    }
}

impl<T: Scalar> Block<T> {
    /// `g` drive rows per neuron: 1 (rate, LIF; `d = 1`) or 4 (LSTM; `d = 2`, decays `f^u_j`).
    fn new(n: usize, w: usize, g: usize, a: T, k: usize) -> Self {
        let z = T::zero();
        let lstm = g == 4;
        Block {
            k,
            len: 0,
            a,
            pi: vec![z; w * k],
            gam: vec![z; g * n * k],
            psi: vec![z; if lstm { 2 } else { 1 } * n * k],
            dec: vec![z; if lstm { n * k } else { 0 }],
            sig: vec![z; n * k],
            coef: std::array::from_fn(|_| vec![z; k * g * n]),
            head: vec![z; if lstm { 5 } else { 4 } * n],
            psi0: Vec::new(),
        }
    }

    /// The ALIF's block (`docs/fast.md` §4.3): `a = α`; buffers `π^u`, `∂z^u/∂h^u = (ψ^u, −βψ^u)`
    /// (`2N × K`) and `L^u`, no gains (`γ = ζ`); `zh0` is `∂z⁰/∂h⁰` of the initial state (`2N`).
    fn new_alif(n: usize, w: usize, alpha: T, k: usize, zh0: &[T]) -> Self {
        let z = T::zero();
        Block {
            k,
            len: 0,
            a: alpha,
            pi: vec![z; w * k],
            gam: Vec::new(),
            psi: vec![z; 2 * n * k],
            dec: Vec::new(),
            sig: vec![z; n * k],
            coef: std::array::from_fn(|_| vec![z; k * n]),
            head: vec![z; 9 * n],
            psi0: (0..n).map(|j| zh0[2 * j]).collect(),
        }
    }

    /// Buffers step `u = len`: `π^u`, `γ^u` (`GN`), `∂z^u/∂h^u` (`Nd`; rate, LIF: `ψ^u`), the
    /// LSTM's `f^u`, `L^u`.
    fn push(&mut self, n: usize, pre: &[T], gain: &[T], zh: &[T], decay: &[T], signal: &[T]) {
        let (u, w) = (self.len, pre.len());
        let (gn, nd) = (self.gam.len() / self.k, self.psi.len() / self.k);
        self.pi[u * w..(u + 1) * w].copy_from_slice(pre);
        self.gam[u * gn..(u + 1) * gn].copy_from_slice(&gain[..gn]);
        self.psi[u * nd..(u + 1) * nd].copy_from_slice(&zh[..nd]);
        if !self.dec.is_empty() {
            self.dec[u * n..(u + 1) * n].copy_from_slice(&decay[..n]);
        }
        self.sig[u * n..(u + 1) * n].copy_from_slice(&signal[..n]);
        self.len += 1;
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

/// `Σ_j a[j·stride] z[j]` over `z.len()` terms (`a` holds at least `(z.len() − 1)·stride + 1`
/// elements), with four partial sums: row `q` of a column-major `K × N` matrix times `z`, for
/// the readout of Eq. (Y1).
#[inline]
fn strided_dot<T: Scalar>(a: &[T], stride: usize, z: &[T]) -> T {
    let mut s = [T::zero(); 4];
    let mut quads = z.chunks_exact(4);
    let mut base = 0;
    for zq in &mut quads {
        for (l, (sl, &zl)) in s.iter_mut().zip(zq).enumerate() {
            *sl += a[base + l * stride] * zl;
        }
        base += 4 * stride;
    }
    for (l, &zl) in quads.remainder().iter().enumerate() {
        s[l] += a[base + l * stride] * zl;
    }
    (s[0] + s[1]) + (s[2] + s[3])
}
