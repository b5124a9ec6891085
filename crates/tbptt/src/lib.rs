//! # credit-tbptt — truncated BPTT, online: E-BPTT and F-BPTT
//!
//! Literal transcriptions of `docs/tbptt.md` (Marschall, Cho & Savin, "A unified framework of
//! online learning algorithms for training recurrent neural networks", JMLR 21 (2020),
//! arXiv:1907.02649, §4.1; authors' code `omarschall/vanilla-rtrl`,
//! `learning_algorithms/Efficient_BPTT.py` and `Future_BPTT.py`), for any cell of `credit-core`
//! and any scalar. Both keep a buffer of at most `truncation` steps and run BPTT's reverse
//! recursion (B1)–(B6) of `docs/bptt.md` over it, with every quantity beyond the buffer's end
//! set to zero (`λ^{b+1} = 0`, `ȳ^{b+1} = 0`, Eq. TB1):
//!
//! * [`Ebptt`] (E-BPTT): non-overlapping windows of `L = truncation` steps; when a window
//!   closes, every step `s` of it receives the credit of the losses `t ∈ [s, b]`, `b` the
//!   window's last step (Eq. TB2);
//! * [`Fbptt`] (F-BPTT): a sliding window; step `s` receives the credit of the losses
//!   `t ∈ [s, s + L − 1]` once step `s + L − 1` has been seen (Eq. TB3). Unlike `vanilla-rtrl`,
//!   [`Fbptt::finish`] also settles the last `L − 1` steps (with the losses up to `T`), so a
//!   window `L ≥ T` is exactly BPTT.
//!
//! Both equal BPTT when `truncation ≥ T` (property P16). The firing-rate regulariser (Y5) is
//! refused (`network.reg`): it depends on the whole sequence's rates, not on per-step losses.
//!
//! ## Requirements
//! Any [`credit_core::Cell`]; any [`Scalar`]. Online: the state's size is bounded by the window
//! (`len_scalars`), never by `T`. Memory `O(L·(N·d·P_loc + N²d))` for the buffered local
//! Jacobians; compute per step `O(N²d + N·d·P_loc)` for E-BPTT and `L` times that for F-BPTT.

use credit_core::online::for_each_step;
use credit_core::{CellModel, CellState, LocalJacobians, Network, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};
use std::collections::VecDeque;

/// What a truncated BPTT run returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Truncated<T: Scalar> {
    /// The loss `E = Σ_t m^t E^t`.
    pub loss: T,
    /// The truncated-BPTT gradient.
    pub grad: Params<T>,
}

/// What the reverse recursion needs of one step `s` (buffered until the step is settled).
#[derive(Clone, Debug)]
pub struct Record<T: Scalar> {
    /// `D^s`, `∂M^s/∂z^{s−1}`, `I^s` at `(h^{s−1}, z^{s−1}, x^s)`.
    pub jac: LocalJacobians<T>,
    /// `∂z^s/∂h^s`, `N × d`.
    pub z_h: DMatrix<T>,
    /// `g^s = m^s ∂E^s/∂y^s`.
    pub g: DVector<T>,
    /// `z^{s−δ}` (what the readout reads at `s`).
    pub z_read: DVector<T>,
}

impl<T: Scalar> Record<T> {
    fn len_scalars(&self) -> usize {
        self.jac.d.iter().map(|b| b.len()).sum::<usize>()
            + self.jac.m_z.len()
            + self.jac.i.iter().map(|b| b.len()).sum::<usize>()
            + self.z_h.len()
            + self.g.len()
            + self.z_read.len()
    }
}

/// The forward half shared by both rules: the cell, `z`, `y` of the last step.
#[derive(Clone, Debug)]
struct Forward<T: Scalar> {
    cell: CellState<T>,
    z: DVector<T>,
    y: DVector<T>,
}

impl<T: Scalar> Forward<T> {
    fn new(net: &Network) -> Self {
        Forward {
            cell: CellState::zeros(net.n, net.d(), net.cell.is_spiking()),
            z: DVector::zeros(net.n),
            y: DVector::zeros(net.n_out),
        }
    }

    /// One step of the forward pass; returns the step's record and its masked loss.
    fn step(
        &mut self,
        net: &Network,
        params: &Params<T>,
        w: &[DMatrix<T>],
        x: &DVector<T>,
        target: &DVector<T>,
        mask: T,
    ) -> (Record<T>, T) {
        let jac = net.cell.jacobians(w, &self.cell, &self.z, x);
        let cell = net.cell.step(w, &self.cell, &self.z, x, &Default::default());
        let z = net.cell.output(&cell);
        let z_h = net.cell.output_jacobian(&cell);
        let z_read = if net.readout.lag() == 0 { z.clone() } else { self.z.clone() }; // z^{s−δ}
        let y = net.readout.next(&self.y, params.w_out(), params.b_out(), &z_read); // Eq. (Y1)
        let (e, g) = net.loss.value_and_grad(&y, target);
        self.cell = cell;
        self.z = z;
        self.y = y;
        (Record { jac, z_h, g: g * mask, z_read }, e * mask)
    }

    fn len_scalars(&self) -> usize {
        self.cell.h.len() + self.z.len() + self.y.len()
    }
}

/// BPTT's reverse recursion over the buffer `recs` (Eq. TB1: nothing beyond its last step),
/// adding to `grad` the contributions of the first `emit` records (docs/bptt.md (B1)–(B6)).
fn backward<T: Scalar>(
    net: &Network,
    w_out: &DMatrix<T>,
    recs: &VecDeque<Record<T>>,
    emit: usize,
    grad: &mut Params<T>,
) {
    let (n, d) = (net.n, net.d());
    let kappa = T::c(net.readout.kappa);
    let c_out = T::c(net.readout.c());
    let lag = net.readout.lag();
    let nc = net.n_cell_tensors();
    let mut y_bar_next = DVector::<T>::zeros(net.n_out); // Eq. (TB1): ȳ^{b+1} = 0
    let mut lam_next = DVector::<T>::zeros(n * d); // Eq. (TB1): λ^{b+1} = 0
    let mut next: Option<&Record<T>> = None;
    let mut local = vec![T::zero(); net.p_loc()];
    for (idx, r) in recs.iter().enumerate().rev() {
        let y_bar = &r.g + &y_bar_next * kappa; // Eq. (B1)
        // Eq. (B3): ∂E/∂z^s = c W_outᵀ ȳ^{s+δ}
        let mut delta = w_out.tr_mul(if lag == 0 { &y_bar } else { &y_bar_next }) * c_out;
        let mut lam = DVector::zeros(n * d);
        if let Some(nx) = next {
            delta += nx.jac.m_z.tr_mul(&lam_next); // Eq. (B4)
            for j in 0..n {
                let lj = nx.jac.d[j].tr_mul(&lam_next.rows(j * d, d)); // Eq. (B5), (D^{s+1})ᵀ λ^{s+1}
                lam.rows_mut(j * d, d).copy_from(&lj);
            }
        }
        for j in 0..n {
            for c in 0..d {
                lam[j * d + c] += delta[j] * r.z_h[(j, c)]; // Eq. (B5), δ_j ∂z_j/∂h_j
            }
        }
        if idx < emit {
            grad.tensors[nc].value += &y_bar * r.z_read.transpose() * c_out; // Eq. (B2), W_out
            grad.tensors[nc + 1].value.column_mut(0).axpy(c_out, &y_bar, T::one()); // Eq. (B2), b_out
            for j in 0..n {
                let g = r.jac.i[j].tr_mul(&lam.rows(j * d, d)); // Eq. (B6), (I_j^s)ᵀ λ_j^s
                local.iter_mut().zip(g.iter()).for_each(|(a, &b)| *a = b);
                grad.add_local_row(net, j, &local);
            }
        }
        lam_next = lam;
        y_bar_next = y_bar;
        next = Some(r);
    }
}

fn check(net: &Network, truncation: usize, field: &str) -> credit_core::Result<()> {
    net.validate()?;
    if truncation == 0 {
        return Err(credit_core::Error::Invalid {
            field: field.into(),
            value: "0".into(),
            requirement: "the truncation window must hold at least one step",
        });
    }
    if net.reg.is_some() {
        return Err(credit_core::Error::Invalid {
            field: "network.reg".into(),
            value: "a firing-rate regulariser".into(),
            requirement: "truncated BPTT needs per-step losses; the regulariser depends on the whole sequence",
        });
    }
    Ok(())
}

/// How a window is settled: [`Epochwise`] (E-BPTT, Eq. TB2) or [`Future`] (F-BPTT, Eq. TB3).
pub trait Scheme: Clone + std::fmt::Debug {
    /// The field an invalid truncation is reported under.
    const FIELD: &'static str;
    /// Called when the buffer holds `truncation` records.
    fn full<T: Scalar>(
        net: &Network,
        w_out: &DMatrix<T>,
        buffer: &mut VecDeque<Record<T>>,
        grad: &mut Params<T>,
    );
    /// Ends the sequence: settles what is left in the buffer.
    fn finish<T: Scalar>(
        net: &Network,
        w_out: &DMatrix<T>,
        buffer: &mut VecDeque<Record<T>>,
        grad: &mut Params<T>,
    );
}

/// E-BPTT: BPTT on non-overlapping windows of `truncation` steps (Eq. TB2).
#[derive(Clone, Copy, Debug)]
pub struct Epochwise;

impl Scheme for Epochwise {
    const FIELD: &'static str = "ebptt.truncation";

    /// Closes the window: every buffered step gets the losses up to its end (Eq. TB2).
    fn full<T: Scalar>(
        net: &Network,
        w_out: &DMatrix<T>,
        buffer: &mut VecDeque<Record<T>>,
        grad: &mut Params<T>,
    ) {
        backward(net, w_out, buffer, buffer.len(), grad); // Eq. (TB2)
        buffer.clear();
    }

    /// The last, possibly shorter, window (Eq. TB2 with `b = T`).
    fn finish<T: Scalar>(
        net: &Network,
        w_out: &DMatrix<T>,
        buffer: &mut VecDeque<Record<T>>,
        grad: &mut Params<T>,
    ) {
        Self::full(net, w_out, buffer, grad);
    }
}

/// F-BPTT: every step `s` is settled with the losses of `[s, s + truncation − 1]` (Eq. TB3).
#[derive(Clone, Copy, Debug)]
pub struct Future;

impl Scheme for Future {
    const FIELD: &'static str = "fbptt.truncation";

    /// Settles the oldest buffered step, its window being complete (Eq. TB3).
    fn full<T: Scalar>(
        net: &Network,
        w_out: &DMatrix<T>,
        buffer: &mut VecDeque<Record<T>>,
        grad: &mut Params<T>,
    ) {
        backward(net, w_out, buffer, 1, grad); // Eq. (TB3)
        buffer.pop_front();
    }

    /// Settles the remaining steps with the losses up to `T` (Eq. TB3 with the window cut at `T`).
    fn finish<T: Scalar>(
        net: &Network,
        w_out: &DMatrix<T>,
        buffer: &mut VecDeque<Record<T>>,
        grad: &mut Params<T>,
    ) {
        while !buffer.is_empty() {
            Self::full(net, w_out, buffer, grad);
        }
    }
}

/// The online state of a truncated BPTT: the forward state and the buffer of the steps not yet
/// settled, settled by the [`Scheme`] `S`.
#[derive(Clone, Debug)]
pub struct Window<T: Scalar, S: Scheme> {
    /// Window length `L ≥ 1` (E-BPTT: the window; F-BPTT: the step itself and `L − 1` future
    /// steps).
    pub truncation: usize,
    fwd: Forward<T>,
    /// The steps not yet settled (at most `truncation`).
    pub buffer: VecDeque<Record<T>>,
    /// Steps consumed.
    pub steps: usize,
    /// Accumulated loss.
    pub loss: T,
    /// Accumulated gradient (the settled steps').
    pub grad: Params<T>,
    scheme: std::marker::PhantomData<S>,
}

/// E-BPTT's online state (Eq. TB2).
pub type Ebptt<T> = Window<T, Epochwise>;
/// F-BPTT's online state (Eq. TB3).
pub type Fbptt<T> = Window<T, Future>;

impl<T: Scalar, S: Scheme> Window<T, S> {
    /// The state at `t = 0`. Errors: truncation 0 (`ebptt.truncation` / `fbptt.truncation`), a
    /// regulariser (`network.reg`).
    pub fn new(net: &Network, truncation: usize) -> credit_core::Result<Self> {
        check(net, truncation, S::FIELD)?;
        Ok(Window {
            truncation,
            fwd: Forward::new(net),
            buffer: VecDeque::with_capacity(truncation),
            steps: 0,
            loss: T::zero(),
            grad: Params::zeros(net),
            scheme: std::marker::PhantomData,
        })
    }

    /// One online step; when the buffer holds `truncation` steps, settles it as the scheme says
    /// (E-BPTT: closes the window, Eq. TB2; F-BPTT: settles the oldest step, Eq. TB3).
    pub fn step(
        &mut self,
        net: &Network,
        params: &Params<T>,
        w: &[DMatrix<T>],
        x: &DVector<T>,
        target: &DVector<T>,
        mask: T,
    ) {
        let (rec, e) = self.fwd.step(net, params, w, x, target, mask);
        self.loss += e;
        self.steps += 1;
        self.buffer.push_back(rec);
        if self.buffer.len() == self.truncation {
            S::full(net, params.w_out(), &mut self.buffer, &mut self.grad);
        }
    }

    /// Ends the sequence: settles the buffered steps with the losses up to `T`.
    pub fn finish(&mut self, net: &Network, params: &Params<T>) {
        S::finish(net, params.w_out(), &mut self.buffer, &mut self.grad);
    }

    /// Scalars held now: at most `truncation` records, never `T`-dependent.
    pub fn len_scalars(&self) -> usize {
        self.fwd.len_scalars()
            + self.buffer.iter().map(Record::len_scalars).sum::<usize>()
            + self.grad.len()
            + 2
    }
}

/// The truncated gradient of `seq` under scheme `S` with a window of `truncation` steps
/// (weights frozen over the sequence).
fn run<T: Scalar, S: Scheme>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    truncation: usize,
) -> credit_core::Result<Truncated<T>> {
    let mut st = Window::<T, S>::new(net, truncation)?;
    params.validate(net)?;
    seq.validate(net)?;
    let w = params.cell_tensors(net);
    for_each_step(seq, |_, x, target, mask| st.step(net, params, &w, x, target, mask));
    st.finish(net, params);
    Ok(Truncated { loss: st.loss, grad: st.grad })
}

/// E-BPTT gradient with windows of `truncation` steps (weights frozen over the sequence).
pub fn ebptt<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    truncation: usize,
) -> credit_core::Result<Truncated<T>> {
    run::<T, Epochwise>(net, params, seq, truncation)
}

/// F-BPTT gradient with a window of `truncation` steps (weights frozen over the sequence).
pub fn fbptt<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    truncation: usize,
) -> credit_core::Result<Truncated<T>> {
    run::<T, Future>(net, params, seq, truncation)
}
