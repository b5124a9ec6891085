//! # credit-snap — SnAp-n, the sparse n-step approximation of RTRL
//!
//! A literal transcription of `docs/snap.md` (Menick, Elsen, Evci, Osindero, Simonyan & Graves,
//! "Practical real time recurrent learning with a sparse approximation", ICLR 2021,
//! arXiv:2006.07232), for any cell of `credit-core` and any scalar. SnAp-n runs the RTRL
//! recursion of `docs/rtrl.md` (T1)–(T6) and, after every step, keeps the influence matrix on
//! the pattern `P_n` of the entries that a parameter can reach within `n` steps:
//!
//! $$ S^t = \\Big( D^t S^{t-1} + \\frac{\\partial M^t}{\\partial z^{t-1}} Z^{t-1} + I^t \\Big) \\odot P_n
//!    \\quad\\text{(S1)}, \\qquad Z^t = \\frac{\\partial z^t}{\\partial h^t} S^t \\quad\\text{(S2)} $$
//! $$ (P_n)_{(k,c),\\,\\theta_j} = 1 \\iff k \\in \\mathcal R_{n-1}(j) \\quad\\text{(S3)} $$
//!
//! where `R_m(j)` is the set of neurons reached from neuron `j` in at most `m` hops of the
//! recurrent graph (`i → k` when some recurrent weight `W_rec[k, i] ≠ 0`, Eq. S4), `θ_j` any
//! local parameter of neuron `j` (row `j` of a cell tensor) and `(k, c)` any of neuron `k`'s `d`
//! state components. `P_1` is the pattern of `I^t`: the full `d × P_loc` block of neuron `j`,
//! so SnAp-1 keeps the diagonal of `J = D + R` including the self-recurrence (an autapse
//! `W_rec[j, j]`) and the reset through `z_j` — where it differs from e-prop, whose trace keeps
//! only `D` (`docs/snap.md` §3). The gradient is RTRL's (T3)–(T6) with the masked `Z^t`, through
//! the core's shared [`credit_core::online::ForwardReadout`] and
//! [`credit_core::online::RateSums`] (`docs/rtrl.md` §7).
//!
//! ## Exactness (`docs/snap.md` §4)
//! `S^t` of RTRL is supported on `P_t` (a parameter acts through one hop per step), so
//! SnAp-n = RTRL whenever `n ≥ T`, and whenever `P_n` is full — for a net whose off-diagonal
//! recurrent weights are all non-zero that is `n ≥ 2`. SnAp-1 = RTRL when `W_rec = 0` (then
//! `J` is block-diagonal, reset allowed).
//!
//! ## Requirements
//! Any [`credit_core::Cell`]; any [`Scalar`]. Online: [`SnapState::step`] consumes one step and
//! keeps what RTRL keeps (its size is independent of `T`, [`SnapState::len_scalars`]). The
//! reference code stores `S` densely and zeroes it off the pattern (its cost is RTRL's); the
//! sparse path [`sparse::gradient`] stores only the [`Pattern::kept`] entries (`N·d·P_loc` for
//! SnAp-1, the size of e-prop's `ε`), counts its multiply-adds, and must equal [`gradient`]
//! (`snap-fast=snap`, `docs/snap.md` §6).

pub mod sparse;

use credit_core::cell::output_times;
use credit_core::online::{ForwardReadout, RateSums, for_each_step};
use credit_core::{CellModel, CellState, Network, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// The sparsity pattern `P_n` of Eq. (S3) at neuron granularity: `reach[k][j]` says whether
/// neuron `k`'s state rows keep the columns of neuron `j`'s parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    /// `n` of SnAp-n.
    pub n: usize,
    /// `reach[k][j]`: `k ∈ R_{n−1}(j)`.
    pub reach: Vec<Vec<bool>>,
}

impl Pattern {
    /// The pattern of SnAp-`n` for `params` (Eqs. S3–S4). `n = 0` is refused (SnAp-1 is the
    /// sparsest member).
    pub fn new<T: Scalar>(net: &Network, params: &Params<T>, n: usize) -> credit_core::Result<Self> {
        if n == 0 {
            return Err(credit_core::Error::Invalid {
                field: "snap.n".into(),
                value: "0".into(),
                requirement: "SnAp-n needs n ≥ 1 (n = 1 keeps the pattern of the immediate influence)",
            });
        }
        let size = net.n;
        // Eq. (S4): i → k when some recurrent tensor has W[k, i] ≠ 0 (every cell names its
        // recurrent tensors `w_rec…`)
        let mut edge = vec![vec![false; size]; size];
        for t in &params.tensors[..net.n_cell_tensors()] {
            if t.name.starts_with("w_rec") {
                for k in 0..size {
                    for i in 0..size {
                        edge[k][i] |= t.value[(k, i)] != T::zero();
                    }
                }
            }
        }
        // R_0(j) = {j}; R_{m+1}(j) = R_m(j) ∪ {k : i → k, i ∈ R_m(j)}
        let mut reach: Vec<Vec<bool>> = (0..size).map(|k| (0..size).map(|j| k == j).collect()).collect();
        for _ in 1..n {
            let prev = reach.clone();
            for k in 0..size {
                for j in 0..size {
                    reach[k][j] = prev[k][j] || (0..size).any(|i| edge[k][i] && prev[i][j]);
                }
            }
        }
        Ok(Pattern { n, reach })
    }

    /// Whether the pattern keeps every entry (then SnAp-n is RTRL).
    pub fn is_full(&self) -> bool {
        self.reach.iter().all(|row| row.iter().all(|&b| b))
    }

    /// Entries of `S` the pattern keeps: `d · P_loc · Σ_j |R_{n−1}(j)|`.
    pub fn kept(&self, net: &Network) -> usize {
        let pairs: usize = self.reach.iter().map(|row| row.iter().filter(|&&b| b).count()).sum();
        pairs * net.d() * net.p_loc()
    }

    /// The `(N·d) × P_cell` 0/1 mask of Eq. (S3), columns in the flat layout of
    /// [`Network::flat_index_of_local`].
    pub fn mask(&self, net: &Network) -> DMatrix<bool> {
        let d = net.d();
        let mut m = DMatrix::from_element(net.n * d, net.p_cell(), false);
        for j in 0..net.n {
            for q in 0..net.p_loc() {
                let col = net.flat_index_of_local(j, q);
                for k in 0..net.n {
                    for c in 0..d {
                        m[(k * d + c, col)] = self.reach[k][j];
                    }
                }
            }
        }
        m
    }
}

/// What SnAp returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Snap<T: Scalar> {
    /// The loss `E`.
    pub loss: T,
    /// The SnAp-n estimate of `dE/dθ` (the readout tensors are exact).
    pub grad: Params<T>,
}

/// The online state of SnAp-n after `t` steps (RTRL's, with `S` kept on the pattern). The
/// readout side (rtrl.md Eqs. Y1, T3–T5) and the regulariser's sums (Eq. T6) are the core's
/// shared bookkeeping ([`credit_core::online::ForwardReadout`],
/// [`credit_core::online::RateSums`]); Eqs. (S1)–(S2) are written out in [`SnapState::step`].
#[derive(Clone, Debug)]
pub struct SnapState<T: Scalar> {
    /// The 0/1 mask `P_n` (Eq. S3), `(N·d) × P_cell`.
    pub mask: DMatrix<bool>,
    /// Cell state at `t`.
    pub cell: CellState<T>,
    /// `z^t`.
    pub z: DVector<T>,
    /// `S^t`, zero off the pattern.
    pub s: DMatrix<T>,
    /// `Z^t`.
    pub zs: DMatrix<T>,
    /// `y^t`, `Y^t`, `z̄^t`, `b̄^t` (rtrl.md Eqs. T3, T5).
    pub readout: ForwardReadout<T>,
    /// `Σ_t z^t`, `Σ_t Z^t` (regulariser).
    pub sums: RateSums<T>,
    /// Steps consumed.
    pub steps: usize,
    /// Accumulated loss.
    pub loss: T,
    /// Accumulated gradient estimate.
    pub grad: Params<T>,
}

impl<T: Scalar> SnapState<T> {
    /// The state at `t = 0` with pattern `pattern`.
    pub fn new(net: &Network, pattern: &Pattern) -> Self {
        SnapState {
            mask: pattern.mask(net),
            cell: CellState::zeros(net.n, net.d(), net.cell.is_spiking()),
            z: DVector::zeros(net.n),
            s: DMatrix::zeros(net.n * net.d(), net.p_cell()),
            zs: DMatrix::zeros(net.n, net.p_cell()),
            readout: ForwardReadout::new(net),
            sums: RateSums::new(net),
            steps: 0,
            loss: T::zero(),
            grad: Params::zeros(net),
        }
    }

    /// Number of scalars held; it depends on the network only, never on the steps consumed.
    pub fn len_scalars(&self) -> usize {
        self.mask.len()
            + self.cell.h.len()
            + self.z.len()
            + self.s.len()
            + self.zs.len()
            + self.readout.len_scalars()
            + self.sums.len_scalars()
            + 2
            + self.grad.len()
    }

    /// One online step (inputs validated by [`gradient`]).
    pub fn step(
        &mut self,
        net: &Network,
        params: &Params<T>,
        w: &[DMatrix<T>],
        x: &DVector<T>,
        target: &DVector<T>,
        mask: T,
    ) {
        let jac = net.cell.jacobians(w, &self.cell, &self.z, x);
        let cell = net.cell.step(w, &self.cell, &self.z, x, &Default::default());
        // Eq. (S1): S^t = (D^t S^{t-1} + ∂M/∂z^{t-1} Z^{t-1} + I^t) ⊙ P_n
        let mut s = &jac.m_z * &self.zs + jac.d_times(&self.s);
        jac.add_immediate(&mut s, |j, q| net.flat_index_of_local(j, q));
        s.zip_apply(&self.mask, |v, keep| {
            if !keep {
                *v = T::zero();
            }
        });
        // Eq. (S2): Z^t = ∂z^t/∂h^t S^t
        let zs = output_times(&net.cell.output_jacobian(&cell), &s);
        let z = net.cell.output(&cell);
        // rtrl.md Eqs. (Y1), (T3)–(T5) with the masked Z^{t-δ}
        self.loss +=
            self.readout.step(net, params, (&self.z, &self.zs), (&z, &zs), target, mask, &mut self.grad);
        self.sums.add(net, &z, &zs);
        self.steps += 1;
        self.cell = cell;
        self.z = z;
        self.s = s;
        self.zs = zs;
    }

    /// Ends the sequence: the regulariser's loss and gradient, rtrl.md Eq. (T6) with the masked
    /// `Σ_t Z^t` ([`credit_core::online::RateSums::finish`]).
    pub fn finish(&mut self, net: &Network) {
        self.sums.finish(net, self.steps, &mut self.loss, &mut self.grad); // rtrl.md Eq. (T6)
    }
}

/// SnAp-`n` gradient of the loss of `seq` (weights frozen over the sequence), computed online.
pub fn gradient<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    n: usize,
) -> credit_core::Result<Snap<T>> {
    net.validate()?;
    params.validate(net)?;
    seq.validate(net)?;
    let pattern = Pattern::new(net, params, n)?;
    let w = params.cell_tensors(net);
    let mut st = SnapState::new(net, &pattern);
    for_each_step(seq, |_, x, target, mask| st.step(net, params, &w, x, target, mask));
    st.finish(net);
    Ok(Snap { loss: st.loss, grad: st.grad })
}
