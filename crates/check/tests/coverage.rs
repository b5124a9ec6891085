//! The built-in suite covers every convention: the options are enumerated from the code
//! (`Conventions::OPTIONS`, `Choice::ALL`, the fields of a fixture's cell spec), not from a list
//! kept here, so a new option or value that no built-in config uses fails this test.

// Exact comparisons with the defaults are intended.
#![allow(clippy::float_cmp)]

use credit_check::fixtures::config::cell_spec;
use credit_check::stacks::{StackConfig, builtin_stacks};
use credit_check::{Config, builtin_suite};
use credit_core::conventions::{Choice, Conventions, Scope};
use credit_core::stack::{InterLayer, ReadoutFrom};
use credit_core::{Cell, CellModel, Loss, Readout};
use std::collections::{BTreeMap, BTreeSet};

const CELLS: [&str; 4] = ["rate", "lif", "alif", "lstm"];

fn spiking(kind: &str) -> bool {
    matches!(kind, "lif" | "alif")
}

/// One network of the suite (a single-layer config or one layer of a stack): its cell, readout,
/// regulariser, and the conventions in effect.
struct Unit<'a> {
    cell: &'a Cell,
    readout: &'a Readout,
    options: Vec<(&'static str, String)>,
}

fn units_of_suite(suite: &[Config]) -> Vec<Unit<'_>> {
    suite
        .iter()
        .map(|c| Unit {
            cell: &c.net.cell,
            readout: &c.net.readout,
            options: Conventions::in_effect(&c.net.cell, &c.net.readout, c.net.reg.as_ref()),
        })
        .collect()
}

fn units_of_stacks(stacks: &[StackConfig]) -> Vec<Unit<'_>> {
    stacks
        .iter()
        .flat_map(|s| {
            s.stack.layers.iter().map(move |layer| Unit {
                cell: &layer.cell,
                readout: &s.stack.readout,
                options: Conventions::in_effect(&layer.cell, &s.stack.readout, None),
            })
        })
        .collect()
}

/// The missing (group, option, value) triples: every value of every choice option of
/// `Conventions::OPTIONS` must be in effect in some unit of each group it applies to (a
/// regulariser option only where `with_reg` says the units have one). `group` maps a unit's
/// cell id and the option's scope to its group: the cell id for the single-layer suite.
fn missing_choices(units: &[Unit], with_reg: bool, group: fn(&str, Scope) -> &str) -> Vec<String> {
    let mut missing = Vec::new();
    for o in Conventions::OPTIONS {
        let applies = |u: &&Unit| match o.scope {
            Scope::Spiking => spiking(u.cell.id()),
            Scope::Readout => true,
            Scope::Reg => with_reg,
        };
        let mut seen: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for u in units.iter().filter(applies) {
            let values = seen.entry(group(u.cell.id(), o.scope)).or_default();
            values.extend(u.options.iter().filter(|(k, _)| *k == o.key).map(|(_, v)| v.clone()));
        }
        for (g, values) in seen {
            for v in (o.values)() {
                if !values.contains(v) {
                    missing.push(format!("{g}: {}={v}", o.key));
                }
            }
        }
    }
    missing
}

fn by_cell(id: &str, _: Scope) -> &str {
    id
}

/// Stacks: the spiking options over every spiking layer (LIF and ALIF share the spiking code),
/// the readout options over every stack.
fn by_stack(id: &str, scope: Scope) -> &str {
    match scope {
        Scope::Spiking if spiking(id) => "spiking layers",
        _ => "stacks",
    }
}

/// The missing (cell, parameter) pairs: every number in a cell's JSON spec (the keys of
/// `config.json`, so every cell parameter and numeric convention: α, v_th, n_ref, γ, the
/// surrogate width, ρ, the adaptation β) must take at least two values over the units of that
/// cell, one of them neither 0 nor 1 (a term multiplied by 1 is invisible). Readout κ the same.
fn missing_parameters(units: &[Unit], group: fn(&str, Scope) -> &str) -> Vec<String> {
    let mut values: BTreeMap<(String, String), BTreeSet<u64>> = BTreeMap::new();
    for u in units {
        let spec = serde_json::to_value(cell_spec(u.cell)).unwrap();
        let numbers: Vec<(String, f64)> = spec
            .as_object()
            .unwrap()
            .iter()
            .filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x)))
            .collect();
        for (k, x) in numbers {
            values
                .entry((group(u.cell.id(), Scope::Spiking).to_string(), k))
                .or_default()
                .insert(x.to_bits());
        }
        let readout = (group(u.cell.id(), Scope::Readout).to_string(), "readout.kappa".to_string());
        values.entry(readout).or_default().insert(u.readout.kappa.to_bits());
    }
    let mut missing = Vec::new();
    for ((kind, key), set) in &values {
        let xs: Vec<f64> = set.iter().map(|b| f64::from_bits(*b)).collect();
        if xs.len() < 2 || xs.iter().all(|x| *x == 0.0 || *x == 1.0) {
            missing.push(format!("{kind}: {key} only {xs:?}"));
        }
    }
    missing
}

/// Spiking units: each surrogate shape with a height γ and a width away from their defaults
/// (the piecewise-linear width is v_th, the others' β), and each value of ψ-while-refractory
/// with at least 2 refractory steps.
fn missing_spiking_combinations(units: &[Unit], group: fn(&str, Scope) -> &str) -> Vec<String> {
    let default = Conventions::default();
    let gamma0 = default.get("gamma").unwrap().unwrap();
    let mut missing = Vec::new();
    let kinds: BTreeSet<&str> = ["lif", "alif"].into_iter().map(|k| group(k, Scope::Spiking)).collect();
    for kind in kinds {
        let of_kind: Vec<_> = units
            .iter()
            .filter(|u| spiking(u.cell.id()) && group(u.cell.id(), Scope::Spiking) == kind)
            .collect();
        let get = |u: &Unit, key: &str| u.options.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
        for shape in credit_core::conventions::names::<credit_core::conventions::SurrogateShape>() {
            let found = of_kind.iter().any(|u| {
                let spec = cell_spec(u.cell);
                let width_moved = match get(u, "beta") {
                    Some(b) => b != "1",
                    None => spec.v_th != Some(1.0),
                };
                get(u, "surrogate").as_deref() == Some(shape)
                    && get(u, "gamma").as_ref() != Some(&gamma0)
                    && width_moved
            });
            if !found {
                missing.push(format!("{kind}: surrogate={shape} with γ ≠ {gamma0} and a non-default width"));
            }
        }
        for psi in credit_core::conventions::names::<credit_core::cell::RefractoryPsi>() {
            let found = of_kind.iter().any(|u| {
                get(u, "refractory_psi").as_deref() == Some(psi)
                    && get(u, "n_ref").and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| n >= 2)
            });
            if !found {
                missing.push(format!("{kind}: refractory_psi={psi} with n_ref >= 2"));
            }
        }
    }
    missing
}

#[test]
fn every_convention_value_is_in_the_single_layer_suite() {
    let suite = builtin_suite();
    let units = units_of_suite(&suite);
    let mut missing = missing_choices(&units, true, by_cell);
    missing.extend(missing_parameters(&units, by_cell));
    missing.extend(missing_spiking_combinations(&units, by_cell));
    assert!(missing.is_empty(), "missing from builtin_suite():\n{}", missing.join("\n"));
}

/// Every cell has a cross-entropy config with soft targets whose mass is not 1, and a config
/// with fractional mask weights — measured on the drawn sequences, not on the config's flags.
#[test]
fn soft_targets_and_fractional_masks_for_every_cell() {
    let suite = builtin_suite();
    for kind in CELLS {
        let (mut soft, mut fractional) = (false, false);
        for cfg in suite.iter().filter(|c| c.net.cell.id() == kind) {
            let (_, seq) = cfg.instantiate().unwrap();
            if cfg.net.loss == Loss::CrossEntropy {
                soft |= seq.target.iter().all(|t| (t.sum() - 1.0).abs() > 1e-3 && t.iter().all(|&p| p > 0.0));
            }
            fractional |= seq.mask.iter().any(|&m| m != 0.0 && m != 1.0);
        }
        assert!(soft, "{kind}: no cross-entropy config with soft targets of mass ≠ 1");
        assert!(fractional, "{kind}: no config with fractional mask weights");
    }
}

/// Stacks: every spiking convention in some spiking layer (with the numbers and combinations
/// above, LIF and ALIF layers pooled), every readout convention in some stack, every inter-layer
/// timing with mixed cells, every readout source.
#[test]
fn every_convention_value_is_in_the_stacks() {
    let stacks = builtin_stacks();
    let units = units_of_stacks(&stacks);
    // stacks have no regulariser
    let mut missing = missing_choices(&units, false, by_stack);
    missing.extend(missing_parameters(&units, by_stack));
    missing.extend(missing_spiking_combinations(&units, by_stack));
    for v in InterLayer::ALL {
        let mixed = stacks.iter().any(|s| {
            s.stack.inter == *v
                && s.stack.layers.iter().map(|l| l.cell.id()).collect::<BTreeSet<_>>().len() >= 2
        });
        if !mixed {
            missing.push(format!("inter_layer={} with mixed cells", v.name()));
        }
    }
    for v in ReadoutFrom::ALL {
        if !stacks.iter().any(|s| s.stack.readout_from == *v) {
            missing.push(format!("readout_from={}", v.name()));
        }
    }
    assert!(missing.is_empty(), "missing from builtin_stacks():\n{}", missing.join("\n"));
}

/// The check itself: a suite without the coverage configs misses values, and the messages name
/// them (the test cannot pass on an empty requirement).
#[test]
fn the_coverage_check_fails_on_the_old_suite() {
    let old: Vec<Config> = builtin_suite().into_iter().filter(|c| !c.name.starts_with("cov")).collect();
    let units = units_of_suite(&old);
    let missing = missing_choices(&units, true, by_cell);
    for want in ["lif: input_scale=one-minus-alpha", "alif: surrogate=arctan", "rate: readout_delay=one"] {
        assert!(missing.iter().any(|m| m == want), "{want} not reported: {missing:?}");
    }
    let params = missing_parameters(&units, by_cell);
    assert!(params.iter().any(|m| m.starts_with("lif: v_th")), "{params:?}");
}

/// `Sequence::random_styled`: the default style is `Sequence::random`; a style keeps the inputs
/// and the dropped steps, gives every CE target the mass asked for and every kept step a weight
/// in [0.25, 1.75).
#[test]
fn styled_sequences_keep_the_draws_of_random() {
    use credit_core::{Network, Sequence, SequenceStyle};
    let net = Network::new(credit_check::suite::rate(0.5), 3, 4, 3, Readout::leaky(0.8), Loss::CrossEntropy)
        .unwrap();
    let plain = Sequence::random(&net, 30, 9).unwrap();
    assert_eq!(Sequence::random_styled(&net, 30, 9, SequenceStyle::default()).unwrap(), plain);
    let style = SequenceStyle { soft_targets: Some(1.7), fractional_mask: true };
    let s = Sequence::random_styled(&net, 30, 9, style).unwrap();
    assert_eq!(s.x, plain.x);
    for (t, (m, m0)) in s.mask.iter().zip(&plain.mask).enumerate() {
        assert_eq!(*m == 0.0, *m0 == 0.0, "step {t}");
        assert!(*m == 0.0 || (0.25..1.75).contains(m), "step {t}: {m}");
        assert!((s.target[t].sum() - 1.7).abs() < 1e-12 && s.target[t].iter().all(|&p| p > 0.0));
    }
    assert!(s.mask.iter().any(|&m| m != 0.0 && m != 1.0));
}
