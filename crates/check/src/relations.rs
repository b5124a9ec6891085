//! The relations of the foundation (issue 2), each evaluated per tensor.
//!
//! | id | what is compared | expect |
//! |---|---|---|
//! | `jacobian=dual` | hand-derived `D^t`, `∂M/∂z^{t-1}`, `I^t`, `∂z^t/∂h^t` vs dual-number Jacobians of the same step, every `t` | equal |
//! | `bptt=oracle` | BPTT gradient vs the oracle | equal |
//! | `rtrl=oracle` | RTRL gradient vs the oracle | equal |
//! | `rtrl=bptt` | RTRL vs BPTT; in `Dual64` also the derivative of the gradient along a random direction | equal |
//! | `fd=oracle` | central finite differences vs the oracle (smooth cells: rate, LSTM) | equal at the FD tolerance |
//! | `f32~f64` | BPTT, RTRL and the oracle in `f32` vs the same in `f64` | equal at the f32 tolerance |

use crate::compare::{Liveness, alive, max_rel_err};
use crate::suite::Config;
use credit_core::{CellModel, Detach, ForwardOptions, Params, forward};
use num_dual::Dual64;
use serde::Serialize;

/// Tolerance of exact relations in `f64` (the acceptance bar; measured errors are ~1e-15).
pub const TOL_F64: f64 = 1e-10;
/// Tolerance of `jacobian=dual` in `f64`.
pub const TOL_JACOBIAN: f64 = 1e-12;
/// Tolerance of `fd=oracle` (central differences with `h = 1e-5`: truncation ~h², rounding
/// ~ε/h).
pub const TOL_FD: f64 = 1e-6;
/// Step of the central differences.
pub const FD_STEP: f64 = 1e-5;
/// Tolerance of `f32~f64`: f32 rounding (ε ≈ 1.2e-7) amplified over the sequence; the built-in
/// configs measure below 1e-4.
pub const TOL_F32: f64 = 1e-3;

/// Whether a relation must hold (errors ≤ tolerance) or must fail (errors > tolerance).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// Theory says equal.
    Equal,
    /// Theory says different: the row fails if the two agree.
    Differ,
}

impl Expect {
    /// The verdict on an error: `Equal` holds when `err ≤ tol`, `Differ` when `err > tol` (and
    /// finite).
    pub fn holds(self, err: f64, tol: f64) -> bool {
        match self {
            Expect::Equal => err <= tol,
            Expect::Differ => err > tol && err.is_finite(),
        }
    }
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// Relation id, e.g. `bptt=oracle`.
    pub relation: &'static str,
    /// `equal` or `differ`.
    pub expect: Expect,
    /// Cell id.
    pub cell: String,
    /// Config name.
    pub config: String,
    /// Scalar type of the run: `f64`, `f32`, `Dual64`.
    pub scalar: &'static str,
    /// Tensor (or Jacobian block) compared.
    pub tensor: String,
    /// [`max_rel_err`].
    pub max_rel_err: f64,
    /// Tolerance.
    pub tolerance: f64,
    /// Verdict, liveness included.
    pub pass: bool,
    /// The liveness evidence of the config.
    pub liveness: Liveness,
    /// Why the row fails although its error may be in bounds (the config is not live, the
    /// reference is dead), or, on a passing row, why it is skipped (a structurally zero
    /// `jacobian=dual` block); `None` otherwise.
    pub reason: Option<String>,
    /// The config: the keys of a fixture's `config.json` (`docs/fixtures.md` §2) — cell (or
    /// `layers` of a stack) with every convention and parameter, readout, loss, regulariser,
    /// sizes, seed — plus how its data were drawn ([`Config::spec`], `StackConfig::spec`).
    pub spec: serde_json::Value,
}

impl Row {
    /// A passing row with a reason is a skip (a structurally zero block, named with its reason).
    pub fn skipped(&self) -> bool {
        self.pass && self.reason.is_some()
    }
}

/// The reason carried by a row ([`Row::reason`]): the liveness verdict's, else a dead reference.
pub(crate) fn reason(live: &Result<(), String>, reference_alive: bool) -> Option<String> {
    match live {
        Err(e) => Some(e.clone()),
        Ok(()) if !reference_alive => Some("the reference is identically zero or not finite".into()),
        Ok(()) => None,
    }
}

/// Which relations a run computes: `None` for all, else the ids to keep. A relation that is not
/// selected is neither computed (where its computation is its own) nor reported.
#[derive(Clone, Copy, Debug, Default)]
pub struct Select<'a>(pub Option<&'a [String]>);

impl Select<'_> {
    /// Every relation.
    pub const ALL: Select<'static> = Select(None);

    /// Whether relation `id` is selected.
    pub fn wants(&self, id: &str) -> bool {
        self.0.is_none_or(|ids| ids.iter().any(|x| x == id))
    }

    /// Whether any of `ids` is selected: the guard of a computation shared by several relations.
    pub fn any(&self, ids: &[&str]) -> bool {
        ids.iter().any(|id| self.wants(id))
    }
}

pub(crate) struct Ctx<'a> {
    pub(crate) cfg: &'a Config,
    pub(crate) select: Select<'a>,
    pub(crate) live: Liveness,
    pub(crate) live_verdict: Result<(), String>,
    pub(crate) spec: serde_json::Value,
    pub(crate) rows: Vec<Row>,
}

impl Ctx<'_> {
    pub(crate) fn push(
        &mut self,
        relation: &'static str,
        scalar: &'static str,
        tensor: String,
        err: f64,
        tol: f64,
        reference_alive: bool,
    ) {
        self.push_expect(relation, Expect::Equal, scalar, tensor, err, tol, reference_alive);
    }

    /// A row with an explicit expectation: `Equal` passes when `err ≤ tol`, `Differ` when
    /// `err > tol` (and finite); both need a live config and a live reference.
    pub(crate) fn push_expect(
        &mut self,
        relation: &'static str,
        expect: Expect,
        scalar: &'static str,
        tensor: String,
        err: f64,
        tol: f64,
        reference_alive: bool,
    ) {
        if !self.select.wants(relation) {
            return;
        }
        let pass = expect.holds(err, tol) && self.live_verdict.is_ok() && reference_alive;
        self.rows.push(Row {
            relation,
            expect,
            cell: self.cfg.net.cell.id().to_string(),
            config: self.cfg.name.clone(),
            scalar,
            tensor,
            max_rel_err: err,
            tolerance: tol,
            pass,
            liveness: self.live,
            reason: reason(&self.live_verdict, reference_alive),
            spec: self.spec.clone(),
        });
    }

    pub(crate) fn tensors(
        &mut self,
        relation: &'static str,
        scalar: &'static str,
        prefix: &str,
        a: &Params<f64>,
        b: &Params<f64>,
        tol: f64,
    ) {
        for (ta, tb) in a.tensors.iter().zip(&b.tensors) {
            let err = max_rel_err(&ta.value, &tb.value);
            self.push(relation, scalar, format!("{prefix}{}", ta.name), err, tol, alive(&tb.value));
        }
    }
}

/// The `jacobian=dual` blocks that are zero by construction on `cfg`, with the reason: `D` of
/// the rate cell with `α = 1` (the vanilla RNN, `D = 1 − α`, Eq. R4 of `docs/cells.md`), and
/// `dM/dz` (`∂M/∂z^{t−1}`) when the config sets `W_rec = 0` and no reset is differentiated.
// exact: `1 − α` is exactly zero only for `α = 1` exactly
#[allow(clippy::float_cmp)]
pub fn structural_zero_block(cfg: &Config, block: &str) -> Option<&'static str> {
    use credit_core::cell::{Cell, Reset};
    match (block, &cfg.net.cell) {
        ("D", Cell::Rate(r)) if r.alpha == 1.0 => Some("D = 1 − α = 0 for the vanilla RNN (α = 1)"),
        ("dM/dz", cell) if cfg.role == crate::suite::Role::NoRecurrence => match cell {
            Cell::Lif(c) if c.spiking.reset == Reset::Differentiated => None,
            Cell::Alif(c) if c.spiking.reset == Reset::Differentiated => None,
            _ => Some("W_rec = 0 (the config) and no differentiated reset: ∂M/∂z^{t−1} = 0"),
        },
        _ => None,
    }
}

/// The costly computations of a single-layer config and whether a selection needs them:
/// [`run_config_selected`] computes the oracle's gradient and literal RTRL only when a selected
/// relation reads them, and [`crate::budget::suite_for`] estimates only what the selection
/// runs (`check-gradients --fixture F --relations bptt-fast=bptt` on a benchmark-size fixture
/// needs neither). [`Needs::of`] of [`Select::ALL`] needs everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    /// The run computes the oracle's exact gradient (read by `bptt=oracle`, `rtrl=oracle`,
    /// `fd=oracle`, `f32~f64`).
    pub oracle: bool,
    /// The run computes literal RTRL's gradient (read by `rtrl=oracle`, `rtrl=bptt`, `f32~f64`
    /// and the family, fast forward-mode and SnAp relations).
    pub rtrl: bool,
    /// Budget: oracle passes, the run's own or those of the e-prop relations that build their
    /// reference from the oracle's taps or tangents.
    pub oracle_cost: bool,
    /// Budget: a computation of RTRL's order (literal RTRL, MDGL, UORO's full-size draw, the
    /// dense Jacobians of `jacobian=dual`).
    pub rtrl_cost: bool,
    /// Budget: the m-order family at every order (the family and fast forward-mode relations).
    pub family: bool,
    /// Budget: literal e-prop with its traces (the e-prop, fast reverse, truncated-BPTT,
    /// RFLO/KeRNL and synthetic-gradient relations).
    pub eprop: bool,
    /// Budget: central finite differences (`fd=oracle`).
    pub fd: bool,
}

impl Needs {
    /// Relations that read the oracle's exact gradient of the config.
    const ORACLE_READERS: &'static [&'static str] = &["bptt=oracle", "rtrl=oracle", "fd=oracle", "f32~f64"];
    /// Relations of other modules that run the oracle themselves (taps, tangents, detached graphs).
    const ORACLE_USERS: &'static [&'static str] =
        &["eprop-total=bptt", "eprop=oracle-detached", "eprop-random=oracle-feedback"];
    /// Relations of this module that read literal RTRL's gradient.
    const RTRL_READERS: &'static [&'static str] = &["rtrl=oracle", "rtrl=bptt", "f32~f64"];

    /// What `select` needs.
    pub fn of(select: Select) -> Needs {
        let oracle = select.any(Self::ORACLE_READERS);
        let rtrl = select.any(Self::RTRL_READERS)
            || select.any(crate::family::IDS)
            || select.any(crate::fast_forward::IDS)
            || select.any(crate::snap::IDS);
        Needs {
            oracle,
            rtrl,
            oracle_cost: oracle || select.any(Self::ORACLE_USERS),
            rtrl_cost: rtrl
                || select.any(crate::mdgl::IDS)
                || select.any(crate::uoro::IDS)
                || select.wants("jacobian=dual"),
            family: select.any(crate::family::IDS) || select.any(crate::fast_forward::IDS),
            eprop: select.any(crate::eprop::IDS)
                || select.any(crate::fast_reverse::IDS)
                || select.any(crate::tbptt::IDS)
                || select.any(crate::rflo::IDS)
                || select.any(crate::synthgrad::IDS),
            fd: select.wants("fd=oracle"),
        }
    }
}

/// Evaluates every relation on one single-layer config.
pub fn run_config(cfg: &Config) -> credit_core::Result<Vec<Row>> {
    run_config_selected(cfg, Select::ALL)
}

/// Evaluates the selected relations on one single-layer config: the rows of the others are not
/// reported, and computations that only they need are not run (`check-gradients --relations`).
pub fn run_config_selected(cfg: &Config, select: Select) -> credit_core::Result<Vec<Row>> {
    let net = &cfg.net;
    let (p, seq) = cfg.instantiate()?;
    let needs = Needs::of(select);
    // the trajectory every relation below reads (liveness, Jacobians, literal traces, f32 spikes)
    let traj = forward(net, &p, &seq, ForwardOptions::default())?;
    // literal BPTT: the reference of most relations (cheap: O(T·P))
    let bptt = credit_bptt::gradient(net, &p, &seq)?;
    // the exact gradient by dual numbers, and literal RTRL: only when a selected relation reads them
    let oracle =
        if needs.oracle { Some(credit_oracle::gradient(net, &p, &seq, Detach::default())?) } else { None };
    let rtrl = if needs.rtrl { Some(credit_rtrl::gradient(net, &p, &seq)?) } else { None };
    // the liveness evidence of every row: the oracle's gradient, or literal BPTT's when the
    // selection does not run the oracle (the two are equal on every config: `bptt=oracle`)
    let exact = oracle.as_ref().map_or(&bptt.grad, |o| &o.grad);
    let live = Liveness::of_run(&net.cell, &traj.states, &traj.z, &exact.tensors[..net.n_cell_tensors()]);
    let live_verdict = live.verdict(&net.cell);
    let mut cx = Ctx { cfg, select, live, live_verdict, spec: cfg.spec(), rows: Vec::new() };
    if select.wants("jacobian=dual") {
        jacobian_rows(&mut cx, &p, &traj)?;
    }

    // the exact triangle in f64
    if let Some(oracle) = &oracle {
        cx.tensors("bptt=oracle", "f64", "", &bptt.grad, &oracle.grad, TOL_F64);
    }
    if let Some(rtrl) = &rtrl {
        if let Some(oracle) = &oracle {
            cx.tensors("rtrl=oracle", "f64", "", &rtrl.grad, &oracle.grad, TOL_F64);
        }
        cx.tensors("rtrl=bptt", "f64", "", &rtrl.grad, &bptt.grad, TOL_F64);
    }
    // only reached with `needs.rtrl` (`Needs::of` lists every reader)
    let rtrl_grad = || rtrl.as_ref().map(|r| &r.grad).expect("Needs::of lists every reader of literal RTRL");

    // the e-prop relations (issue 3)
    if select.any(crate::eprop::IDS) {
        crate::eprop::rows(&mut cx, &p, &seq, &traj, &bptt.grad)?;
    }
    // the fast BPTT and e-prop paths (issue 11)
    if select.any(crate::fast_reverse::IDS) {
        crate::fast_reverse::rows(&mut cx, &p, &seq, &bptt)?;
    }
    // the m-order family relations (issue 4)
    if select.any(crate::family::IDS) {
        crate::family::rows(&mut cx, &p, &seq, rtrl_grad())?;
    }
    // the fast forward-mode paths against the literal ones (issue 11)
    if select.any(crate::fast_forward::IDS) {
        crate::fast_forward::rows(&mut cx, &p, &seq, &traj, rtrl_grad())?;
    }
    // the SnAp-n relations (issue 15)
    if select.any(crate::snap::IDS) {
        crate::snap::rows(&mut cx, &p, &seq, &traj, rtrl_grad())?;
    }
    // the truncated-BPTT relations (issue 15)
    if select.any(crate::tbptt::IDS) {
        crate::tbptt::rows(&mut cx, &p, &seq, &bptt.grad)?;
    }
    // the RFLO and KeRNL relations (issue 15, rate cells)
    if select.any(crate::rflo::IDS) {
        crate::rflo::rows(&mut cx, &p, &seq, &bptt.grad)?;
    }
    // unbiasedness of the low-rank estimators by exact enumeration (issue 15)
    if select.any(crate::uoro::IDS) {
        crate::uoro::rows(&mut cx)?;
    }
    // MDGL against the family's order 1 (issue 15)
    if select.any(crate::mdgl::IDS) {
        crate::mdgl::rows(&mut cx, &p, &seq)?;
    }

    // the synthetic-gradient relations (issue 14), on the memoryless variant of smooth configs
    if select.any(crate::synthgrad::IDS) {
        crate::synthgrad::rows(&mut cx, &p, &seq)?;
    }

    // rtrl=bptt in Dual64: values and the derivative of the gradient along a random direction
    if select.wants("rtrl=bptt") {
        dual_rows(&mut cx, &p, &seq)?;
    }

    // fd=oracle for smooth cells
    if let (false, Some(oracle)) = (net.cell.is_spiking(), &oracle)
        && select.wants("fd=oracle")
    {
        let fd = credit_oracle::finite_difference(net, &p, &seq, FD_STEP)?;
        cx.tensors("fd=oracle", "f64", "", &fd, &oracle.grad, TOL_FD);
    }

    // f32~f64 for each computation
    if let (true, Some(oracle)) = (select.wants("f32~f64"), &oracle) {
        f32_rows(&mut cx, &p, &seq, &traj, [&bptt.grad, rtrl_grad(), &oracle.grad])?;
    }
    Ok(cx.rows)
}

/// `jacobian=dual`: the hand-derived local Jacobians against dual-number Jacobians of the same
/// step, every step of the trajectory, one row per block.
fn jacobian_rows(
    cx: &mut Ctx,
    p: &Params<f64>,
    traj: &credit_core::Trajectory<f64>,
) -> credit_core::Result<()> {
    let (cfg, net) = (cx.cfg, &cx.cfg.net);
    let w = p.cell_tensors(net);
    let mut acc = [(0.0f64, 0.0f64); 5]; // (max diff, max reference) per block
    for t in 1..traj.z.len() {
        let hand = net.cell.jacobians(&w, &traj.states[t - 1], &traj.z[t - 1], &traj.x[t]);
        let rows = net.cell.output_jacobian(&traj.states[t]);
        let input = net.cell.input_jacobian(&w, &traj.states[t - 1], &traj.z[t - 1], &traj.x[t]);
        let hand = credit_oracle::dense_hand_jacobians(net, &hand, &rows, &input);
        let dual = credit_oracle::step_jacobians(net, p, &traj.states[t - 1], &traj.z[t - 1], &traj.x[t]);
        let blocks = [
            (&hand.d, &dual.d),
            (&hand.m_z, &dual.m_z),
            (&hand.i, &dual.i),
            (&hand.z_h, &dual.z_h),
            (&hand.m_x, &dual.m_x),
        ];
        for (k, (a, b)) in blocks.into_iter().enumerate() {
            // NaN-safe: a non-finite entry makes the block fail
            let finite = a.iter().chain(b.iter()).all(|x| x.is_finite());
            let diff = if finite { (a - b).amax() } else { f64::INFINITY };
            acc[k].0 = acc[k].0.max(diff);
            acc[k].1 = acc[k].1.max(if finite { b.amax() } else { f64::INFINITY });
        }
    }
    for (k, name) in ["D", "dM/dz", "I", "dz/dh", "dM/dx"].into_iter().enumerate() {
        let (diff, scale) = acc[k];
        let err = if scale > 0.0 {
            diff / scale
        } else if diff == 0.0 {
            0.0
        } else {
            f64::INFINITY
        };
        match structural_zero_block(cfg, name) {
            // a block zero by construction is skipped by name: the row passes (as a skip, with
            // the reason) only if both Jacobians are exactly zero at every step
            Some(why) => {
                let zero = diff == 0.0 && scale == 0.0;
                let before = cx.rows.len();
                cx.push("jacobian=dual", "f64", name.to_string(), err, TOL_JACOBIAN, zero);
                let r = &mut cx.rows[before];
                r.pass &= zero;
                r.reason = Some(match (&cx.live_verdict, zero) {
                    (Err(e), _) => e.clone(),
                    (Ok(()), true) => format!("skipped: {why}"),
                    (Ok(()), false) => format!("claimed structurally zero ({why}) but the block is not"),
                });
            }
            // every other block must be non-zero somewhere: zero = zero proves nothing
            None => cx.push("jacobian=dual", "f64", name.to_string(), err, TOL_JACOBIAN, scale > 0.0),
        }
    }
    Ok(())
}

/// `rtrl=bptt` in `Dual64`: values and the derivative of the gradient along a random direction.
fn dual_rows(cx: &mut Ctx, p: &Params<f64>, seq: &credit_core::Sequence) -> credit_core::Result<()> {
    let (cfg, net) = (cx.cfg, &cx.cfg.net);
    let dir = Params::<f64>::random(net, cfg.seed.wrapping_add(1000))?;
    let mut k = 0;
    let pd: Params<Dual64> = {
        let mut q = p.map(|x| Dual64::new(x, 0.0));
        for t in q.tensors.iter_mut() {
            let name = t.name;
            let dv = dir.get(name).expect("same layout");
            for (e, &v) in t.value.iter_mut().zip(dv.iter()) {
                e.eps = v;
                k += 1;
            }
        }
        q
    };
    debug_assert_eq!(k, p.len());
    let bd = credit_bptt::gradient(net, &pd, seq)?;
    let rd = credit_rtrl::gradient(net, &pd, seq)?;
    let eps = |g: &Params<Dual64>| Params {
        tensors: g
            .tensors
            .iter()
            .map(|t| credit_core::Tensor { name: t.name, value: t.value.map(|x| x.eps) })
            .collect(),
    };
    cx.tensors("rtrl=bptt", "Dual64", "", &rd.grad.values(), &bd.grad.values(), TOL_F64);
    cx.tensors("rtrl=bptt", "Dual64", "ε:", &eps(&rd.grad), &eps(&bd.grad), TOL_F64);
    Ok(())
}

/// `f32~f64`: BPTT, RTRL and the oracle in `f32` against their `f64` gradients `g64` (in that
/// order); the rows fail when the spike trains of the two precisions differ.
fn f32_rows(
    cx: &mut Ctx,
    p: &Params<f64>,
    seq: &credit_core::Sequence,
    traj: &credit_core::Trajectory<f64>,
    g64: [&Params<f64>; 3],
) -> credit_core::Result<()> {
    let net = &cx.cfg.net;
    let p32: Params<f32> = p.cast();
    let b32 = credit_bptt::gradient(net, &p32, seq)?;
    let r32 = credit_rtrl::gradient(net, &p32, seq)?;
    let o32 = credit_oracle::gradient(net, &p32, seq, Detach::default())?;
    let t32 = forward(net, &p32, seq, ForwardOptions::default())?;
    let same_spikes =
        traj.z.iter().zip(&t32.z).all(|(a, b)| a.iter().zip(b.iter()).all(|(x, y)| (*x > 0.5) == (*y > 0.5)));
    let f32_ok = same_spikes || !net.cell.is_spiking();
    for (name, g32, g64) in
        [("bptt/", &b32.grad, g64[0]), ("rtrl/", &r32.grad, g64[1]), ("oracle/", &o32.grad, g64[2])]
    {
        let before = cx.rows.len();
        cx.tensors("f32~f64", "f32", name, &g32.values(), g64, TOL_F32);
        if !f32_ok {
            for r in &mut cx.rows[before..] {
                r.pass = false;
                r.tensor.push_str(" (spike trains differ)");
                r.reason.get_or_insert_with(|| "the f32 and f64 spike trains differ".into());
            }
        }
    }
    Ok(())
}
