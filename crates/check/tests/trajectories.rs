//! The fixtures' training runs (`docs/fixtures.md` §2.2): every canonical trajectory learns (its
//! loss falls at every update, by a visible amount, and every trained tensor moves), the export
//! refuses a run whose loss rises and names the fixture, the rule and the update, and the
//! training keys (`trainable`, `w_min`, `w_max`) are parsed strictly, exported and compared.

#![allow(clippy::float_cmp)] // bit-for-bit equalities are the point (row 0, clip bounds)

mod common;

use common::{read_all, write_all};
use credit_check::fixtures::{
    self, AnyFixture, Fixture, FixtureError, WriteOptions, compare::compare, config::TrainingSpec,
};
use ndarray::ArrayD;
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("credit-traj-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn only(rules: &[&str]) -> WriteOptions {
    WriteOptions { rules: Some(rules.iter().map(|r| r.to_string()).collect()), ..Default::default() }
}

/// Exports the rules whose trajectories are recorded (the cheap part of an export).
fn export(dir: &Path, fx: &AnyFixture) -> Result<(), FixtureError> {
    match fx {
        AnyFixture::Single(f) => {
            let plan = fixtures::plan(dir, f, &only(&["bptt", "eprop_random"]))?;
            fixtures::publish(dir, false, |t| fixtures::write_into(t, f, &plan))
        }
        AnyFixture::Stack(s) => {
            let plan = fixtures::stack::plan(dir, s, &only(&["bptt", "deep_eprop"]))?;
            fixtures::publish(dir, false, |t| fixtures::stack::write_into(t, s, &plan))
        }
    }
}

fn get<'a>(arrays: &'a [(String, ArrayD<f64>)], name: &str) -> &'a ArrayD<f64> {
    &arrays.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} missing")).1
}

fn all_canonical() -> Vec<AnyFixture> {
    let mut v: Vec<AnyFixture> =
        fixtures::canonical().into_iter().map(|f| AnyFixture::Single(Box::new(f))).collect();
    v.push(AnyFixture::Stack(Box::new(fixtures::stack::canonical_stack())));
    v
}

/// Every canonical trajectory decreases: `E = E_task + E_reg` and `E_task` fall at every stored
/// update, `E` by at least 2 % over the run (a rate so small that nothing happens is no
/// training), every trainable tensor moves and every frozen one stays, the regularised fixtures
/// have a non-zero `E_reg`, and row 0 is the fixture itself (`E` of `intermediates.npz`, the
/// parameters of `inputs.npz`).
#[test]
fn canonical_trajectories_fall() {
    let fxs = all_canonical();
    assert_eq!(fxs.len(), fixtures::CANONICAL_LR.len());
    for fx in &fxs {
        let (name, training, regularised) = match fx {
            AnyFixture::Single(f) => (&f.config.name, &f.config.training, f.net.reg.is_some()),
            AnyFixture::Stack(s) => (&s.config.name, &s.config.training, false),
        };
        let lr = fixtures::CANONICAL_LR.iter().find(|(n, _)| n == name).unwrap().1;
        assert_eq!((training.lr, training.updates), (lr, 5), "{name}");
        let dir = tmp(name);
        export(&dir, fx).unwrap_or_else(|e| panic!("{e}"));
        let (tr, im, inputs) = (
            read_all(&dir.join("trajectory.npz")),
            read_all(&dir.join("intermediates.npz")),
            read_all(&dir.join("inputs.npz")),
        );
        let rules: &[&str] = if matches!(fx, AnyFixture::Stack(_)) {
            &["bptt", "deep_eprop"]
        } else {
            &["bptt", "eprop_random"]
        };
        for rule in rules {
            let (task, reg) = (get(&tr, &format!("{rule}/loss_task")), get(&tr, &format!("{rule}/loss_reg")));
            assert_eq!(task.shape(), [6], "{name} {rule}");
            let e: Vec<f64> = task.iter().zip(reg.iter()).map(|(a, b)| a + b).collect();
            assert_eq!(e[0], get(&im, "loss")[[]], "{name} {rule}: row 0 is the fixture's E");
            for k in 1..e.len() {
                assert!(e[k] < e[k - 1], "{name} {rule}: E rises at update {k}: {e:?}");
                assert!(task[k] < task[k - 1], "{name} {rule}: E_task rises at update {k}: {task:?}");
            }
            assert!(e[5] <= 0.98 * e[0], "{name} {rule}: E barely moves: {e:?}");
            assert_eq!(reg.iter().all(|r| *r > 0.0), regularised, "{name} {rule}: E_reg {reg:?}");
            for (pname, p0) in inputs.iter().filter(|(n, _)| n.starts_with("params/")) {
                let series = get(&tr, &format!("{rule}/{}", &pname["params/".len()..]));
                let first = series.index_axis(ndarray::Axis(0), 0);
                assert_eq!(first, p0.view(), "{name} {rule} {pname}: row 0");
                let last = series.index_axis(ndarray::Axis(0), 5);
                let tensor = &pname["params/".len()..];
                assert_eq!(
                    first != last,
                    training.trains(tensor),
                    "{name} {rule} {pname}: moves iff it trains"
                );
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn lif_paper() -> Fixture {
    fixtures::canonical().into_iter().find(|f| f.config.name == "lif-paper-n5-t20").unwrap()
}

/// A learning rate under which the loss rises is refused, by a typed error naming the fixture,
/// the rule and the update; nothing is written.
#[test]
fn export_refuses_a_diverging_rate() {
    // lr = 0.01 was the shared rate before schema 2: lif-paper's BPTT loss went 205 → 4e12
    let fx = lif_paper().with_training(TrainingSpec::plain(0.01, 5));
    let dir = tmp("diverging");
    let e = export(&dir, &AnyFixture::Single(Box::new(fx))).unwrap_err();
    match &e {
        FixtureError::Diverges { fixture, rule, update, updates, before, after, lr } => {
            assert_eq!(
                (fixture.as_str(), rule.as_str(), *update, *updates),
                ("lif-paper-n5-t20", "bptt", 1, 5)
            );
            assert!(after >= before && *lr == 0.01, "{e}");
        }
        other => panic!("expected Diverges, got {other}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("`lif-paper-n5-t20`") && msg.contains("`bptt`") && msg.contains("update 1 of 5"),
        "{msg}"
    );
    assert!(!dir.exists(), "a refused export leaves nothing");
    // a rate of 0 trains nothing: the loss does not fall either
    let frozen = lif_paper().with_training(TrainingSpec::plain(0.0, 5));
    assert!(matches!(
        export(&dir, &AnyFixture::Single(Box::new(frozen))),
        Err(FixtureError::Diverges { .. })
    ));
    // e-prop's run is checked as well as BPTT's: only eprop_random exported
    let fx = lif_paper().with_training(TrainingSpec::plain(0.01, 5));
    let plan = fixtures::plan(&dir, &fx, &only(&["eprop_random"])).unwrap();
    let e = fixtures::publish(&dir, false, |t| fixtures::write_into(t, &fx, &plan)).unwrap_err();
    assert!(matches!(&e, FixtureError::Diverges { rule, .. } if rule == "eprop_random"), "{e}");
    // and the stack's
    let mut s = fixtures::stack::canonical_stack();
    s.config.training.lr = 0.05;
    let e = export(&dir, &AnyFixture::Stack(Box::new(s))).unwrap_err();
    assert!(matches!(&e, FixtureError::Diverges { rule, .. } if rule == "bptt"), "{e}");
}

/// `trainable` freezes the tensors it omits (rows equal to row 0), `w_min`/`w_max` clip every
/// trained entry after each update (and bind here), and the keys survive export → read → export
/// bit for bit, `compare-fixture` included.
#[test]
fn mask_and_clip_round_trip() {
    let base = lif_paper();
    let t = TrainingSpec {
        trainable: Some(vec!["w_in".into(), "w_rec".into(), "w_out".into()]),
        w_min: Some(-0.3),
        w_max: Some(0.35),
        ..base.config.training.clone()
    };
    let fx = base.with_training(t.clone());
    let dir = tmp("mask-clip");
    export(&dir, &AnyFixture::Single(Box::new(fx.clone()))).unwrap_or_else(|e| panic!("{e}"));
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["schema"], 2);
    assert_eq!(cfg["training"]["trainable"], serde_json::json!(["w_in", "w_rec", "w_out"]));
    assert_eq!(
        (cfg["training"]["w_min"].as_f64(), cfg["training"]["w_max"].as_f64()),
        (Some(-0.3), Some(0.35))
    );
    let back = fixtures::read(&dir).unwrap();
    assert_eq!(back.config.training, t);
    let tr = read_all(&dir.join("trajectory.npz"));
    for rule in ["bptt", "eprop_random"] {
        let (mut clipped, mut moved) = (0, 0);
        for name in ["w_in", "w_rec", "b", "w_out", "b_out"] {
            let s = get(&tr, &format!("{rule}/{name}"));
            let first = s.index_axis(ndarray::Axis(0), 0).to_owned();
            for k in 1..s.shape()[0] {
                let row = s.index_axis(ndarray::Axis(0), k);
                if name.starts_with('b') {
                    assert_eq!(row, first.view(), "{rule}/{name} row {k}: a frozen tensor moved");
                    continue;
                }
                moved += usize::from(row != first.view());
                for (w, w0) in row.iter().zip(first.iter()) {
                    // the initial weights are not clipped (NEST clips the updated weight only)
                    if w != w0 {
                        assert!((-0.3..=0.35).contains(w), "{rule}/{name}[{k}] = {w}");
                    }
                    clipped += usize::from(*w == -0.3 || *w == 0.35);
                }
            }
        }
        assert!(moved > 0 && clipped > 0, "{rule}: moved {moved}, clipped {clipped}: the clip must bind");
    }
    // without the clip the trajectory differs (the bound is live)
    let free = back.clone().with_training(TrainingSpec { w_min: None, w_max: None, ..t.clone() });
    let free_dir = tmp("mask-free");
    export(&free_dir, &AnyFixture::Single(Box::new(free))).unwrap();
    assert!(compare(&dir, &free_dir, 0.0).unwrap().first_failure().is_some());
    // recomputed from the read-back fixture: identical, array for array
    let again = tmp("mask-clip-again");
    export(&again, &AnyFixture::Single(Box::new(back))).unwrap();
    let report = compare(&dir, &again, 0.0).unwrap();
    assert!(report.arrays.iter().all(|a| a.pass && a.abs == 0.0), "{:?}", report.first_failure());
    // a candidate whose frozen bias moved is a comparison failure at that step
    let bad = tmp("mask-clip-bad");
    std::fs::create_dir_all(&bad).unwrap();
    let mut arrays = read_all(&dir.join("trajectory.npz"));
    let b = arrays.iter_mut().find(|(n, _)| n == "bptt/b").unwrap();
    b.1[[3, 2, 0]] += 0.01;
    write_all(&bad.join("trajectory.npz"), &arrays);
    let report = compare(&dir, &bad, 1e-12).unwrap();
    let fail = report.first_failure().expect("the moved bias is found");
    assert_eq!((fail.name.as_str(), fail.first_step), ("bptt/b", Some(3)));
    for d in [dir, free_dir, again, bad] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// The training keys are parsed as strictly as the others: an unknown key or tensor is named
/// with the nearest valid one, a bad value is named, and a schema-1 config (no new keys) reads
/// with schema 1's meaning.
#[test]
fn training_keys_are_strict() {
    let dir = tmp("strict-src");
    fixtures::write_inputs(&dir, &lif_paper(), false).unwrap();
    let cfg_text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    let with = |edit: &dyn Fn(&mut serde_json::Value)| -> Result<Fixture, FixtureError> {
        let mut v: serde_json::Value = serde_json::from_str(&cfg_text).unwrap();
        edit(&mut v);
        std::fs::write(dir.join("config.json"), serde_json::to_string(&v).unwrap()).unwrap();
        fixtures::read(&dir)
    };
    let field = |r: Result<Fixture, FixtureError>| match r {
        Err(FixtureError::Config { field, message, .. }) => (field, message),
        Err(other) => panic!("expected a key error, got {other}"),
        Ok(_) => panic!("accepted"),
    };
    let (f, m) = field(with(&|v| v["training"]["trainabel"] = serde_json::json!(["w_in"])));
    assert_eq!(
        (f.as_str(), m.as_str()),
        ("config.training.trainabel", "unknown key; did you mean `trainable`?")
    );
    let (f, m) = field(with(&|v| v["training"]["w_mx"] = serde_json::json!(1.0)));
    assert_eq!((f.as_str(), m.as_str()), ("config.training.w_mx", "unknown key; did you mean `w_max`?"));
    let (f, m) = field(with(&|v| v["training"]["trainable"] = serde_json::json!(["w_in", "w_recc"])));
    assert_eq!(f, "config.training.trainable[1]");
    assert!(m.starts_with("unknown tensor `w_recc`; did you mean `w_rec`?"), "{m}");
    let (f, m) = field(with(&|v| v["training"]["trainable"] = serde_json::json!(["b", "b"])));
    assert_eq!((f.as_str(), m.as_str()), ("config.training.trainable[1]", "tensor `b` is listed twice"));
    let (f, _) = field(with(&|v| v["training"]["trainable"] = serde_json::json!("w_in")));
    assert_eq!(f, "config.training.trainable");
    let (f, m) = field(with(&|v| {
        v["training"]["w_min"] = serde_json::json!(1.0);
        v["training"]["w_max"] = serde_json::json!(-1.0);
    }));
    assert_eq!((f.as_str(), m.as_str()), ("config.training.w_min", "= 1: must be ≤ w_max = -1"));
    let (f, _) = field(with(&|v| v["training"]["lr"] = serde_json::json!(-0.1)));
    assert_eq!(f, "config.training.lr");
    // schema 1, without the new keys: every tensor trains, no clip
    let old = with(&|v| {
        v["schema"] = serde_json::json!(1);
        let t = v["training"].as_object_mut().unwrap();
        for k in ["trainable", "w_min", "w_max"] {
            t.remove(k);
        }
    })
    .unwrap();
    assert_eq!(old.config.training, TrainingSpec::plain(old.config.training.lr, 5));
    let e = with(&|v| v["schema"] = serde_json::json!(3)).unwrap_err();
    assert!(e.to_string().contains("config.schema = 3: this reader understands schemas 1 and 2"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

mod runs {
    //! `train` over small random networks of every cell and convention: the recorded losses are
    //! the forward pass's (`E_task + E_reg = E` bit for bit, `E_task` = the loss without the
    //! regulariser), frozen tensors never move, trained entries stay inside the clip after every
    //! update, and an unclipped, unmasked run is plain SGD `θ − (g·η)`.
    use super::common;
    use credit_check::fixtures::{self, config::TrainingSpec};
    use credit_core::{ForwardOptions, Network, forward};
    use proptest::prelude::*;
    use proptest::test_runner::{Config as PtConfig, RngSeed};

    fn pt_config(cases: u32) -> PtConfig {
        PtConfig {
            cases,
            failure_persistence: None,
            rng_seed: RngSeed::Fixed(0x7_12A1),
            ..PtConfig::default()
        }
    }

    proptest! {
        #![proptest_config(pt_config(48))]

        #[test]
        fn train_records_masked_clipped_sgd(
            kind in 0usize..4, variant in 0u32..768, n_in in 1usize..4, n in 1usize..5,
            k in 1usize..3, steps in 1usize..9, seed in 0u64..1000, lr in 1e-4f64..0.1,
            updates in 0usize..4, mask in proptest::collection::vec(any::<bool>(), 5),
            clip in 0.05f64..1.0, clipped in any::<bool>(),
        ) {
            let net = common::net_v(common::cell(kind, variant), n_in, n, k, false, 0.8, variant);
            let (p0, seq) = common::instance(&net, steps, seed);
            let names: Vec<&str> = p0.tensors.iter().map(|t| t.name).collect();
            let trainable: Vec<String> =
                names.iter().zip(mask.iter().cycle()).filter(|(_, m)| **m).map(|(n, _)| n.to_string()).collect();
            let t = TrainingSpec {
                trainable: Some(trainable.clone()),
                w_min: clipped.then_some(-clip),
                w_max: clipped.then_some(clip),
                ..TrainingSpec::plain(lr, updates)
            };
            prop_assert!(t.validate(names.iter().copied()).is_ok());
            let grad_of = |q: &credit_core::Params<f64>| credit_bptt::gradient(&net, q, &seq).map(|b| b.grad);
            let run = fixtures::train(&p0, &t, grad_of, |q| fixtures::losses(&net, q, &seq)).unwrap();
            prop_assert_eq!((run.task.len(), run.reg.len(), run.params.len()), (updates + 1, updates + 1, updates + 1));
            let bare = Network { reg: None, ..net.clone() };
            for (k, q) in run.params.iter().enumerate() {
                let e = forward(&net, q, &seq, ForwardOptions::default()).unwrap().loss;
                prop_assert_eq!(run.task[k] + run.reg[k], e);
                prop_assert_eq!(run.task[k], forward(&bare, q, &seq, ForwardOptions::default()).unwrap().loss);
                if net.reg.is_none() {
                    prop_assert_eq!(run.reg[k], 0.0);
                }
                for (a, b) in q.tensors.iter().zip(&p0.tensors) {
                    if !trainable.iter().any(|n| n == a.name) {
                        prop_assert_eq!(&a.value, &b.value, "{} is frozen", a.name);
                    } else if clipped && k > 0 {
                        prop_assert!(a.value.iter().all(|w| (-clip..=clip).contains(w)), "{} outside the clip", a.name);
                    }
                }
            }
            // the first update is θ − (g·η), clamped, for the trained tensors
            if updates > 0 {
                let g = credit_bptt::gradient(&net, &p0, &seq).unwrap().grad;
                for ((a, b), gt) in run.params[1].tensors.iter().zip(&p0.tensors).zip(&g.tensors) {
                    if trainable.iter().any(|n| n == a.name) {
                        let want = (&b.value - &gt.value * lr).map(|w| if clipped { w.clamp(-clip, clip) } else { w });
                        prop_assert_eq!(&a.value, &want);
                    }
                }
            }
        }
    }
}
