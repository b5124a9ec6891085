//! # credit-train — training with any rule of the workspace
//!
//! A consumer of the rules (like `credit-check`): it turns a gradient source into learning
//! curves. `docs/training.md` holds every convention, in the shared notation:
//!
//! * [`rule`]: the gradient source — BPTT, RTRL, e-prop (symmetric, random, adaptive), the
//!   m-order family, deep e-prop, OSTL, and the online rules SnAp-n, E-/F-BPTT, RFLO, KeRNL,
//!   UORO, KF-RTRL, R-KF-RTRL, MDGL — one `match` arm per rule (§1);
//! * [`optim`]: SGD and Adam (Kingma & Ba 2015) with bias correction, Eqs. (O1)–(O4) (§2);
//! * [`train`]: batches with summed or averaged gradients (U1), the update (U2), adaptive
//!   e-prop's feedback (U3, Bellec et al. 2020 / `credit-eprop` Eq. E11), a trainable-tensor mask,
//!   per-tensor clipping (U4), per-update logs of the task loss and the regulariser separately,
//!   the firing rate and on demand the cosine to BPTT (§3–§4); deterministic from a seed;
//! * [`tasks`]: tasks generated from a seed — sine-wave pattern generation (Bellec et al. 2020,
//!   Fig. 2; NEST's regression example as the `nest` preset), evidence accumulation (Fig. 3; NEST's
//!   classification example), store-recall, copy and adding (§5);
//! * [`output`]: the curves as CSV, JSON and an SVG plot (plotters, SVG backend only) (§7);
//! * [`report`]: the static HTML report of `cargo xtask report` (§8).
//!
//! ```
//! use credit_train::{Rule, Trainer, tasks};
//! let s = tasks::setup("adding", "rate", "default", Rule::Bptt, 1, 7)?;
//! let mut config = s.config.clone();
//! config.iterations = 3;
//! let mut trainer = Trainer::new(s.model, s.params, config)?;
//! let summary = trainer.run(&s.task, |_| {})?;
//! assert_eq!(trainer.log.len(), 3);
//! assert!(summary.after.task_loss.is_finite());
//! # Ok::<(), credit_core::Error>(())
//! ```
//!
//! ## Reference
//! D. P. Kingma, J. Ba, "Adam: a method for stochastic optimization", ICLR 2015 (Algorithm 1);
//! G. Bellec et al., Nature Communications 11:3625 (2020), Figs. 2–3; NEST 3.x
//! `pynest/examples/eprop_plasticity` (the `_bsshslm_2020` examples).

pub mod optim;
pub mod output;
pub mod report;
pub mod rule;
pub mod tasks;
pub mod train;

pub use optim::{OptimState, Optimizer};
pub use rule::{Aux, EpropFeedback, Estimate, KernlFit, Model, Path, Rule, gradient};
pub use tasks::{Setup, Task, setup};
pub use train::{Clip, Eval, NOISE_STREAM, Record, Reduction, Summary, TrainConfig, Trainer, evaluate};
