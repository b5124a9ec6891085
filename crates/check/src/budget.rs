//! Cost estimates: the memory and the multiply-adds a computation will take, from the sizes alone,
//! checked **before** anything is allocated (`docs/fixtures.md` §4, "Limits").
//!
//! Every estimate is the leading term of the computation's known order, in `f64` (so that sizes
//! such as `N = 10⁵` cannot overflow), with these sizes of a network (a stack counts as one
//! network of `N = Σ N_l` neurons, every parameter of every layer in `P`):
//!
//! | symbol | meaning |
//! |---|---|
//! | `T` | steps |
//! | `N`, `N_in`, `K` | neurons, inputs, readout units |
//! | `d` | state components per neuron (largest layer's) |
//! | `P_loc` | local parameters per neuron (largest layer's) |
//! | `P_cell = N·P_loc` | cell parameters; `P` all parameters (readout included) |
//!
//! | computation | memory (floats) | multiply-adds |
//! |---|---|---|
//! | inputs (`params`, `x`, `target`, `mask`, `feedback`) | `P + T(N_in + K + 1) + N K` | — |
//! | forward pass | `(T+1)(2 N d + N + K)` | `T·P` |
//! | BPTT | forward + `(T+1)(N + N d)` + `P` | `T(2P + N d P_loc)` |
//! | e-prop (any signal), the intermediates | forward + `2(T+1) N P_loc` (traces stored) | `T(2P + 2 N d² P_loc)` |
//! | RTRL | `2 N d P_cell` (sensitivities `dh/dθ`, `O(N³)`) | `T N² d² P_cell` (`O(N⁴)` per step) |
//! | oracle (dual numbers) | `2·2(T+1)(N d + N + K)` (a dual trajectory per core) + `P` | `3 T P²` (`P` passes) |
//! | family, order `m` | `N d² P_loc + m N d P_cell` | `T(N d² P_loc + [m ≥ 1](N² d P_loc + N d² P_cell) + (m−1)⁺(N² d P_cell + N d² P_cell) + 80 m N d P_cell)` ([`FAMILY_PASS`]) |
//! | family table (`m = 0 … T−1`) | the family at `m = T−1` | the sum over `m` |
//! | deep e-prop, OSTL | bounded by RTRL's | bounded by RTRL's |
//! | `check-gradients` (one config) | the largest of the above | their sum, with the oracle twice and `2P` forward passes of central differences |
//! | `check-gradients --relations …` (one config) | the largest of what the selection runs | BPTT plus what the selection runs ([`crate::relations::Needs`]) |
//!
//! Memory is `8` bytes per float. The limits ([`Limits`]) are per computation: a fixture export
//! runs its rules one after the other, so the largest single computation is what must fit.

use serde::Serialize;

/// The sizes an estimate depends on (see the module table).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sizes {
    /// Steps `T`.
    pub steps: f64,
    /// Inputs `N_in`.
    pub n_in: f64,
    /// Neurons `N` (all layers).
    pub n: f64,
    /// Readout units `K`.
    pub n_out: f64,
    /// State components per neuron `d`.
    pub d: f64,
    /// Local parameters per neuron `P_loc`.
    pub p_loc: f64,
    /// All parameters `P`.
    pub p: f64,
}

impl Sizes {
    /// The sizes of a single-layer network run for `steps` steps.
    pub fn of_network(net: &credit_core::Network, steps: usize) -> Self {
        let shapes = net.tensor_shapes();
        let p: f64 = shapes.iter().map(|(_, r, c)| *r as f64 * *c as f64).sum();
        // P_loc from the cell tensors' columns, in f64: sizes near usize::MAX must not overflow
        let p_loc: f64 = shapes[..net.n_cell_tensors()].iter().map(|(_, _, c)| *c as f64).sum();
        Sizes {
            steps: steps as f64,
            n_in: net.n_in as f64,
            n: net.n as f64,
            n_out: net.n_out as f64,
            d: net.d() as f64,
            p_loc,
            p,
        }
    }

    /// The sizes of a stack run for `steps` steps (one network of `Σ N_l` neurons), in `f64`
    /// throughout: sizes near `usize::MAX` must not overflow.
    pub fn of_stack(s: &credit_core::stack::Stack, steps: usize) -> Self {
        use credit_core::CellModel;
        let mut sz = Sizes {
            steps: steps as f64,
            n_in: s.n_in as f64,
            n: 0.0,
            n_out: s.n_out as f64,
            d: 0.0,
            p_loc: 0.0,
            p: 0.0,
        };
        let mut below = s.n_in; // the layer's input: the inputs, then the layer below
        let mut top = 0.0;
        for layer in &s.layers {
            let (n, p_loc) = (
                layer.n as f64,
                layer.cell.tensor_cols(below, layer.n).iter().map(|c| *c as f64).sum::<f64>(),
            );
            sz.n += n;
            sz.d = sz.d.max(layer.cell.state_dim() as f64);
            sz.p_loc = sz.p_loc.max(p_loc);
            sz.p += n * p_loc;
            below = layer.n;
            top = n;
        }
        let read = match s.readout_from {
            credit_core::stack::ReadoutFrom::Top => top,
            credit_core::stack::ReadoutFrom::All => sz.n,
        };
        sz.p += sz.n_out * (read + 1.0);
        sz
    }

    fn p_cell(&self) -> f64 {
        self.n * self.p_loc
    }
}

/// Memory (bytes) and multiply-adds of one computation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Cost {
    /// Peak memory, bytes.
    pub bytes: f64,
    /// Multiply-adds.
    pub madds: f64,
}

const F64: f64 = 8.0;

/// The arrays of a fixture's `inputs.npz`.
pub fn inputs(s: &Sizes) -> Cost {
    Cost { bytes: F64 * (s.p + s.steps * (s.n_in + s.n_out + 1.0) + s.n * s.n_out), madds: 0.0 }
}

/// One forward pass (states, outputs, readout of every step kept).
pub fn forward(s: &Sizes) -> Cost {
    let floats = (s.steps + 1.0) * (2.0 * s.n * s.d + s.n + s.n_out);
    Cost { bytes: inputs(s).bytes + F64 * floats, madds: s.steps * s.p }
}

/// BPTT.
pub fn bptt(s: &Sizes) -> Cost {
    let f = forward(s);
    Cost {
        bytes: f.bytes + F64 * ((s.steps + 1.0) * (s.n + s.n * s.d) + s.p),
        madds: s.steps * (2.0 * s.p + s.n * s.d * s.p_loc),
    }
}

/// E-prop (any learning signal), and the intermediates of a fixture (every trace stored).
pub fn eprop(s: &Sizes) -> Cost {
    let f = bptt(s);
    Cost {
        bytes: f.bytes + F64 * 2.0 * (s.steps + 1.0) * s.n * s.p_loc,
        madds: s.steps * (2.0 * s.p + 2.0 * s.n * s.d * s.d * s.p_loc),
    }
}

/// RTRL: `O(N³)` memory, `O(N⁴)` multiply-adds per step.
pub fn rtrl(s: &Sizes) -> Cost {
    Cost {
        bytes: inputs(s).bytes + F64 * 2.0 * s.n * s.d * s.p_cell(),
        madds: s.steps * s.n * s.n * s.d * s.d * s.p_cell(),
    }
}

/// The dual-number oracle: `P` forward passes.
pub fn oracle(s: &Sizes) -> Cost {
    let dual_traj = 2.0 * (s.steps + 1.0) * (s.n * s.d + s.n + s.n_out);
    Cost { bytes: inputs(s).bytes + F64 * (2.0 * dual_traj + s.p), madds: 3.0 * s.steps * s.p * s.p }
}

/// Multiply-adds charged per entry of each dense `N d × P_cell` level of the family per step
/// (orders `m ≥ 1`), for its row-strided passes (`D^t S`, `∂z/∂h · S`, the accumulations): measured,
/// `family_m1` on `N_in = N = 100`, `T = 1000` takes ~165 s in a release build where its counted
/// multiply-adds (6·10⁹) predict ~6 s.
pub const FAMILY_PASS: f64 = 80.0;

/// The m-order family at order `m` (hop-count reading; the others are no dearer).
pub fn family(s: &Sizes, m: usize) -> Cost {
    let (n, d, pl, pc) = (s.n, s.d, s.p_loc, s.p_cell());
    let m = m as f64;
    let per_step = n * d * d * pl
        + if m >= 1.0 { n * d * n * pl + n * d * d * pc } else { 0.0 }
        + (m - 1.0).max(0.0) * (n * d * n * pc + n * d * d * pc)
        + m * FAMILY_PASS * n * d * pc;
    Cost { bytes: bptt(s).bytes + F64 * (n * d * d * pl + m * n * d * pc), madds: s.steps * per_step }
}

/// `family-table`: the family for every order `m = 0 … T−1`, and BPTT.
pub fn family_table(s: &Sizes) -> Cost {
    let t = s.steps.max(1.0);
    // Σ_{m=0}^{T−1} of the per-step terms, in closed form (linear in m)
    let (n, d, pl, pc) = (s.n, s.d, s.p_loc, s.p_cell());
    let level0 = t * n * d * d * pl;
    let first = (t - 1.0).max(0.0) * (n * d * n * pl + n * d * d * pc);
    let further = ((t - 1.0) * (t - 2.0) / 2.0).max(0.0) * (n * d * n * pc + n * d * d * pc);
    let passes = (t * (t - 1.0) / 2.0) * FAMILY_PASS * n * d * pc;
    let last = family(s, (t as usize).saturating_sub(1));
    Cost { bytes: last.bytes, madds: s.steps * (level0 + first + further + passes) + bptt(s).madds }
}

/// `check-gradients` on one single-layer config: the oracle (twice: exact and detached), central
/// differences (`2P` forward passes), RTRL, the family at every order, the e-prop relations.
pub fn suite(s: &Sizes) -> Cost {
    suite_for(s, &crate::relations::Needs::of(crate::relations::Select::ALL))
}

/// `check-gradients --relations …` on one single-layer config: what the selection runs
/// ([`crate::relations::Needs`]): always the forward pass and literal BPTT; the oracle (twice:
/// exact and detached), RTRL, the family at every order, the e-prop relations and central
/// differences only when needed. Every part needed gives [`suite`].
pub fn suite_for(s: &Sizes, needs: &crate::relations::Needs) -> Cost {
    let o = oracle(s);
    let parts = [
        (true, bptt(s)),
        (needs.oracle_cost, o),
        (needs.oracle_cost, o),
        (needs.rtrl_cost, rtrl(s)),
        (needs.family, family_table(s)),
        (needs.eprop, eprop(s)),
    ];
    let fd = if needs.fd { 2.0 * s.p * forward(s).madds } else { 0.0 };
    let parts: Vec<Cost> = parts.into_iter().filter(|(on, _)| *on).map(|(_, c)| c).collect();
    Cost {
        bytes: parts.iter().map(|c| c.bytes).fold(0.0, f64::max),
        madds: parts.iter().map(|c| c.madds).sum::<f64>() + fd,
    }
}

/// `check-gradients` on a stack, and each stack of `deep-table`: the oracle, RTRL, and the deep
/// rules (each bounded by RTRL's cost).
pub fn stack_suite(s: &Sizes) -> Cost {
    let (o, r) = (oracle(s), rtrl(s));
    Cost { bytes: o.bytes.max(r.bytes), madds: 2.0 * o.madds + 4.0 * r.madds }
}

/// Limits on one computation, and the flags that raise them.
#[derive(Clone, Copy, Debug, clap::Args)]
pub struct Limits {
    /// Refuse (or, for optional rules, skip) any computation whose memory estimate exceeds this
    /// (`512MiB`, `8GiB`, `1e9` bytes).
    #[arg(long, value_name = "BYTES", default_value = "4GiB", value_parser = parse_bytes)]
    pub max_memory: u64,
    /// Refuse (or skip) any computation estimated at more multiply-adds than this (about a
    /// nanosecond each in a release build: the default is a minute or so).
    #[arg(long, value_name = "MADDS", default_value = "5e10", value_parser = parse_count)]
    pub max_work: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_memory: 4 << 30, max_work: 5e10 }
    }
}

/// A computation over a limit.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OverBudget {
    /// The memory estimate exceeds `--max-memory`.
    #[error("{what} needs about {} (estimate), over --max-memory {}; raise the limit or shrink the sizes", human(*need), human(*limit as f64))]
    Memory {
        /// The computation.
        what: String,
        /// Estimated bytes.
        need: f64,
        /// The limit.
        limit: u64,
    },
    /// The multiply-add estimate exceeds `--max-work`.
    #[error(
        "{what} needs about {need:.1e} multiply-adds (estimate), over --max-work {limit:.1e}; raise the limit or shrink the sizes"
    )]
    Work {
        /// The computation.
        what: String,
        /// Estimated multiply-adds.
        need: f64,
        /// The limit.
        limit: f64,
    },
}

impl Limits {
    /// `Ok` when `cost` fits both limits; otherwise the first limit it exceeds, naming `what`.
    pub fn check(&self, what: &str, cost: Cost) -> Result<(), OverBudget> {
        if cost.bytes.is_nan() || cost.bytes > self.max_memory as f64 {
            return Err(OverBudget::Memory { what: what.into(), need: cost.bytes, limit: self.max_memory });
        }
        if cost.madds.is_nan() || cost.madds > self.max_work {
            return Err(OverBudget::Work { what: what.into(), need: cost.madds, limit: self.max_work });
        }
        Ok(())
    }
}

/// Bytes in a human unit (`1.5 GiB`).
pub fn human(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let (mut v, mut u) = (bytes, 0);
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if v >= 1024.0 {
        format!("{bytes:.1e} B") // beyond the units
    } else if u == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// Parses `8GiB`, `512MiB`, `100KiB`, `2GB` (powers of 1000), `1e9` or `4096` into bytes.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let factor: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024f64.powi(2),
        "GiB" => 1024f64.powi(3),
        "TiB" => 1024f64.powi(4),
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        other => {
            return Err(format!("unknown unit `{other}` in `{s}` (B, KiB, MiB, GiB, TiB, kB, MB, GB, TB)"));
        }
    };
    let v: f64 = num.trim().parse().map_err(|_| format!("`{s}` is not a size (e.g. 8GiB)"))?;
    let bytes = v * factor;
    if !(0.0..1.8e19).contains(&bytes) {
        return Err(format!("`{s}` is not a size in bytes"));
    }
    Ok(bytes as u64)
}

/// Parses a non-negative count (`5e10`, `1000`).
pub fn parse_count(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a non-negative number (e.g. 5e10)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_bytes("8GiB"), Ok(8 << 30));
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("1e9"), Ok(1_000_000_000));
        assert_eq!(parse_bytes("2GB"), Ok(2_000_000_000));
        assert!(parse_bytes("8 parsecs").is_err() && parse_bytes("-1").is_err() && parse_bytes("").is_err());
        assert!(parse_count("5e10").is_ok() && parse_count("nan").is_err());
        assert_eq!(human(1536.0), "1.5 KiB");
        assert_eq!(human(3e30), "3.0e30 B");
    }
}
