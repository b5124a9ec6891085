//! The report page and its SVGs are well-formed XML and show every section (built from tiny
//! training runs and small `check-gradients` / `family-table` / `deep-table` JSON documents of
//! the tools' schemas); a broken SVG is caught by `validate`.

// exact comparisons of numbers copied through unchanged
#![allow(clippy::float_cmp)]

use credit_train::report::{
    EXPERIMENTS, Inputs, ONLINE, Run, WORKSPACE, experiments_dir, experiments_section, relation_summary,
    rules_table_html, validate, write,
};
use credit_train::{Rule, Trainer, setup};
use serde_json::json;

fn tiny_runs() -> Vec<Run> {
    let mut runs = Vec::new();
    for name in ["bptt", "eprop-random", "uoro", "snap-1"] {
        let rule = Rule::parse(name).unwrap();
        let s = setup("adding", "rate", "default", rule, 1, 1).unwrap();
        let mut config = s.config.clone();
        config.iterations = 3;
        let mut t = Trainer::new(s.model, s.params, config).unwrap();
        let summary = t.run(&s.task, |_| {}).unwrap();
        let group = if rule.is_online_single_layer() { ONLINE } else { WORKSPACE };
        runs.push(Run {
            task: "adding",
            cell: "rate",
            rule,
            group,
            layers: 1,
            iterations: 3,
            log: t.log,
            summary,
        });
    }
    runs
}

#[test]
fn the_page_and_its_svgs_are_well_formed_and_complete() {
    let check = json!({"schema": 2, "results": [
        {"relation": "bptt=oracle", "expect": "equal", "max_rel_err": 1e-15, "tolerance": 1e-10, "pass": true},
        {"relation": "bptt=oracle", "expect": "equal", "max_rel_err": 3e-15, "tolerance": 1e-10, "pass": true},
        {"relation": "eprop!=bptt", "expect": "differ", "max_rel_err": 0.2, "tolerance": 1e-6, "pass": true},
        {"relation": "eprop!=bptt", "expect": "differ", "max_rel_err": 0.05, "tolerance": 1e-6, "pass": true},
    ]});
    let family = json!({"rows": [
        {"cell": "rate", "m": 0, "cosine": 0.98, "rel_err": 0.3, "madds_per_step": 192},
        {"cell": "rate", "m": 1, "cosine": 0.999, "rel_err": 0.1, "madds_per_step": 768},
        {"cell": "rate", "m": 2, "cosine": 1.0, "rel_err": 1e-16, "madds_per_step": 1500},
    ]});
    let deep = json!({"rows": [
        {"depth": 1, "rule": "deep-eprop", "layer": 1, "rel_err": 0.4},
        {"depth": 2, "rule": "deep-eprop", "layer": 1, "rel_err": 0.5},
        {"depth": 2, "rule": "deep-eprop", "layer": 2, "rel_err": 0.3},
    ]});
    let dir = std::env::temp_dir().join(format!("credit-report-{}", std::process::id()));
    let rules = json!({"window": 5, "draws": 4, "rows": [
        {"cell": "rate", "n": 6, "steps": 8, "rule": "rflo", "na": null, "cosine": 0.91, "rel_err": 0.4,
         "floats": 250, "floats_source": "len_scalars", "madds_per_step": 140, "madds_source": "formula",
         "theory": "time N·P_loc = N², memory N²"},
        {"cell": "lif", "n": 6, "steps": 8, "rule": "rflo", "na": "RFLO is defined on the rate cell only",
         "cosine": null, "rel_err": null, "floats": null, "floats_source": "", "madds_per_step": null,
         "madds_source": "", "theory": "time N·P_loc = N², memory N²"},
    ]});
    let inputs = Inputs { check: check.clone(), family, deep, rules: rules.clone() };
    write(&dir, &tiny_runs(), &inputs, true).unwrap();
    // every committed experiment plot of docs/img/ is shown (and validated) beside the page
    let mut committed: Vec<String> = std::fs::read_dir(experiments_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".svg"))
        .collect();
    committed.sort();
    assert!(committed.len() >= EXPERIMENTS.len(), "docs/img/: {committed:?}");
    assert_eq!(
        validate(&dir).unwrap(),
        5 + committed.len(),
        "curves, online curves, family accuracy and cost, deep, and the experiments"
    );
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let doc = roxmltree::Document::parse(&html).unwrap();
    let text: String = doc.descendants().filter_map(|n| n.text()).collect();
    for needle in [
        "Learning curves",
        "m-order family",
        "Deep rules",
        "check-gradients",
        "eprop-random",
        "bptt=oracle",
        "Experiments",
        "Online rules on adding",
        "snap-1",
        "uoro",
        "Online rules: alignment and cost",
        "n/a: RFLO is defined on the rate cell only",
        "0.910000",
    ] {
        assert!(text.contains(needle), "{needle}");
    }
    let shown: Vec<&str> =
        doc.descendants().filter(|n| n.has_tag_name("img")).filter_map(|n| n.attribute("src")).collect();
    for name in &committed {
        assert!(shown.contains(&format!("experiment-{name}").as_str()), "{name} not in the page: {shown:?}");
        assert!(text.contains(&format!("SVG=docs/img/{name} cargo run --release")), "{name}: no command");
    }
    assert!(
        !html.contains("http://") || html.matches("http://").count() == 1,
        "only the XHTML namespace, no network"
    );
    assert!(shown.contains(&"curves-adding-online.svg"), "{shown:?}");
    // the online runs are not in the workspace's plot of the same task; the references are in both
    let t = rules_table_html(&rules);
    assert_eq!(t.matches("<table>").count(), 2, "one table per cell: {t}");
    let s = relation_summary(&check);
    assert_eq!(s[0], ("bptt=oracle".to_string(), 2, 2, 3e-15, 1e-10), "equal: the worst is the largest");
    assert_eq!(s[1].3, 0.05, "differ: the worst is the smallest");
    // a broken SVG is caught
    std::fs::write(dir.join("deep.svg"), "<svg><polyline></svg>").unwrap();
    assert!(validate(&dir).is_err());
    std::fs::remove_dir_all(&dir).ok();
}

/// A listed plot missing from `docs/img` is said in the page, not an error; an unlisted SVG
/// found there is shown too.
#[test]
fn a_missing_experiment_plot_is_said_in_the_page() {
    let base = std::env::temp_dir().join(format!("credit-report-exp-{}", std::process::id()));
    let (img, out) = (base.join("img"), base.join("out"));
    std::fs::create_dir_all(&img).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let first = EXPERIMENTS[0].0;
    std::fs::copy(experiments_dir().join(first), img.join(first)).unwrap();
    std::fs::copy(experiments_dir().join(first), img.join("zz-new.svg")).unwrap();
    let html = experiments_section(&img, &out).unwrap();
    assert!(out.join(format!("experiment-{first}")).exists());
    assert!(out.join("experiment-zz-new.svg").exists());
    for (name, ..) in &EXPERIMENTS[1..] {
        assert!(html.contains(&format!("(missing: <code>docs/img/{name}</code>")), "{name}: {html}");
    }
    std::fs::remove_dir_all(&base).ok();
}
