//! Bad input gives a typed error naming the field; nothing panics.

// Exact (bit-for-bit) equalities are intended where they are asserted.
#![allow(clippy::float_cmp)]

use credit_core::cell::{Alif, Cell, Lif, Rate, Spiking};
use credit_core::{
    Error, ForwardOptions, Loss, Network, Params, Readout, Sequence, Tap, TapSite, decay_from_tau, forward,
};
use nalgebra::{DMatrix, DVector};

fn lif() -> Cell {
    Cell::Lif(Lif { spiking: Spiking::new(0.9, 1.0) })
}

fn field(e: Error) -> String {
    match e {
        Error::Shape { field, .. }
        | Error::NonFinite { field, .. }
        | Error::Invalid { field, .. }
        | Error::Empty { field } => field,
    }
}

fn ok_net() -> Network {
    Network::new(lif(), 2, 3, 2, Readout::leaky(0.5), Loss::Mse).unwrap()
}

#[test]
fn empty_sizes_are_rejected() {
    let r = |n_in, n, k| Network::new(lif(), n_in, n, k, Readout::leaky(0.5), Loss::Mse).unwrap_err();
    assert_eq!(r(0, 3, 2), Error::Empty { field: "network.n_in".into() });
    assert_eq!(field(r(2, 0, 2)), "network.n");
    assert_eq!(field(r(2, 3, 0)), "network.n_out");
    assert_eq!(field(Sequence::random(&ok_net(), 0, 1).unwrap_err()), "sequence.T");
}

#[test]
fn decays_and_time_constants_are_checked() {
    for bad in [0.0, -0.1, 1.5, f64::NAN] {
        let e = Network::new(Cell::Rate(Rate { alpha: bad }), 1, 1, 1, Readout::leaky(0.5), Loss::Mse)
            .unwrap_err();
        assert_eq!(field(e), "rate.alpha");
        let e = Network::new(
            Cell::Lif(Lif { spiking: Spiking::new(bad, 1.0) }),
            1,
            1,
            1,
            Readout::leaky(0.5),
            Loss::Mse,
        )
        .unwrap_err();
        assert_eq!(field(e), "lif.alpha");
        let e = Network::new(
            Cell::Alif(Alif { spiking: Spiking::new(0.9, 1.0), rho: bad, beta: 0.1 }),
            1,
            1,
            1,
            Readout::leaky(0.5),
            Loss::Mse,
        )
        .unwrap_err();
        assert_eq!(field(e), "alif.rho");
    }
    for bad in [-0.1, 1.5, f64::INFINITY] {
        let e = Network::new(lif(), 1, 1, 1, Readout::leaky(bad), Loss::Mse).unwrap_err();
        assert_eq!(field(e), "readout.kappa");
    }
    let e = Network::new(
        Cell::Lif(Lif { spiking: Spiking::new(0.9, 0.0) }),
        1,
        1,
        1,
        Readout::leaky(0.5),
        Loss::Mse,
    )
    .unwrap_err();
    assert_eq!(field(e), "lif.v_th");
    let e = Network::new(
        Cell::Alif(Alif { spiking: Spiking::new(0.9, 1.0), rho: 0.9, beta: -1.0 }),
        1,
        1,
        1,
        Readout::leaky(0.5),
        Loss::Mse,
    )
    .unwrap_err();
    assert_eq!(field(e), "alif.beta");
    assert_eq!(field(decay_from_tau("lif.tau_m", 1.0, -5.0).unwrap_err()), "lif.tau_m");
    assert_eq!(field(decay_from_tau("lif.tau_m", 0.0, 5.0).unwrap_err()), "dt");
}

#[test]
fn parameter_shapes_values_and_autapses_are_checked() {
    let net = ok_net();
    let good = Params::<f64>::random(&net, 1).unwrap();
    let mut p = good.clone();
    p.tensors[1].value = DMatrix::zeros(3, 2);
    let e = p.validate(&net).unwrap_err();
    assert_eq!(e, Error::Shape { field: "params.w_rec".into(), expected: "3×3".into(), found: "3×2".into() });
    let mut p = good.clone();
    p.tensors[0].value[(2, 1)] = f64::NAN;
    let e = p.validate(&net).unwrap_err();
    assert_eq!(field(e.clone()), "params.w_in");
    assert!(e.to_string().contains("(2, 1)"), "{e}");
    let mut p = good.clone();
    p.tensors[1].value[(1, 1)] = 0.5;
    assert_eq!(field(p.validate(&net).unwrap_err()), "params.w_rec[(1, 1)]");
    let mut p = good.clone();
    p.tensors.pop();
    assert_eq!(field(p.validate(&net).unwrap_err()), "params");
    // the rate cell allows autapses
    let rate =
        Network::new(Cell::Rate(Rate { alpha: 0.5 }), 2, 3, 2, Readout::leaky(0.5), Loss::Mse).unwrap();
    let mut p = Params::<f64>::random(&rate, 1).unwrap();
    p.tensors[1].value[(1, 1)] = 0.5;
    assert!(p.validate(&rate).is_ok());
}

#[test]
fn sequences_are_checked() {
    let net = ok_net();
    let good = Sequence::random(&net, 5, 1).unwrap();
    let mut s = good.clone();
    s.x[3] = DVector::zeros(4);
    assert_eq!(
        s.validate(&net).unwrap_err(),
        Error::Shape { field: "sequence.x[3]".into(), expected: "2".into(), found: "4".into() }
    );
    let mut s = good.clone();
    s.target[1][0] = f64::INFINITY;
    assert_eq!(field(s.validate(&net).unwrap_err()), "sequence.target[1]");
    let mut s = good.clone();
    s.mask.pop();
    assert_eq!(field(s.validate(&net).unwrap_err()), "sequence.mask");
    let mut s = good.clone();
    s.mask[2] = -1.0;
    assert_eq!(field(s.validate(&net).unwrap_err()), "sequence.mask[2]");
    let ce = Network::new(lif(), 2, 3, 2, Readout::leaky(0.5), Loss::CrossEntropy).unwrap();
    let mut s = Sequence::random(&ce, 4, 1).unwrap();
    s.target[0][1] = -0.5;
    assert_eq!(field(s.validate(&ce).unwrap_err()), "sequence.target[0][1]");
}

#[test]
fn forward_rejects_bad_input_and_bad_taps() {
    let net = ok_net();
    let p = Params::<f64>::random(&net, 1).unwrap();
    let mut s = Sequence::random(&net, 5, 1).unwrap();
    let opts = |t, j| ForwardOptions {
        tap: Some(Tap { t, j, delta: 0.0, site: TapSite::Output }),
        ..Default::default()
    };
    assert_eq!(field(forward(&net, &p, &s, opts(0, 0)).unwrap_err()), "forward.tap");
    assert_eq!(field(forward(&net, &p, &s, opts(6, 0)).unwrap_err()), "forward.tap");
    assert_eq!(field(forward(&net, &p, &s, opts(5, 3)).unwrap_err()), "forward.tap");
    assert!(forward(&net, &p, &s, opts(5, 2)).is_ok());
    // a readout-drive tap indexes the K = 2 readout units, not the N = 3 neurons
    let drive = |t, j| ForwardOptions {
        tap: Some(Tap { t, j, delta: 0.0, site: TapSite::ReadoutDrive }),
        ..Default::default()
    };
    assert_eq!(field(forward(&net, &p, &s, drive(5, 2)).unwrap_err()), "forward.tap");
    assert_eq!(field(forward(&net, &p, &s, drive(0, 0)).unwrap_err()), "forward.tap");
    assert!(forward(&net, &p, &s, drive(5, 1)).is_ok());
    s.x[0][0] = f64::NAN;
    assert_eq!(field(forward(&net, &p, &s, ForwardOptions::default()).unwrap_err()), "sequence.x[0]");
}
