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
//! only `D` (`docs/snap.md` §3). The gradient is RTRL's (T3)–(T6) with the masked `Z^t`.
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
//! reference code stores `S` densely and zeroes it off the pattern; a sparse implementation stores
//! [`Pattern::kept`] entries (`N·d·P_loc` for SnAp-1, the size of e-prop's `ε`).

use credit_core::cell::output_times;
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

/// The online state of SnAp-n after `t` steps (RTRL's, with `S` kept on the pattern).
#[derive(Clone, Debug)]
pub struct SnapState<T: Scalar> {
    /// The 0/1 mask `P_n` (Eq. S3), `(N·d) × P_cell`.
    pub mask: DMatrix<bool>,
    /// Cell state at `t`.
    pub cell: CellState<T>,
    /// `z^t`.
    pub z: DVector<T>,
    /// `y^t`.
    pub y: DVector<T>,
    /// `S^t`, zero off the pattern.
    pub s: DMatrix<T>,
    /// `Z^t`.
    pub zs: DMatrix<T>,
    /// `Y^t`.
    pub ys: DMatrix<T>,
    /// `z̄^t`.
    pub z_bar: DVector<T>,
    /// `b̄^t`.
    pub b_bar: T,
    /// `Σ_t z^t` (regulariser).
    pub z_sum: DVector<T>,
    /// `Σ_t Z^t` (regulariser).
    pub zs_sum: DMatrix<T>,
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
        let (nd, p) = (net.n * net.d(), net.p_cell());
        SnapState {
            mask: pattern.mask(net),
            cell: CellState::zeros(net.n, net.d(), net.cell.is_spiking()),
            z: DVector::zeros(net.n),
            y: DVector::zeros(net.n_out),
            s: DMatrix::zeros(nd, p),
            zs: DMatrix::zeros(net.n, p),
            ys: DMatrix::zeros(net.n_out, p),
            z_bar: DVector::zeros(net.n),
            b_bar: T::zero(),
            z_sum: DVector::zeros(net.n),
            zs_sum: DMatrix::zeros(net.n, p),
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
            + self.y.len()
            + self.s.len()
            + self.zs.len()
            + self.ys.len()
            + self.z_bar.len()
            + 1
            + self.z_sum.len()
            + self.zs_sum.len()
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
        let kappa = T::c(net.readout.kappa);
        let c_out = T::c(net.readout.c());
        let lag = net.readout.lag();
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
        let (z_read, zs_read) = if lag == 0 { (&z, &zs) } else { (&self.z, &self.zs) }; // z^{t-δ}, Z^{t-δ}
        let y = net.readout.next(&self.y, params.w_out(), params.b_out(), z_read); // Eq. (Y1)
        let (e, g) = net.loss.value_and_grad(&y, target);
        let g = g * mask;
        self.loss += e * mask;
        self.ys = &self.ys * kappa + params.w_out() * zs_read * c_out; // rtrl.md Eq. (T3)
        let dcell = self.ys.tr_mul(&g); // rtrl.md Eq. (T4)
        self.grad.add_flat_cells(net, &dcell);
        if net.reg.is_some() {
            self.z_sum += &z;
            self.zs_sum += &zs;
        }
        self.steps += 1;
        self.z_bar = &self.z_bar * kappa + z_read * c_out; // rtrl.md Eq. (T5)
        self.b_bar = self.b_bar * kappa + c_out;
        let nc = net.n_cell_tensors();
        self.grad.tensors[nc].value += &g * self.z_bar.transpose();
        self.grad.tensors[nc + 1].value.column_mut(0).axpy(self.b_bar, &g, T::one());
        self.cell = cell;
        self.z = z;
        self.y = y;
        self.s = s;
        self.zs = zs;
    }

    /// Ends the sequence: the regulariser's loss and gradient, rtrl.md Eq. (T6) with the masked
    /// `Σ_t Z^t`.
    pub fn finish(&mut self, net: &Network) {
        let Some(reg) = &net.reg else { return };
        let (e, g) = reg.value_and_grad(&self.z_sum, self.steps);
        self.loss += e;
        let dcell = self.zs_sum.tr_mul(&g); // rtrl.md Eq. (T6)
        self.grad.add_flat_cells(net, &dcell);
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
    for t in 0..seq.len() {
        let x = seq.x[t].map(T::c);
        let target = seq.target[t].map(T::c);
        st.step(net, params, &w, &x, &target, T::c(seq.mask[t]));
    }
    st.finish(net);
    Ok(Snap { loss: st.loss, grad: st.grad })
}
