//! `check-gradients --relations`: a selection computes only what its relations read
//! ([`Needs`]) and its rows are exactly those of the full run; the budget of a fixture follows
//! the selection, so a fixture too large for the whole suite can still be checked on the fast
//! relations.

use credit_check::budget::{Sizes, suite, suite_for};
use credit_check::relations::{Needs, Select, run_config, run_config_selected};
use credit_check::{Row, builtin_suite};
use credit_core::CellModel;
use std::path::PathBuf;
use std::process::Command;

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// What a row says, without its liveness numbers (the gradient norm of the liveness evidence is
/// the oracle's or literal BPTT's: equal to rounding).
fn verdict(r: &Row) -> (String, String, String, u64, bool, Option<String>) {
    (
        r.relation.to_string(),
        r.config.clone(),
        r.tensor.clone(),
        r.max_rel_err.to_bits(),
        r.pass,
        r.reason.clone(),
    )
}

#[test]
fn every_part_is_needed_by_the_whole_suite_and_none_by_the_fast_reverse_relations() {
    let all = Needs::of(Select::ALL);
    assert_eq!(
        all,
        Needs {
            oracle: true,
            rtrl: true,
            oracle_cost: true,
            rtrl_cost: true,
            family: true,
            eprop: true,
            fd: true
        }
    );
    let fast = ids(&["bptt-fast=bptt", "eprop-fast=eprop", "fast-f32~f64"]);
    let n = Needs::of(Select(Some(&fast)));
    assert!(!n.oracle && !n.rtrl && !n.oracle_cost && !n.rtrl_cost && !n.family && !n.fd && n.eprop, "{n:?}");
    // each reader of the oracle or RTRL switches its part on
    for (id, oracle, rtrl) in [
        ("bptt=oracle", true, false),
        ("rtrl=bptt", false, true),
        ("f32~f64", true, true),
        ("snap-fast=snap", false, true),
    ] {
        let sel = ids(&[id]);
        let n = Needs::of(Select(Some(&sel)));
        assert_eq!((n.oracle, n.rtrl), (oracle, rtrl), "{id}");
    }
    let sel = ids(&["eprop-total=bptt"]);
    let n = Needs::of(Select(Some(&sel)));
    assert!(!n.oracle && n.oracle_cost, "the e-prop relations run the oracle on their own: {n:?}");
}

#[test]
fn the_budget_of_a_selection_is_the_suites_when_everything_is_selected() {
    let cfg = &builtin_suite()[0];
    let s = Sizes::of_network(&cfg.net, cfg.steps);
    // the whole suite, part by part (docs: the module table of `budget`): BPTT, the oracle twice,
    // RTRL, the family table, e-prop and 2P forward passes of central differences
    use credit_check::budget::{bptt, eprop, family_table, forward, oracle, rtrl};
    let parts = [bptt(&s), oracle(&s), oracle(&s), rtrl(&s), family_table(&s), eprop(&s)];
    let madds = parts.iter().map(|c| c.madds).sum::<f64>() + 2.0 * s.p * forward(&s).madds;
    let bytes = parts.iter().map(|c| c.bytes).fold(0.0, f64::max);
    let all = suite_for(&s, &Needs::of(Select::ALL));
    assert_eq!((all.bytes, all.madds), (bytes, madds));
    assert_eq!(all, suite(&s));
    let fast = ids(&["bptt-fast=bptt"]);
    let big = Sizes { n: 128.0, steps: 1000.0, p: 128.0 * 133.0 + 2.0 * 129.0, p_loc: 133.0, ..s };
    let (sel, whole) = (suite_for(&big, &Needs::of(Select(Some(&fast)))), suite(&big));
    // the exact triangle dominates the whole suite at benchmark size: the oracle's 3·T·P² and
    // RTRL's T·N²·d²·P_cell against BPTT's and e-prop's O(T·P)
    assert!(sel.madds * 1e3 < whole.madds && sel.bytes * 10.0 < whole.bytes, "{sel:?} {whole:?}");
}

#[test]
fn a_selection_reports_exactly_the_rows_of_the_full_run() {
    let suite = builtin_suite();
    // one config per cell, smallest first
    let mut picked: Vec<&credit_check::suite::Config> = Vec::new();
    for cfg in &suite {
        if !picked.iter().any(|c| c.net.cell.id() == cfg.net.cell.id()) {
            picked.push(cfg);
        }
    }
    assert!(picked.len() >= 4, "rate, LIF, ALIF, LSTM");
    let sel = ids(&["bptt-fast=bptt", "eprop-fast=eprop", "rtrl=bptt", "jacobian=dual"]);
    for cfg in picked {
        let full: Vec<_> = run_config(cfg)
            .unwrap()
            .iter()
            .filter(|r| sel.iter().any(|s| s == r.relation))
            .map(verdict)
            .collect();
        let part: Vec<_> =
            run_config_selected(cfg, Select(Some(&sel))).unwrap().iter().map(verdict).collect();
        assert!(!part.is_empty() && part.iter().any(|r| r.0 == "bptt-fast=bptt"), "{}", cfg.name);
        assert_eq!(part, full, "{}", cfg.name);
    }
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("credit-selection-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_fixture_over_the_suites_budget_is_checked_on_the_selected_relations() {
    let dir = scratch("budget");
    let fx = credit_check::fixtures::canonical()
        .into_iter()
        .find(|f| f.config.name == "rate-paper-n5-t20")
        .expect("a canonical fixture");
    let path = dir.join("fx");
    credit_check::fixtures::write(&path, &fx).unwrap();
    let s = Sizes::of_network(&fx.net, fx.seq.len());
    let fast = ids(&["bptt-fast=bptt"]);
    let need = suite_for(&s, &Needs::of(Select(Some(&fast)))).madds;
    let whole = suite(&s).madds;
    assert!(need * 4.0 < whole, "{need} {whole}");
    // a limit between the two: the whole suite is refused, the fast relation runs
    let limit = format!("{:e}", 2.0 * need);
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_check-gradients"))
            .args(["--fixture", path.to_str().unwrap(), "--max-work", &limit])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("checking every relation") && err.contains("--max-work"), "{err}");
    let out = run(&["--relations", "bptt-fast=bptt"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout, String::from_utf8_lossy(&out.stderr));
    assert!(stdout.lines().last().unwrap().ends_with(" passed, 0 failed"), "{stdout}");
    // a relation that reads the oracle brings the oracle's cost back
    let out = run(&["--relations", "bptt=oracle"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("checking the selected relations"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_bench_sized_fixtures_are_benchs_networks() {
    assert!(credit_check::fixtures::bench_sized("gru", 1).is_none());
    let fx = credit_check::fixtures::bench_sized("alif", 5).unwrap().unwrap();
    assert_eq!(fx.config.name, "alif-bench-n128-t1000-s5");
    assert_eq!((fx.net.n_in, fx.net.n, fx.net.n_out, fx.seq.len()), (4, 128, 2, 1000));
    // the same draws as `bench --cell alif --seed 5`
    let p = credit_core::Params::<f64>::random(&fx.net, 5).unwrap();
    assert_eq!(fx.params, p);
    assert_eq!(fx.seq.x, credit_core::Sequence::random(&fx.net, 1000, 5).unwrap().x);
}
