//! # credit-family — the m-order e-prop family
//!
//! **A reconstruction.** "A taxonomy of recurrent learning rules" (Martín-Sánchez, Bohté, Otte,
//! ICANN 2022, arXiv:2207.11439) derives RTRL from BPTT, states what e-prop approximates, and
//! uncovers "a family of algorithms determined by the level of approximation". Its full text was
//! not available when this crate was written: the equations here are the reconstruction of the
//! design notes (equations.md §2, tagged \[R\]), checked by two independent formulations against
//! each other and against e-prop and RTRL. Where the paper may define the order differently,
//! the choice is a parameter ([`Reading`]), not a rewrite. See `docs/family.md`.
//!
//! The member of order `m` keeps every chain-rule path from a parameter to the loss that crosses
//! at most `m` **explicit** (z-mediated: recurrent input, reset) edges:
//!
//! * [`recursion`]: `S^{(m),t} = D^t S^{(m),t-1} + R^t S^{(m−1),t-1} + I^t` (F1), online, with
//!   counted costs;
//! * [`graded`]: a forward pass whose tangent is a polynomial in a formal `λ` that every explicit
//!   edge multiplies (F6) — one pass per parameter gives all orders.
//!
//! `m = 0` is e-prop (symmetric feedback); `m ≥ T − 1` is RTRL (`T − 2` suffices since
//! `z^0 = 0`).
//!
//! ## Requirements
//! Any cell of `credit-core`; any [`credit_core::Scalar`] for the recursion; `f64` for the
//! graded pass. Memory `O(m·N·d·P)`, compute `O(m·N²·d·P)` per step for `m ≥ 2`; the first
//! two orders are cheaper (block-sparse level 0).
//!
//! ## Reference
//! M. Martín-Sánchez, S. Bohté, S. Otte, "A taxonomy of recurrent learning rules", ICANN 2022,
//! LNCS, pp. 478–490, doi:10.1007/978-3-031-15919-0_40 (abstract and introduction read);
//! Y. H. Liu et al., PNAS 2021 (MDGL) for [`Reading::LastStepHop`]; [`Reading::TimeLag`] is the
//! "order by time lag" alternative reading of the design notes.
//!
//! ```
//! use credit_core::{cell::{Cell, Rate}, Loss, Network, Params, Readout, Sequence};
//! use credit_family::{Reading, graded, recursion};
//! let net = Network::new(Cell::Rate(Rate { alpha: 0.5 }), 2, 3, 1, Readout::leaky(0.5), Loss::Mse)?;
//! let (p, seq) = (Params::<f64>::random(&net, 2)?, Sequence::random(&net, 5, 2)?);
//! let by_order = graded::family_gradients::<8>(&net, &p, &seq)?;
//! for m in 0..5 {
//!     let rec = recursion::gradient(&net, &p, &seq, m, Reading::HopCount)?;
//!     let (a, b) = (rec.grad.get("w_rec").unwrap(), by_order[m].get("w_rec").unwrap());
//!     assert!((a - b).amax() <= 1e-12 * b.amax()); // two formulations, one family
//! }
//! # Ok::<(), credit_core::Error>(())
//! ```

pub mod fast;
pub mod graded;
pub mod recursion;

pub use recursion::{Cost, FamilyGradient, FamilyState, Reading, gradient};
