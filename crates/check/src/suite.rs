//! The built-in configs: each cell at several sizes, seeds, losses and conventions.

use credit_core::cell::{Alif, Cell, Lif, Lstm, Rate, Reset, Spiking};
use credit_core::cell::{InputScale, RefractoryPsi};
use credit_core::conventions::{Choice, SurrogateShape};
use credit_core::{
    CellModel, InitScale, Loss, Network, Params, Preset, RateReg, Readout, ReadoutDelay, ReadoutScale,
    RegFactor, Sequence, SequenceStyle,
};

/// What a config is for: generic (`W_rec ≠ 0`) or built without recurrent weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Random `W_rec ≠ 0`.
    Generic,
    /// `W_rec = 0` (with the cell's reset convention deciding whether `R ≡ 0`).
    NoRecurrence,
}

/// One configuration: a network, its seed and the length of its sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Short name shown in the `config` column, e.g. `n3-t8-mse`.
    pub name: String,
    /// The network.
    pub net: Network,
    /// Sequence length `T`.
    pub steps: usize,
    /// Seed of parameters and data.
    pub seed: u64,
    /// Initialisation gains (`None`: the cell's defaults).
    pub scale: Option<InitScale>,
    /// Generic or without recurrent weights.
    pub role: Role,
    /// Explicit parameters and sequence (a fixture's), instead of drawing them from the seed.
    pub data: Option<(Params<f64>, Sequence)>,
    /// Explicit random feedback matrix `B` (a fixture's), instead of drawing it from the seed.
    pub feedback: Option<nalgebra::DMatrix<f64>>,
    /// How the sequence's targets and mask are drawn ([`Sequence::random_styled`]; the default
    /// is [`Sequence::random`]: one-hot targets, 0/1 mask).
    pub style: SequenceStyle,
}

impl Config {
    /// Parameters and sequence of this config.
    pub fn instantiate(&self) -> credit_core::Result<(Params<f64>, Sequence)> {
        if let Some(d) = &self.data {
            return Ok(d.clone());
        }
        let scale = self.scale.unwrap_or_else(|| InitScale::default_for(&self.net));
        let p = Params::random_scaled(&self.net, self.seed, scale)?;
        let s = Sequence::random_styled(&self.net, self.steps, self.seed, self.style)?;
        Ok((p, s))
    }
}

/// The JSON description of a config, shared by single-layer and stack rows: the fixture
/// description `fixture` (a `config.json`, `docs/fixtures.md` §2) without its fixture-only keys
/// (`schema`, `training`, `generator`), plus how the data were drawn: `data` (`seed` or
/// `fixture`), `init_scale` (the gains of `Params::random_scaled`), `w_rec_zero`, `soft_targets`
/// (the CE target mass, or `null` for one-hot), `fractional_mask`.
pub(crate) fn spec_json(
    fixture: serde_json::Value,
    data: bool,
    scale: Option<InitScale>,
    w_rec_zero: bool,
    style: SequenceStyle,
) -> serde_json::Value {
    let mut v = fixture;
    if let Some(o) = v.as_object_mut() {
        for key in ["schema", "training", "generator"] {
            o.remove(key);
        }
        o.insert("data".into(), (if data { "fixture" } else { "seed" }).into());
        o.insert(
            "init_scale".into(),
            scale.map_or(serde_json::Value::Null, |s| {
                serde_json::json!({"w_in": s.w_in, "w_rec": s.w_rec, "b": s.b, "w_out": s.w_out, "b_out": s.b_out})
            }),
        );
        o.insert("w_rec_zero".into(), w_rec_zero.into());
        o.insert("soft_targets".into(), style.soft_targets.into());
        o.insert("fractional_mask".into(), style.fractional_mask.into());
    }
    v
}

/// `preset` of a config's description: `<name>` for the configs `preset-<name>-…`, else `custom`.
pub(crate) fn preset_label(name: &str) -> &'static str {
    Preset::SUITE
        .into_iter()
        .find(|p| name.starts_with(&format!("preset-{}-", p.name())))
        .map_or("custom", |p| p.name())
}

impl Config {
    /// This config as JSON, with the keys of a fixture's `config.json` (the fixture serialiser
    /// `FixtureConfig::describe`) and how its data are drawn (`spec_json`); the `spec` of
    /// every row of the report.
    pub fn spec(&self) -> serde_json::Value {
        let training = crate::fixtures::config::TrainingSpec::plain(0.0, 0);
        let fx = crate::fixtures::config::FixtureConfig::describe(
            &self.name,
            preset_label(&self.name),
            &self.net,
            self.steps,
            self.seed,
            training,
        );
        let scale = match self.data {
            Some(_) => None,
            None => Some(self.scale.unwrap_or_else(|| InitScale::default_for(&self.net))),
        };
        let fx = serde_json::to_value(fx).unwrap_or(serde_json::Value::Null);
        spec_json(fx, self.data.is_some(), scale, self.role == Role::NoRecurrence, self.style)
    }
}

/// The config of a fixture read from disk (`--fixture DIR`): its network, weights and data.
pub fn from_fixture(fx: &crate::fixtures::Fixture) -> Config {
    Config {
        name: format!("fixture:{}", fx.config.name),
        net: fx.net.clone(),
        steps: fx.seq.len(),
        seed: fx.config.seed,
        scale: None,
        // a fixture without recurrent weights is a no-recurrence config (e-prop = BPTT when the
        // reset is detached too), whatever its name
        role: if fx.params.get("w_rec").is_some_and(|w| w.iter().all(|&v| v == 0.0)) {
            Role::NoRecurrence
        } else {
            Role::Generic
        },
        data: Some((fx.params.clone(), fx.seq.clone())),
        feedback: Some(fx.feedback.clone()),
        style: SequenceStyle::default(),
    }
}

/// LIF with τ_m = 20 steps, v_th = 1 and the paper's surrogate (γ = 0.3).
pub fn lif(n_ref: u32, reset: Reset) -> Cell {
    let mut sp = Spiking::new((-1.0f64 / 20.0).exp(), 1.0);
    sp.n_ref = n_ref;
    sp.reset = reset;
    Cell::Lif(Lif { spiking: sp })
}

/// ALIF with τ_m = 20, τ_a = 50 steps, β = 0.3.
pub fn alif(n_ref: u32, reset: Reset) -> Cell {
    let mut sp = Spiking::new((-1.0f64 / 20.0).exp(), 1.0);
    sp.n_ref = n_ref;
    sp.reset = reset;
    Cell::Alif(Alif { spiking: sp, rho: (-1.0f64 / 50.0).exp(), beta: 0.3 })
}

/// The LSTM cell.
pub fn lstm() -> Cell {
    Cell::Lstm(Lstm)
}

/// A leaky rate cell.
pub fn rate(alpha: f64) -> Cell {
    Cell::Rate(Rate { alpha })
}

/// The cells `cargo xtask bench --cell NAME` times (and `fixtures::bench_sized` writes): rate
/// `α = 0.5`; LIF and ALIF without refractoriness, reset differentiated; LSTM. `None` for
/// another name.
pub fn bench_cell(name: &str) -> Option<Cell> {
    match name {
        "rate" => Some(rate(0.5)),
        "lif" => Some(lif(0, Reset::Differentiated)),
        "alif" => Some(alif(0, Reset::Differentiated)),
        "lstm" => Some(lstm()),
        _ => None,
    }
}

fn cfg(
    name: &str,
    cell: Cell,
    n_in: usize,
    n: usize,
    k: usize,
    steps: usize,
    seed: u64,
    loss: Loss,
    kappa: f64,
) -> Config {
    let net =
        Network::new(cell, n_in, n, k, Readout::leaky(kappa), loss).expect("built-in configs are valid");
    Config {
        name: name.to_string(),
        net,
        steps,
        seed,
        scale: None,
        role: Role::Generic,
        data: None,
        feedback: None,
        style: SequenceStyle::default(),
    }
}

/// The same config with the default gains of `w_in` and `w_rec` multiplied.
fn gains(mut c: Config, w_in: f64, w_rec: f64) -> Config {
    let mut s = c.scale.unwrap_or_else(|| InitScale::default_for(&c.net));
    s.w_in *= w_in;
    s.w_rec *= w_rec;
    c.scale = Some(s);
    c
}

/// The same config with `W_rec = 0` (and a stronger input drive so spiking cells stay live).
fn no_rec(mut c: Config) -> Config {
    let mut s = InitScale::default_for(&c.net);
    s.w_rec = 0.0;
    if c.net.cell.is_spiking() {
        s.w_in *= 1.5; // the recurrent drive is gone: keep the net firing
    }
    c.scale = Some(s);
    c.role = Role::NoRecurrence;
    c
}

/// The suite run by `cargo xtask check-gradients`: for each of `rate`, `lif`, `alif`, `lstm`, a tiny
/// config, a cross-entropy config (with refractoriness for spiking cells), a config with the
/// reset detached (spiking) or the vanilla RNN (`α = 1`, rate), and a larger one.
pub fn builtin_suite() -> Vec<Config> {
    let mut v = vec![
        cfg("n3-t8-mse", rate(0.5), 2, 3, 2, 8, 1, Loss::Mse, 0.8),
        cfg("n5-t12-ce", rate(0.3), 3, 5, 3, 12, 2, Loss::CrossEntropy, 0.9),
        cfg("n4-t10-vanilla", rate(1.0), 3, 4, 2, 10, 4, Loss::Mse, 0.0),
        cfg("n16-t40-mse", rate(0.2), 4, 16, 2, 40, 3, Loss::Mse, 0.95),
    ];
    // seeds (and two gains) chosen so that every config passes the liveness guard (`compare.rs`:
    // ≥ 10 % active surrogates, every cell tensor's gradient non-zero in ≥ half its entries)
    // and keeps identical f32/f64 spike trains: found by search, `docs/relations.md` §4
    let tuned = [
        (lif as fn(u32, Reset) -> Cell, [41, 6006, 7005, 8001, 9000, 46, 11001]),
        (alif, [12007, 13002, 14005, 15017, 25, 17007, 27]),
    ];
    for (mk, seed) in tuned {
        v.push(cfg("n3-t8-mse", mk(0, Reset::Differentiated), 2, 3, 2, 8, seed[0], Loss::Mse, 0.8));
        v.push(cfg(
            "n6-t20-ce-ref2",
            mk(2, Reset::Differentiated),
            3,
            6,
            3,
            20,
            seed[1],
            Loss::CrossEntropy,
            0.9,
        ));
        v.push(cfg("n5-t16-reset-detached", mk(0, Reset::Detached), 3, 5, 2, 16, seed[2], Loss::Mse, 0.9));
        let mut big =
            cfg("n16-t40-mse", mk(1, Reset::Differentiated), 4, 16, 2, 40, seed[3], Loss::Mse, 0.95);
        if big.net.cell.id() == "lif" {
            big = gains(big, 0.8, 1.5);
        }
        v.push(big);
        v.push(cfg("n32-t60-mse", mk(0, Reset::Differentiated), 6, 32, 3, 60, seed[4], Loss::Mse, 0.9));
        // R ≡ 0: W_rec = 0 and the reset detached (e-prop = BPTT); and W_rec = 0 with the reset
        // differentiated (e-prop ≠ BPTT: the reset is an explicit self-path)
        v.push(no_rec(cfg(
            "n6-t20-wrec0-reset-detached",
            mk(0, Reset::Detached),
            3,
            6,
            2,
            20,
            seed[5],
            Loss::Mse,
            0.9,
        )));
        v.push(no_rec(cfg(
            "n6-t20-wrec0-reset-live",
            mk(0, Reset::Differentiated),
            3,
            6,
            2,
            20,
            seed[6],
            Loss::Mse,
            0.9,
        )));
    }
    v.push(no_rec(cfg("n6-t20-wrec0", rate(0.3), 3, 6, 2, 20, 7, Loss::Mse, 0.9)));
    // the named presets of e-prop conventions, with firing-rate regularisation
    for (i, preset) in Preset::SUITE.into_iter().enumerate() {
        let conv = preset.conventions();
        let (alpha, kappa) = ((-1.0f64 / 20.0).exp(), (-1.0f64 / 10.0).exp());
        let cells = [conv.lif(alpha, 1.0), conv.alif(alpha, 1.0, (-1.0f64 / 50.0).exp(), 0.3)];
        // seeds found by search as above (`80 + 2i + j` before the stricter guard)
        let seeds = [[80, 21001], [22000, 23001], [24000, 25002]][i];
        for (j, cell) in cells.into_iter().enumerate() {
            let net = Network::new(cell, 3, 6, 2, conv.readout(kappa), Loss::Mse)
                .and_then(|n| n.with_reg(conv.reg(0.5, 0.1, 1.0)))
                .expect("preset configs are valid");
            let name = format!("preset-{}-n6-t24-reg", preset.name());
            // the NEST LIF config needs a stronger W_rec to keep half of dE/dW_rec non-zero
            let scale = (i == 2 && j == 0).then(|| {
                let mut s = InitScale::default_for(&net);
                s.w_rec *= 1.5;
                s
            });
            v.push(Config {
                name,
                net,
                steps: 24,
                seed: seeds[j],
                scale,
                role: Role::Generic,
                data: None,
                feedback: None,
                style: SequenceStyle::default(),
            });
        }
    }
    v.push(no_rec(cfg("n5-t12-wrec0", lstm(), 3, 5, 2, 12, 64, Loss::Mse, 0.9)));
    v.push(cfg("n32-t60-mse", rate(0.5), 6, 32, 3, 60, 5, Loss::Mse, 0.9));
    v.push(cfg("n3-t8-mse", lstm(), 2, 3, 2, 8, 61, Loss::Mse, 0.8));
    v.push(cfg("n5-t12-ce", lstm(), 3, 5, 3, 12, 62, Loss::CrossEntropy, 0.9));
    v.push(cfg("n16-t40-mse", lstm(), 4, 16, 2, 40, 63, Loss::Mse, 0.0));
    v.extend(coverage());
    v
}

/// Row `r` (0..8) of the covering array of the spiking conventions: with the bits
/// `r₀, r₁, r₂` of `r`, the surrogate shape is `r >> 1` and each two-valued option is a distinct
/// non-zero parity of the bits (an orthogonal array OA(8, 2⁷): every pair of two-valued options
/// takes each of its four value pairs twice); the four parities with `r₀` are also paired with
/// every surrogate shape.
fn covering_row(r: usize) -> [usize; 8] {
    let (b0, b1, b2) = (r & 1, (r >> 1) & 1, (r >> 2) & 1);
    [
        r >> 1,       // surrogate shape
        b0,           // loss: mse / ce with soft targets
        b0 ^ b1,      // input scale ζ
        b0 ^ b2,      // ψ while refractory
        b0 ^ b1 ^ b2, // readout delay δ
        b1,           // reset
        b2,           // readout scale c
        b1 ^ b2,      // regulariser factor k
    ]
}

/// The coverage configs (`cov<r>-…`): every value of every convention and every cell parameter
/// that enters a Jacobian away from its default, on small nets that run every relation
/// (`docs/relations.md` §4). Spiking cells: the eight rows of `covering_row` per cell, each
/// with `v_th ≠ 1`, `γ ≠ 0.3`, a surrogate width `β ≠ 1`, `n_ref ≥ 2`, a regulariser, fractional
/// mask weights, and soft cross-entropy targets of mass ≠ 1; inputs scaled by `v_th/ζ` so that
/// the membrane sees the same drive in units of the threshold. Rate and LSTM: two configs each
/// with the non-default readout values, a regulariser of each factor, fractional masks and soft
/// targets.
pub fn coverage() -> Vec<Config> {
    let mut v = Vec::new();
    // seeds: `300 + r` (LIF), `320 + r` (ALIF), three replaced by search as in `builtin_suite`
    let seeds = [[31012, 32003, 302, 303, 304, 36000, 306, 307], [39002, 321, 322, 323, 324, 325, 326, 327]];
    for (kind, seeds) in ["lif", "alif"].into_iter().zip(seeds) {
        for r in 0..8 {
            let [shape, loss, zeta, psi, delay, reset, scale, factor] = covering_row(r);
            let odd = r % 2 == 1;
            let v_th = if (r >> 1) % 2 == 0 { 0.7 } else { 1.6 };
            let gamma = if odd { 0.5 } else { 0.2 };
            let tau_m: f64 = if r < 4 { 10.0 } else { 25.0 };
            let mut sp = credit_core::cell::Spiking::new((-1.0 / tau_m).exp(), v_th);
            let width = if odd { 1.5 } else { 3.0 } / v_th; // β in units of 1/v_th
            sp.surrogate = SurrogateShape::ALL[shape].with(gamma, width);
            sp.input_scale = InputScale::ALL[zeta];
            sp.refractory_psi = RefractoryPsi::ALL[psi];
            sp.reset = Reset::ALL[reset];
            sp.n_ref = 2 + (r as u32 % 2);
            let cell = if kind == "lif" {
                Cell::Lif(Lif { spiking: sp })
            } else {
                let tau_a: f64 = if odd { 30.0 } else { 80.0 };
                Cell::Alif(Alif { spiking: sp, rho: (-1.0 / tau_a).exp(), beta: if odd { 0.6 } else { 1.7 } })
            };
            let ce = loss == 1;
            let readout =
                Readout { kappa: 0.85, scale: ReadoutScale::ALL[scale], delay: ReadoutDelay::ALL[delay] };
            let reg = RateReg { c_reg: 0.3, f_target: 0.08, dt: 1.0, factor: RegFactor::ALL[factor] };
            let loss = if ce { Loss::CrossEntropy } else { Loss::Mse };
            let net = Network::new(cell, 3, 6, if ce { 3 } else { 2 }, readout, loss)
                .and_then(|n| n.with_reg(reg))
                .expect("coverage configs are valid");
            let gain = v_th / sp.zeta();
            let w_in = if kind == "lif" && r == 5 { 3.9 } else { 3.0 }; // found by search
            let scale = InitScale { w_in: w_in * gain, w_rec: gain, b: 0.3 * gain, w_out: 1.0, b_out: 0.1 };
            let mass = if (r >> 2) % 2 == 0 { 0.6 } else { 1.7 };
            v.push(Config {
                name: format!("cov{r}-n6-t20"),
                net,
                steps: 20,
                seed: seeds[r],
                scale: Some(scale),
                role: Role::Generic,
                data: None,
                feedback: None,
                style: SequenceStyle { soft_targets: ce.then_some(mass), fractional_mask: true },
            });
        }
    }
    for (cell, seed) in [(rate(0.4), 340u64), (rate(0.7), 341), (lstm(), 342), (lstm(), 343)] {
        let second = seed % 2 == 1;
        let readout = if second {
            Readout { kappa: 0.85, scale: ReadoutScale::One, delay: ReadoutDelay::OneStep }
        } else {
            Readout { kappa: 0.85, scale: ReadoutScale::OneMinusKappa, delay: ReadoutDelay::SameStep }
        };
        let factor = if second { RegFactor::Full } else { RegFactor::Half };
        let reg = RateReg { c_reg: 0.3, f_target: 0.1, dt: 1.0, factor };
        let (loss, k) = if second { (Loss::Mse, 2) } else { (Loss::CrossEntropy, 3) };
        let net = Network::new(cell, 3, 5, k, readout, loss)
            .and_then(|n| n.with_reg(reg))
            .expect("coverage configs are valid");
        v.push(Config {
            name: format!("cov{}-n5-t16", seed - 340),
            net,
            steps: 16,
            seed,
            scale: None,
            role: Role::Generic,
            data: None,
            feedback: None,
            style: SequenceStyle { soft_targets: (!second).then_some(1.7), fractional_mask: true },
        });
    }
    v
}
