//! # credit-mdgl — multidigraph learning (MDGL), online
//!
//! A transcription of `docs/mdgl.md` (Liu, Smith, Mihalas, Shea-Brown, Sümbül, "Cell-type–specific
//! neuromodulation guides synaptic credit assignment in a spiking neural network", PNAS 118 (51)
//! e2111821118, 2021), **reconstructed** from the design notes' memory of its update (the paper's
//! text was not available; `docs/mdgl.md` §1): e-prop's trace plus the credit that reaches the
//! readout through exactly one explicit connection step, taken at the last step:
//!
//! $$ \\varepsilon_j^t = D_{jj}^t \\varepsilon_j^{t-1} + I_j^t, \\quad e_j^t = \\frac{\\partial z_j^t}{\\partial h_j^t} \\varepsilon_j^t
//!    \\quad\\text{(MD1, = e-prop's E1–E2)} $$
//! $$ \\hat Z^t_{p,\\theta_j} = \\delta_{pj}\\, e_j^t + \\frac{\\partial z_p^t}{\\partial h_p^t}
//!    \\frac{\\partial M_p^t}{\\partial z_j^{t-1}}\\, e_j^{t-1} \\quad\\text{(MD2)} $$
//! (the hop term for `p = j` only with [`SelfHop::Include`])
//! and the gradient is RTRL's (T3)–(T5) with `Ẑ^t` (the core's shared
//! [`credit_core::online::ForwardReadout`], `docs/rtrl.md` §7): `Σ_t L_p^t Ẑ^t_{p,θ}` with the readout's
//! partial signal — for LIF `∂M_p/∂z_j = W_pj` (times the input scale), the paper's
//! `Σ_p L_p ψ_p W_pj e_ji^{t−1}` term. Whether the hop from a neuron to itself (an autapse, the
//! differentiated reset `−v_th z_j`) belongs to it is not known: [`SelfHop`] keeps both readings.
//! With [`SelfHop::Include`] MDGL is the m-order family's order 1 under the last-step-hop reading
//! (`credit-family`, `Reading::LastStepHop`, Eq. F4 of `docs/family.md`); with
//! [`SelfHop::Exclude`] the difference is exactly the diagonal term (`docs/mdgl.md` §3).
//!
//! ## Requirements
//! Any cell, any [`Scalar`]; the regulariser is refused (`network.reg`). Online: the state holds
//! `ε`, `e^{t−1}`, the last `Ẑ` (`N × P_cell`, for the readout delay), `Y` and the forward state,
//! independent of `T` ([`Mdgl::len_scalars`]).

use credit_core::cell::output_times;
use credit_core::online::{ForwardReadout, for_each_step};
use credit_core::{CellModel, CellState, Network, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// Whether the one-step hop from neuron `j` back to itself counts (Eq. MD2 with `p = j`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SelfHop {
    /// Every `p`, including `p = j` (autapse, differentiated reset): the family's order 1
    /// under the last-step-hop reading.
    #[default]
    Include,
    /// Only `p ≠ j` (connections between neurons).
    Exclude,
}

/// What MDGL returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate<T: Scalar> {
    /// The loss.
    pub loss: T,
    /// The gradient estimate (readout tensors exact).
    pub grad: Params<T>,
}

/// The online state of MDGL after `t` steps.
#[derive(Clone, Debug)]
pub struct Mdgl<T: Scalar> {
    /// The self-hop reading.
    pub self_hop: SelfHop,
    /// Cell state at `t`.
    pub cell: CellState<T>,
    /// `z^t`.
    pub z: DVector<T>,
    /// `ε^t`, `N` blocks of `d × P_loc` (Eq. MD1).
    pub eps: Vec<DMatrix<T>>,
    /// `e^t`, `N × P_loc` (Eq. MD1).
    pub e: DMatrix<T>,
    /// `Ẑ^t`, `N × P_cell` (Eq. MD2).
    pub zs: DMatrix<T>,
    /// `y^t`, `Y^t`, `z̄^t`, `b̄^t` (rtrl.md (T3), (T5); the core's shared [`ForwardReadout`]).
    pub readout: ForwardReadout<T>,
    /// Steps consumed.
    pub steps: usize,
    /// Accumulated loss.
    pub loss: T,
    /// Accumulated gradient estimate.
    pub grad: Params<T>,
}

impl<T: Scalar> Mdgl<T> {
    /// The state at `t = 0`. Errors: a regulariser (`network.reg`).
    pub fn new(net: &Network, self_hop: SelfHop) -> credit_core::Result<Self> {
        net.validate()?;
        if net.reg.is_some() {
            return Err(credit_core::Error::Invalid {
                field: "network.reg".into(),
                value: "a firing-rate regulariser".into(),
                requirement: "MDGL is transcribed with per-step losses only",
            });
        }
        let (n, p) = (net.n, net.p_cell());
        Ok(Mdgl {
            self_hop,
            cell: CellState::zeros(n, net.d(), net.cell.is_spiking()),
            z: DVector::zeros(n),
            eps: vec![DMatrix::zeros(net.d(), net.p_loc()); n],
            e: DMatrix::zeros(n, net.p_loc()),
            zs: DMatrix::zeros(n, p),
            readout: ForwardReadout::new(net),
            steps: 0,
            loss: T::zero(),
            grad: Params::zeros(net),
        })
    }

    /// Scalars held; independent of the steps consumed.
    pub fn len_scalars(&self) -> usize {
        self.cell.h.len()
            + self.z.len()
            + self.eps.iter().map(|b| b.len()).sum::<usize>()
            + self.e.len()
            + self.zs.len()
            + self.readout.len_scalars()
            + 2
            + self.grad.len()
    }

    /// One online step.
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
        let jac = net.cell.jacobians(w, &self.cell, &self.z, x);
        let cell = net.cell.step(w, &self.cell, &self.z, x, &Default::default());
        let z_h = net.cell.output_jacobian(&cell);
        let e_prev = self.e.clone();
        for j in 0..n {
            self.eps[j] = &jac.d[j] * &self.eps[j] + &jac.i[j]; // Eq. (MD1)
            let row = z_h.row(j) * &self.eps[j]; // Eq. (MD1)
            self.e.row_mut(j).copy_from(&row);
        }
        // Eq. (MD2): (∂M/∂z^{t−1})_{·, j} e_j^{t−1} placed at neuron j's columns, then ∂z/∂h
        let mut hop = DMatrix::<T>::zeros(n * d, net.p_cell());
        for j in 0..n {
            for q in 0..pl {
                let col = net.flat_index_of_local(j, q);
                for p in 0..n {
                    if p == j && self.self_hop == SelfHop::Exclude {
                        continue;
                    }
                    for c in 0..d {
                        hop[(p * d + c, col)] = jac.m_z[(p * d + c, j)] * e_prev[(j, q)];
                    }
                }
            }
        }
        let mut zs = output_times(&z_h, &hop);
        for j in 0..n {
            for q in 0..pl {
                zs[(j, net.flat_index_of_local(j, q))] += self.e[(j, q)]; // Eq. (MD2): δ_pj e_j^t
            }
        }
        let z = net.cell.output(&cell);
        // rtrl.md Eqs. (Y1), (T3)–(T5) with Ẑ^{t−δ}
        self.loss +=
            self.readout.step(net, params, (&self.z, &self.zs), (&z, &zs), target, mask, &mut self.grad);
        self.steps += 1;
        self.cell = cell;
        self.z = z;
        self.zs = zs;
    }
}

/// MDGL's gradient estimate of `seq` under the given self-hop reading.
pub fn gradient<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    self_hop: SelfHop,
) -> credit_core::Result<Estimate<T>> {
    let mut st = Mdgl::new(net, self_hop)?;
    params.validate(net)?;
    seq.validate(net)?;
    let w = params.cell_tensors(net);
    for_each_step(seq, |_, x, target, mask| st.step(net, params, &w, x, target, mask));
    Ok(Estimate { loss: st.loss, grad: st.grad })
}
