//! The m-order recursion, Eqs. (F1)–(F5) of `docs/family.md` (a reconstruction):
//! $$ S^{(k),t} = D^t S^{(k),t-1} + \\frac{\\partial M^t}{\\partial z^{t-1}} Z^{(k-1),t-1} + I^t,
//!    \\qquad S^{(-1)} \\equiv 0, \\quad S^{(k),0} = 0 \\quad\\text{(F1)} $$
//! $$ Z^{(k),t} = \\frac{\\partial z^t}{\\partial h^t} S^{(k),t} \\quad\\text{(F2)} $$
//! for `k = 0..=m`, and the gradient of order `m` from the readout sensitivity of the top level,
//! exactly as RTRL's (T3)–(T6) with `Z^{(m)}` in place of `Z`:
//! $$ Y^{(m),t} = \\kappa Y^{(m),t-1} + c\\, W^{out} Z^{(m),t-\\delta},\\quad
//!    \\Delta\\theta \\mathrel{+}= (Y^{(m),t})^\\top g^t \\quad\\text{(F3)} $$
//!
//! Level 0 is block-sparse (neuron `j`'s rows only touch neuron `j`'s parameters: e-prop's
//! eligibility vectors) and is stored as `N` blocks of `d × P_loc`; levels `k ≥ 1` are dense
//! `(N·d) × P_cell` (one hop reaches every neuron of a dense net). Every multiply-add is counted,
//! so the cost table of `cargo xtask family-table` is measured, not estimated.

use credit_core::cell::{add_local_blocks, output_times};
use credit_core::{CellModel, CellState, Edges, Network, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// Which reading of the paper's "order" the recursion implements (`docs/family.md` §4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reading {
    /// Keep every path with at most `m` explicit (z-mediated) hops, propagated by `D` before
    /// and after each hop (the reconstruction of equations.md §2; the default).
    #[default]
    HopCount,
    /// An MDGL-like reading (Liu et al. 2021): an explicit hop is taken only at the last step —
    /// the hop's contribution is not propagated further by `D`. Level `k` is then
    /// `S^{(k),t} = S^{(0),t} + R^t S^{(k-1),t-1}` (Eq. F4).
    LastStepHop,
    /// Order by time lag: keep the explicit hops that happened within the last `m` steps before
    /// the learning signal is applied (paths whose earliest hop is older are dropped). Level
    /// `a = 0..m−1` holds the paths whose earliest hop was `a` steps ago (Eq. F7):
    /// `S^{[0],t} = R^t S^{(0),t−1}`, `S^{[a],t} = (D^t + R^t) S^{[a−1],t−1}`, and the gradient
    /// reads `S^{(0)} + Σ_a S^{[a]}`. Order 0 is e-prop; order `T` is RTRL.
    TimeLag,
}

/// Counted costs of the recursion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// Multiply-adds performed, summed over all steps.
    pub madds: u64,
    /// Scalars held by the online state (sensitivities, their `Z`, `Y`, traces of the readout).
    pub floats: u64,
}

/// The online state of the order-`m` recursion.
#[derive(Clone, Debug)]
pub struct FamilyState<T: Scalar> {
    m: usize,
    reading: Reading,
    cell: CellState<T>,
    z: DVector<T>,
    y: DVector<T>,
    /// Level 0: `N` blocks `d × P_loc` (e-prop's ε).
    eps: Vec<DMatrix<T>>,
    /// `Z^{(0)}`: row `j` over neuron `j`'s local parameters (`N × P_loc`).
    z0: DMatrix<T>,
    /// Levels `1..=m`: `S^{(k)}` (`(N·d) × P_cell`).
    s: Vec<DMatrix<T>>,
    /// Levels `1..=m`: `Z^{(k)}` (`N × P_cell`).
    zs: Vec<DMatrix<T>>,
    /// `Y^{(m)}` (`K × P_cell`).
    ys: DMatrix<T>,
    z_bar: DVector<T>,
    b_bar: T,
    z_sum: DVector<T>,
    zm_sum: DMatrix<T>,
    steps: usize,
    /// Accumulated loss.
    pub loss: T,
    /// Accumulated gradient of order `m`.
    pub grad: Params<T>,
    /// Counted costs.
    pub cost: Cost,
}

fn level0_dense<T: Scalar>(net: &Network, z0: &DMatrix<T>) -> DMatrix<T> {
    let mut out = DMatrix::zeros(net.n, net.p_cell());
    for j in 0..net.n {
        for q in 0..net.p_loc() {
            out[(j, net.flat_index_of_local(j, q))] = z0[(j, q)];
        }
    }
    out
}

impl<T: Scalar> FamilyState<T> {
    /// The state at `t = 0` for order `m`.
    pub fn new(net: &Network, m: usize, reading: Reading) -> Self {
        let (n, d, p, pl) = (net.n, net.d(), net.p_cell(), net.p_loc());
        let mut st = FamilyState {
            m,
            reading,
            cell: CellState::zeros(n, d, net.cell.is_spiking()),
            z: DVector::zeros(n),
            y: DVector::zeros(net.n_out),
            eps: vec![DMatrix::zeros(d, pl); n],
            z0: DMatrix::zeros(n, pl),
            s: vec![DMatrix::zeros(n * d, p); m],
            zs: vec![DMatrix::zeros(n, p); m],
            ys: DMatrix::zeros(net.n_out, p),
            z_bar: DVector::zeros(n),
            b_bar: T::zero(),
            z_sum: DVector::zeros(n),
            zm_sum: DMatrix::zeros(n, p),
            steps: 0,
            loss: T::zero(),
            grad: Params::zeros(net),
            cost: Cost::default(),
        };
        let sens = n * d * pl + n * pl + m * (n * d * p + n * p) + net.n_out * p;
        st.cost.floats = sens as u64;
        st
    }

    /// One step (Eqs. F1–F3).
    pub fn step(
        &mut self,
        net: &Network,
        params: &Params<T>,
        w: &[DMatrix<T>],
        x: &DVector<T>,
        target: &DVector<T>,
        mask: T,
    ) {
        let (n, d, pl) = (net.n, net.d(), net.p_loc());
        let p = net.p_cell();
        let kappa = T::c(net.readout.kappa);
        let c_out = T::c(net.readout.c());
        let lag = net.readout.lag();
        let jac = net.cell.jacobians(w, &self.cell, &self.z, x);
        let cell = net.cell.step(w, &self.cell, &self.z, x, &Edges::default());
        let z_h = net.cell.output_jacobian(&cell);
        let mut madds = 0u64;

        // level 0: ε_j = D_jj ε_j + I_j (Eq. F1 with S^{(-1)} = 0), Z^{(0)} = ∂z/∂h ε (F2)
        let eps_prev = std::mem::take(&mut self.eps);
        let z0_prev = std::mem::replace(&mut self.z0, DMatrix::zeros(n, pl));
        for j in 0..n {
            self.eps.push(&jac.d[j] * &eps_prev[j] + &jac.i[j]);
            let row = z_h.row(j) * &self.eps[j];
            self.z0.row_mut(j).copy_from(&row);
        }
        madds += (n * d * d * pl + n * d * pl) as u64;

        // levels k ≥ 1 (Eq. F1, or F4 for the last-step-hop reading)
        let s_prev = std::mem::take(&mut self.s);
        let zs_prev = std::mem::take(&mut self.zs);
        for k in 1..=self.m {
            // ∂M/∂z^{t-1} · Z^{(k-1),t-1}
            let mut sk = if k == 1 {
                // Z^{(0)} is block-sparse: column i of ∂M/∂z meets neuron i's P_loc entries only
                let mut acc = DMatrix::zeros(n * d, p);
                for i in 0..n {
                    for q in 0..pl {
                        let col = net.flat_index_of_local(i, q);
                        let zq = z0_prev[(i, q)];
                        for r in 0..n * d {
                            acc[(r, col)] += jac.m_z[(r, i)] * zq;
                        }
                    }
                }
                madds += (n * d * n * pl) as u64;
                acc
            } else {
                madds += (n * d * n * p) as u64;
                &jac.m_z * &zs_prev[k - 2]
            };
            match self.reading {
                Reading::HopCount => {
                    // + D^t S^{(k),t-1} (block-diagonal) + I^t
                    sk += jac.d_times(&s_prev[k - 1]);
                    madds += (n * d * d * p) as u64;
                    jac.add_immediate(&mut sk, |j, q| net.flat_index_of_local(j, q));
                }
                Reading::LastStepHop => {
                    // + S^{(0),t}: ε^t placed at each neuron's own columns (Eq. F4)
                    add_local_blocks(&self.eps, &mut sk, |j, q| net.flat_index_of_local(j, q));
                }
                Reading::TimeLag => {
                    // Eq. (F7): the age-0 level is the fresh hop R^t S^{(0),t−1}; older levels
                    // age by one step under the full J^t = D^t + R^t (no I: every path here has hopped)
                    if k >= 2 {
                        sk += jac.d_times(&s_prev[k - 2]);
                        madds += (n * d * d * p) as u64;
                    }
                }
            }
            let zk = output_times(&z_h, &sk); // Eq. (F2)
            madds += (n * d * p) as u64;
            self.s.push(sk);
            self.zs.push(zk);
        }

        // the top level's readout sensitivity and the gradient (Eq. F3)
        let (z_top_now, z_top_prev) = if self.reading == Reading::TimeLag {
            // Eq. (F7): no hop, plus every age below m
            let sum = |base: &DMatrix<T>, levels: &[DMatrix<T>]| {
                levels.iter().fold(level0_dense(net, base), |acc, z| acc + z)
            };
            madds += (self.m * n * p) as u64;
            (sum(&self.z0, &self.zs), sum(&z0_prev, &zs_prev))
        } else if self.m == 0 {
            (level0_dense(net, &self.z0), level0_dense(net, &z0_prev))
        } else {
            (
                self.zs[self.m - 1].clone(),
                zs_prev.get(self.m - 1).cloned().unwrap_or_else(|| DMatrix::zeros(n, p)),
            )
        };
        let z = net.cell.output(&cell);
        let (z_read, zs_read) = if lag == 0 { (&z, &z_top_now) } else { (&self.z, &z_top_prev) };
        let y = net.readout.next(&self.y, params.w_out(), params.b_out(), z_read); // Eq. (Y1)
        let (e, g) = net.loss.value_and_grad(&y, target);
        let g = g * mask;
        self.loss += e * mask;
        self.ys = &self.ys * kappa + params.w_out() * zs_read * c_out;
        madds += (net.n_out * n * if self.m == 0 { pl } else { p }) as u64; // W_out Z (Z^{(0)} is block-sparse)
        let dcell = self.ys.tr_mul(&g);
        madds += (net.n_out * p) as u64;
        self.grad.add_flat_cells(net, &dcell);
        self.z_bar = &self.z_bar * kappa + z_read * c_out;
        self.b_bar = self.b_bar * kappa + c_out;
        let nc = net.n_cell_tensors();
        self.grad.tensors[nc].value += &g * self.z_bar.transpose();
        self.grad.tensors[nc + 1].value.column_mut(0).axpy(self.b_bar, &g, T::one());
        if net.reg.is_some() {
            self.z_sum += &z;
            self.zm_sum += &z_top_now;
        }
        self.steps += 1;
        self.cost.madds += madds;
        self.cell = cell;
        self.z = z;
        self.y = y;
    }

    /// Ends the sequence: the firing-rate regulariser (Eq. Y5) with `Σ_t Z^{(m),t}` (Eq. F5).
    pub fn finish(&mut self, net: &Network) {
        let Some(reg) = &net.reg else { return };
        let (e, g) = reg.value_and_grad(&self.z_sum, self.steps);
        self.loss += e;
        let dcell = self.zm_sum.tr_mul(&g); // Eq. (F5)
        self.grad.add_flat_cells(net, &dcell);
    }
}

/// What [`gradient`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct FamilyGradient<T: Scalar> {
    /// The loss.
    pub loss: T,
    /// The order-`m` gradient.
    pub grad: Params<T>,
    /// Counted costs (`madds` summed over the sequence).
    pub cost: Cost,
}

/// The order-`m` gradient of `seq` (weights frozen), computed online.
pub fn gradient<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    m: usize,
    reading: Reading,
) -> credit_core::Result<FamilyGradient<T>> {
    net.validate()?;
    params.validate(net)?;
    seq.validate(net)?;
    let w = params.cell_tensors(net);
    let mut st = FamilyState::new(net, m, reading);
    for t in 0..seq.len() {
        let x = seq.x[t].map(T::c);
        let target = seq.target[t].map(T::c);
        st.step(net, params, &w, &x, &target, T::c(seq.mask[t]));
    }
    st.finish(net);
    Ok(FamilyGradient { loss: st.loss, grad: st.grad, cost: st.cost })
}
