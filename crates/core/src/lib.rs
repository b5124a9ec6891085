//! # credit-core
//!
//! The foundation of the **credit** reference crates: a generic scalar ([`Scalar`]: `f32`,
//! `f64`, dual numbers), recurrent cells with hand-derived local Jacobians ([`cell`]), a leaky
//! readout with losses ([`readout`]), feedforward networks ([`feedforward`]), parameters, sequences and the one forward pass
//! ([`network`]) that every learning rule and the dual-number oracle share.
//!
//! Notation and equations: `docs/notation.md` and `docs/cells.md` of the repository. Equation
//! labels such as (C1), (L3) or (Y1) in doc comments refer to those files.
//!
//! ```
//! use credit_core::{cell::{Cell, Lif, Spiking}, forward, ForwardOptions, Loss, Network, Params, Readout, Sequence};
//! let net = Network::new(Cell::Lif(Lif { spiking: Spiking::new(0.9, 1.0) }), 3, 4, 2,
//!                        Readout::leaky(0.8), Loss::Mse)?;
//! let params = Params::<f64>::random(&net, 7)?;
//! let seq = Sequence::random(&net, 20, 7)?;
//! let traj = forward(&net, &params, &seq, ForwardOptions::default())?;
//! assert!(traj.loss.is_finite());
//! # Ok::<(), credit_core::Error>(())
//! ```

pub mod cell;
pub mod columns;
pub mod conventions;
mod error;
pub mod fast;
pub mod feedforward;
mod init;
pub mod model;
pub mod network;
pub mod online;
pub mod readout;
mod scalar;
pub mod stack;
pub mod vmath;

pub use cell::{Cell, CellModel, CellState, Detach, Edges, LocalJacobians};
pub use conventions::{Conventions, Preset};
pub use error::{Error, Result, decay_from_tau};
pub use feedforward::{Activation, FeedForward, FfLoss, FfTrajectory};
pub use init::{InitScale, SequenceStyle};
pub use model::Model;
pub use network::{
    ForwardOptions, Network, Params, Sequence, Tap, TapSite, Tensor, Trajectory, forward, forward_unchecked,
};
pub use readout::{Loss, RateReg, Readout, ReadoutDelay, ReadoutScale, RegFactor};
pub use scalar::Scalar;
pub use stack::{InterLayer, Layer, LayerCut, ReadoutFrom, Stack, StackTrajectory};
