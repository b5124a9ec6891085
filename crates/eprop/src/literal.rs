//! The paper's LIF and ALIF traces written out literally, Eqs. (E7)–(E10) of `docs/eprop.md`
//! (Bellec et al. 2020, Methods; the ALIF equation the authors' code calls "formula (25)").
//!
//! LIF: the eligibility vector depends on the presynaptic index only (property P17),
//! $$ \\bar z_i^t = \\alpha \\bar z_i^{t-1} + \\zeta z_i^{t-1}\\ \\text{(recurrent)},\\quad
//!    \\bar x_i^t = \\alpha \\bar x_i^{t-1} + \\zeta x_i^t\\ \\text{(input)},\\quad
//!    \\bar 1^t = \\alpha \\bar 1^{t-1} + \\zeta\\ \\text{(bias)}, \\qquad e_{ji}^t = \\psi_j^t\\, \\varepsilon_{ji}^t . $$
//! ALIF: `ε^v` is the same presynaptic trace and
//! $$ \\varepsilon^a_{ji,t} = \\psi_j^{t-1} \\varepsilon^v_{ji,t-1} + (\\rho - \\beta\\psi_j^{t-1}) \\varepsilon^a_{ji,t-1}, \\qquad
//!    e_{ji}^t = \\psi_j^t \\big(\\varepsilon^v_{ji,t} - \\beta \\varepsilon^a_{ji,t}\\big). $$
//!
//! This module never calls the cell's generic Jacobians: it is the second, independent
//! formulation that `eprop-literal=eprop-generic` compares with [`crate::traces`].

use credit_core::cell::{Cell, Spiking};
use credit_core::{Scalar, Trajectory};
use nalgebra::{DMatrix, DVector};

/// Literal LIF/ALIF traces along a trajectory: `e^t` (`N × P_loc`, local parameter layout
/// `[w_in row | w_rec row | b]`) for `t = 0..=T` (entry 0 is zero). `None` for other cells.
pub fn traces<T: Scalar>(cell: &Cell, traj: &Trajectory<T>) -> Option<Vec<DMatrix<T>>> {
    let (sp, adapt): (&Spiking, Option<(f64, f64)>) = match cell {
        Cell::Lif(c) => (&c.spiking, None),
        Cell::Alif(c) => (&c.spiking, Some((c.rho, c.beta))),
        _ => return None,
    };
    let n = traj.z[0].len();
    let n_in = traj.x[0].len();
    let p = n_in + n + 1;
    let (alpha, zeta) = (T::c(sp.alpha), T::c(sp.zeta()));
    let beta = T::c(adapt.map_or(0.0, |a| a.1));
    let rho = T::c(adapt.map_or(0.0, |a| a.0));
    // ψ_j^t from the stored state: A = v_th + β a for ALIF, v_th for LIF
    let psi = |t: usize, j: usize| -> T {
        let s = &traj.states[t];
        let (v, a) = match adapt {
            Some(_) => (s.h[2 * j], s.h[2 * j + 1]),
            None => (s.h[j], T::zero()),
        };
        sp.psi(v, T::c(sp.v_th) + beta * a, s.refractory[j])
    };
    let mut pre = DVector::<T>::zeros(p); // presynaptic traces [x̄ | z̄ | 1̄] (ε^v)
    let mut eps_a = DMatrix::<T>::zeros(n, p); // ε^a_{ji} (ALIF)
    let mut out = vec![DMatrix::zeros(n, p)];
    for t in 1..traj.z.len() {
        let pre_prev = pre.clone();
        for i in 0..n_in {
            pre[i] = alpha * pre[i] + zeta * traj.x[t][i]; // Eq. (E7), input synapses
        }
        for i in 0..n {
            pre[n_in + i] = alpha * pre[n_in + i] + zeta * traj.z[t - 1][i]; // Eq. (E7), recurrent
        }
        pre[n_in + n] = alpha * pre[n_in + n] + zeta; // Eq. (E7), bias
        let mut e = DMatrix::zeros(n, p);
        for j in 0..n {
            let psi_now = psi(t, j);
            let psi_prev = psi(t - 1, j);
            for q in 0..p {
                if q == n_in + j {
                    continue; // no autapse: W_rec[j, j] is not a parameter
                }
                if adapt.is_some() {
                    // Eq. (E9): ε^a_t = ψ^{t-1} ε^v_{t-1} + (ρ − βψ^{t-1}) ε^a_{t-1}
                    eps_a[(j, q)] = psi_prev * pre_prev[q] + (rho - beta * psi_prev) * eps_a[(j, q)];
                }
                e[(j, q)] = psi_now * (pre[q] - beta * eps_a[(j, q)]); // Eqs. (E8), (E10)
            }
        }
        out.push(e);
    }
    Some(out)
}
