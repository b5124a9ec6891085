//! # credit-uoro — unbiased low-rank RTRL: UORO, KF-RTRL, R-KF-RTRL
//!
//! Literal transcriptions of `docs/uoro.md`, online, for any scalar. Each keeps a rank-one
//! (outer or Kronecker product) estimate of RTRL's influence matrix `S^t = dh^t/dθ` (rtrl.md
//! (T1): `S^t = J^t S^{t−1} + I^t`, `J^t = D^t + ∂M^t/∂z^{t−1} · ∂z^{t−1}/∂h^{t−1}`) and refreshes
//! it with fresh ±1 noise `ν` every step so that `E_ν[estimate] = S^t` exactly:
//!
//! * [`Kind::Uoro`] (Tallec & Ollivier, ICLR 2018, arXiv:1702.05043): `S ≈ Ã B̃ᵀ`,
//!   `Ã ∈ R^{N·d}`, `B̃ ∈ R^{P_cell}` (Eqs. U1–U2); any cell;
//! * [`Kind::Kf`] (KF-RTRL, Mujika, Meier & Steger, NeurIPS 2018, arXiv:1805.10842):
//!   `S_{k,(i,q)} ≈ B_{k,i} A_q`, `A ∈ R^{P_loc}`, `B ∈ R^{N×N}` (Eqs. KF1–KF2); the rate cell
//!   only (it needs `I^t_{k,(i,q)} = δ_{ki} D_k â_q`, one presynaptic vector `â` shared by every
//!   neuron: true of the rate cell's Eq. R6, not of the spiking cells' or the LSTM's `I`);
//! * [`Kind::Rkf`] (R-KF-RTRL, Marschall, Cho & Savin, JMLR 2020):
//!   `S_{(k,c),(i,q)} ≈ A_i B_{(k,c),q}`, `A ∈ R^N`, `B ∈ R^{N·d×P_loc}` (Eqs. RK1–RK2); any
//!   cell.
//!
//! The gradient is RTRL's (T3)–(T5) with the estimate of `Z^t` (Eq. U3), through the core's
//! shared [`credit_core::online::ForwardReadout`] (`docs/rtrl.md` §7); the readout tensors are
//! exact. Unbiasedness is checked by exact enumeration of every sign pattern (`credit-check`,
//! `uoro-mean=rtrl`, `kf-mean=rtrl`, `rkf-mean=rtrl`).
//!
//! ## Requirements
//! Any [`Scalar`]; the firing-rate regulariser is refused (`network.reg`). Online: the state is
//! the rank-one factors, `Y^t` (`K × P_cell`) and the forward state — independent of `T`
//! ([`LowRank::len_scalars`]). The reference code forms the dense `N × P_cell` estimate of
//! `Z^t` each step for clarity (`O(N·P)` work, not the papers' `O(P)`).

use credit_core::cell::{Cell, output_times};
use credit_core::online::{ForwardReadout, for_each_step};
use credit_core::{CellModel, CellState, LocalJacobians, Network, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Which estimator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// UORO: `S ≈ Ã B̃ᵀ` (Eqs. U1–U2).
    Uoro,
    /// KF-RTRL: `S ≈ B ⊗ A` (Eqs. KF1–KF2), rate cell only.
    Kf,
    /// R-KF-RTRL: `S ≈ A ⊗ B` (Eqs. RK1–RK2).
    Rkf,
}

impl Kind {
    /// Number of ±1 noise values drawn per step: `N·d` (UORO), 2 (KF-RTRL), `N` (R-KF-RTRL).
    pub fn noise_len(self, net: &Network) -> usize {
        match self {
            Kind::Uoro => net.n * net.d(),
            Kind::Kf => 2,
            Kind::Rkf => net.n,
        }
    }

    fn id(self) -> &'static str {
        match self {
            Kind::Uoro => "uoro",
            Kind::Kf => "kf",
            Kind::Rkf => "rkf",
        }
    }
}

/// Where the ±1 noise comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Noise {
    /// Rademacher draws from ChaCha8 with this seed.
    Seed(u64),
    /// The signs of every step, given (`T` vectors of [`Kind::noise_len`] values in `{−1, 1}`):
    /// what an exact enumeration feeds.
    Signs(Vec<Vec<f64>>),
}

/// What a run returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate<T: Scalar> {
    /// The loss.
    pub loss: T,
    /// The gradient estimate (readout tensors exact).
    pub grad: Params<T>,
}

/// The online state of a low-rank estimator after `t` steps.
#[derive(Clone, Debug)]
pub struct LowRank<T: Scalar> {
    /// The estimator.
    pub kind: Kind,
    /// First factor: `Ã` (UORO, `N·d`), `A` (KF, `P_loc`), `A` (R-KF, `N`).
    pub a: DVector<T>,
    /// Second factor: `B̃` (UORO, `P_cell × 1`), `B` (KF, `N·d × N`), `B` (R-KF, `N·d × P_loc`).
    pub b: DMatrix<T>,
    /// Cell state at `t`.
    pub cell: CellState<T>,
    /// `z^t`.
    pub z: DVector<T>,
    /// The estimate of `Z^t` (kept for the readout delay).
    pub zs: DMatrix<T>,
    /// `y^t`, `Y^t` from the estimates, `z̄^t`, `b̄^t` (rtrl.md (T3), (T5); the core's shared
    /// [`ForwardReadout`]).
    pub readout: ForwardReadout<T>,
    /// Steps consumed.
    pub steps: usize,
    /// Accumulated loss.
    pub loss: T,
    /// Accumulated gradient estimate.
    pub grad: Params<T>,
}

/// `√(num/den)`, or 1 when either norm is zero (the first step, from a zero estimate): the
/// scale cancels in the product, so any positive value keeps the estimate unbiased.
fn scale<T: Scalar>(num: T, den: T) -> T {
    if num > T::zero() && den > T::zero() { (num / den).sqrt() } else { T::one() }
}

impl<T: Scalar> LowRank<T> {
    /// The state at `t = 0`: zero factors. Errors: a regulariser (`network.reg`), KF-RTRL on
    /// a cell other than `rate` (`network.cell`).
    pub fn new(net: &Network, kind: Kind) -> credit_core::Result<Self> {
        net.validate()?;
        if net.reg.is_some() {
            return Err(credit_core::Error::Invalid {
                field: "network.reg".into(),
                value: "a firing-rate regulariser".into(),
                requirement: "the low-rank estimators are defined with per-step losses only",
            });
        }
        if kind == Kind::Kf && !matches!(net.cell, Cell::Rate(_)) {
            return Err(credit_core::Error::Invalid {
                field: "network.cell".into(),
                value: net.cell.id().into(),
                requirement: "KF-RTRL needs a Kronecker-structured immediate influence (the rate cell); use R-KF-RTRL or UORO",
            });
        }
        let (n, nd, p_loc, p) = (net.n, net.n * net.d(), net.p_loc(), net.p_cell());
        let (a, b) = match kind {
            Kind::Uoro => (DVector::zeros(nd), DMatrix::zeros(p, 1)),
            Kind::Kf => (DVector::zeros(p_loc), DMatrix::zeros(nd, n)),
            Kind::Rkf => (DVector::zeros(n), DMatrix::zeros(nd, p_loc)),
        };
        Ok(LowRank {
            kind,
            a,
            b,
            cell: CellState::zeros(n, net.d(), net.cell.is_spiking()),
            z: DVector::zeros(n),
            zs: DMatrix::zeros(n, p),
            readout: ForwardReadout::new(net),
            steps: 0,
            loss: T::zero(),
            grad: Params::zeros(net),
        })
    }

    /// Scalars held; independent of the steps consumed.
    pub fn len_scalars(&self) -> usize {
        self.a.len()
            + self.b.len()
            + self.cell.h.len()
            + self.z.len()
            + self.zs.len()
            + self.readout.len_scalars()
            + 2
            + self.grad.len()
    }

    /// `J^t X = D^t X + ∂M^t/∂z^{t−1} (∂z^{t−1}/∂h^{t−1} X)` for `X` with `N·d` rows.
    fn j_times(jac: &LocalJacobians<T>, z_h_prev: &DMatrix<T>, x: &DMatrix<T>) -> DMatrix<T> {
        jac.d_times(x) + &jac.m_z * output_times(z_h_prev, x)
    }

    /// One step with noise `nu` ([`Kind::noise_len`] signs).
    pub fn step(
        &mut self,
        net: &Network,
        params: &Params<T>,
        w: &[DMatrix<T>],
        nu: &[f64],
        x: &DVector<T>,
        target: &DVector<T>,
        mask: T,
    ) {
        let (n, d, p_loc) = (net.n, net.d(), net.p_loc());
        let jac = net.cell.jacobians(w, &self.cell, &self.z, x);
        let z_h_prev = net.cell.output_jacobian(&self.cell);
        let cell = net.cell.step(w, &self.cell, &self.z, x, &Default::default());
        let z_h = net.cell.output_jacobian(&cell);
        let nu: Vec<T> = nu.iter().map(|&v| T::c(v)).collect();
        let col = |i: usize, q: usize| net.flat_index_of_local(i, q);
        let zs = match self.kind {
            Kind::Uoro => {
                let a_prev = DMatrix::from_column_slice(n * d, 1, self.a.as_slice());
                let ja = Self::j_times(&jac, &z_h_prev, &a_prev); // J^t Ã^{t−1}
                let mut nu_i = DVector::<T>::zeros(net.p_cell()); // νᵀ I^t
                for (k, ik) in jac.i.iter().enumerate() {
                    for c in 0..d {
                        for q in 0..p_loc {
                            nu_i[col(k, q)] += nu[k * d + c] * ik[(c, q)];
                        }
                    }
                }
                let nu_v = DVector::from_column_slice(&nu);
                let rho0 = scale(self.b.norm(), ja.norm()); // Eq. (U2)
                let rho1 = scale(nu_i.norm(), nu_v.norm()); // Eq. (U2)
                self.a = ja.column(0) * rho0 + &nu_v * rho1; // Eq. (U1): Ã' = ρ0 J Ã + ρ1 ν
                self.b = &self.b / rho0 + DMatrix::from_column_slice(nu_i.len(), 1, nu_i.as_slice()) / rho1; // Eq. (U1)
                let a_mat = DMatrix::from_column_slice(n * d, 1, self.a.as_slice());
                output_times(&z_h, &a_mat) * self.b.transpose() // Eq. (U3): Z ≈ (∂z/∂h Ã) B̃ᵀ
            }
            Kind::Kf => {
                let jb = Self::j_times(&jac, &z_h_prev, &self.b); // J^t B^{t−1}
                // the rate cell's I_k = D_k â (Eq. R6): â = [x; z^{t−1}; 1], D_k = I_k[0, P_loc − 1]
                let a_hat = DVector::from_fn(p_loc, |q, _| {
                    if q < x.len() {
                        x[q]
                    } else if q < p_loc - 1 {
                        self.z[q - x.len()]
                    } else {
                        T::one()
                    }
                });
                let dvec = DVector::from_fn(n, |k, _| jac.i[k][(0, p_loc - 1)]);
                let p0 = scale(jb.norm(), self.a.norm()); // Eq. (KF2)
                let p1 = scale(dvec.norm(), a_hat.norm()); // Eq. (KF2)
                self.a = &self.a * (nu[0] * p0) + &a_hat * (nu[1] * p1); // Eq. (KF1)
                self.b = jb * (nu[0] / p0) + DMatrix::from_diagonal(&dvec) * (nu[1] / p1); // Eq. (KF1)
                // Eq. (U3): Z_{j,(i,q)} ≈ (∂z/∂h B)_{j,i} A_q
                let zb = output_times(&z_h, &self.b);
                let mut zs = DMatrix::zeros(n, net.p_cell());
                for j in 0..n {
                    for i in 0..n {
                        for q in 0..p_loc {
                            zs[(j, col(i, q))] = zb[(j, i)] * self.a[q];
                        }
                    }
                }
                zs
            }
            Kind::Rkf => {
                let jb = Self::j_times(&jac, &z_h_prev, &self.b); // J^t B^{t−1}
                let mut nu_i = DMatrix::<T>::zeros(n * d, p_loc); // Σ_i ν_i I_{·,(i,·)}: rows of k = ν_k I_k
                for (k, ik) in jac.i.iter().enumerate() {
                    nu_i.rows_mut(k * d, d).copy_from(&(ik * nu[k]));
                }
                let nu_v = DVector::from_column_slice(&nu);
                let p0 = scale(jb.norm(), self.a.norm()); // Eq. (RK2)
                let p1 = scale(nu_i.norm(), nu_v.norm()); // Eq. (RK2)
                self.a = &self.a * p0 + &nu_v * p1; // Eq. (RK1)
                self.b = jb / p0 + nu_i / p1; // Eq. (RK1)
                // Eq. (U3): Z_{j,(i,q)} ≈ A_i (∂z/∂h B)_{j,q}
                let zb = output_times(&z_h, &self.b);
                let mut zs = DMatrix::zeros(n, net.p_cell());
                for j in 0..n {
                    for i in 0..n {
                        for q in 0..p_loc {
                            zs[(j, col(i, q))] = self.a[i] * zb[(j, q)];
                        }
                    }
                }
                zs
            }
        };
        let z = net.cell.output(&cell);
        // rtrl.md Eqs. (Y1), (T3)–(T5) with the estimate of Z^{t−δ} (Eq. U3)
        self.loss +=
            self.readout.step(net, params, (&self.z, &self.zs), (&z, &zs), target, mask, &mut self.grad);
        self.steps += 1;
        self.cell = cell;
        self.z = z;
        self.zs = zs;
    }
}

/// The estimator's gradient of `seq` with the given noise.
// exact: a given sign must be exactly −1 or 1
#[allow(clippy::float_cmp)]
pub fn gradient<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    kind: Kind,
    noise: &Noise,
) -> credit_core::Result<Estimate<T>> {
    let mut st = LowRank::new(net, kind)?;
    params.validate(net)?;
    seq.validate(net)?;
    let len = kind.noise_len(net);
    let field = format!("{}.noise", kind.id());
    let mut rng = match noise {
        Noise::Seed(s) => Some(ChaCha8Rng::seed_from_u64(*s ^ 0x0B0E_5EED)),
        Noise::Signs(v) => {
            if v.len() != seq.len() || v.iter().any(|s| s.len() != len) {
                return Err(credit_core::Error::Shape {
                    field,
                    expected: format!("{} vectors of {len} signs", seq.len()),
                    found: format!("{} vectors", v.len()),
                });
            }
            if let Some((t, s)) = v
                .iter()
                .enumerate()
                .find_map(|(t, s)| s.iter().find(|x| **x != 1.0 && **x != -1.0).map(|x| (t, *x)))
            {
                return Err(credit_core::Error::Invalid {
                    field: format!("{field}[{t}]"),
                    value: s.to_string(),
                    requirement: "noise signs must be −1 or 1",
                });
            }
            None
        }
    };
    let w = params.cell_tensors(net);
    for_each_step(seq, |t, x, target, mask| {
        let nu: Vec<f64> = match (&mut rng, noise) {
            (Some(r), _) => (0..len).map(|_| if r.random::<bool>() { 1.0 } else { -1.0 }).collect(),
            (None, Noise::Signs(v)) => v[t].clone(),
            (None, Noise::Seed(_)) => unreachable!("a seed always has a generator"),
        };
        st.step(net, params, &w, &nu, x, target, mask);
    });
    Ok(Estimate { loss: st.loss, grad: st.grad })
}
