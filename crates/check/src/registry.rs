//! The one registry of relation ids: every relation that `check-gradients` can report, with a
//! one-line claim (`check-gradients --list-relations` prints it; `--relations` selects from it).
//! The relations themselves live per rule family ([`crate::relations`], [`crate::eprop`],
//! [`crate::family`], [`crate::stacks`], [`crate::fast_reverse`], [`crate::fast_forward`],
//! [`crate::snap`], [`crate::tbptt`], [`crate::rflo`], [`crate::uoro`], [`crate::mdgl`],
//! [`crate::synthgrad`], [`crate::feedforward`], [`crate::burstccn`]); `check-gradients` refuses
//! to finish a run that produces
//! an id missing here, and `tests/cli.rs` checks the list against a run.

/// `(id, claim)` of every relation, in the order of the summary.
pub const RELATIONS: &[(&str, &str)] = &[
    ("jacobian=dual", "hand-derived D, dM/dz, I, dz/dh, dM/dx = dual-number Jacobians, every step"),
    ("bptt=oracle", "BPTT = the exact gradient (dual numbers), per tensor; also on stacks"),
    ("rtrl=oracle", "RTRL = the exact gradient; also on stacks"),
    ("rtrl=bptt", "RTRL = BPTT in f64, and in Dual64 also along a random direction; also on stacks"),
    ("fd=oracle", "central finite differences = the exact gradient (smooth cells: rate, LSTM)"),
    ("f32~f64", "BPTT, RTRL and the oracle in f32 = the same in f64 (identical spike trains)"),
    ("eprop-total=bptt", "sum_t (dE/dz^t) e^t with the total learning signal = BPTT (P2)"),
    ("eprop-causal=eprop-noncausal", "online e-prop = sum_t (B y^t) e^t, symmetric and random B (P3)"),
    (
        "eprop=oracle-detached",
        "symmetric e-prop = exact gradient with recurrent and reset z^{t-1} detached (P4)",
    ),
    ("eprop=bptt@R0", "e-prop = BPTT when R = 0 (W_rec = 0, reset detached) (P5)"),
    ("eprop!=bptt", "e-prop differs from BPTT on generic nets and on W_rec = 0 with a differentiated reset"),
    ("eprop-wout=bptt", "the readout gradient of every e-prop variant is exact (P6)"),
    ("adaptive-decay", "adaptive feedback: |B - W_out^T| shrinks by exactly 1 - lambda per update (P15)"),
    (
        "eprop-literal=eprop-generic",
        "the paper's LIF/ALIF traces = the generic eps = D eps + I, every step (P17)",
    ),
    ("family0=eprop", "order 0 of the m-order family = symmetric e-prop"),
    ("familyT=rtrl", "order T-1 of the family = RTRL"),
    ("family-recursion=family-graded", "the family's recursion = the hop-graded forward pass, every order"),
    ("familym!=rtrl", "intermediate orders of the family differ from RTRL on generic nets"),
    ("deep=oracle-detached", "deep e-prop = exact gradient with within-layer z^{t-1} detached (stacks)"),
    ("deep=bptt@R0", "deep e-prop = BPTT without within-layer recurrence (stacks)"),
    ("deep!=bptt", "deep e-prop differs from BPTT with within-layer recurrence (stacks)"),
    ("deep1=eprop", "deep e-prop on one layer = e-prop"),
    ("ostl1=bptt", "OSTL on one layer = BPTT"),
    ("ostl-top=bptt", "OSTL = BPTT on the top layer of a stack"),
    ("ostl-lower!=bptt", "OSTL's lower layers differ from BPTT under leaky upper layers"),
    (
        "eprop-random=oracle-feedback",
        "random and adaptive e-prop = sum_t sum_j (B dE/da^t)_j dz_j^t/dtheta on the detached graph, from the oracle alone",
    ),
    (
        "ostl=oracle-detached",
        "OSTL = exact gradient with every temporal edge detached in the layers above the parameter's (stacks)",
    ),
    ("ostl=bptt", "OSTL = BPTT on stacks whose upper layers have no memory"),
    ("bptt-fast=bptt", "fast BPTT (f32/f64 kernels) = the literal BPTT, every tensor and the loss"),
    ("eprop-fast=eprop", "fast online e-prop = the literal e-prop: symmetric, random, adaptive feedback"),
    ("fast-f32~f64", "fast BPTT and fast e-prop in f32 = the same in f64 (identical spike trains)"),
    (
        "rtrl-fast=rtrl",
        "fast RTRL (contiguous S, one GEMM per step) = literal RTRL; single layers and stacks",
    ),
    (
        "family-fast=family",
        "the fast m-order recursion = the literal one: orders 0, 1, mid, T-1, every reading",
    ),
    ("deep-fast=deep", "fast deep e-prop = literal deep e-prop, both depths (stacks, one-layer stacks)"),
    ("ostl-fast=ostl", "fast OSTL = literal OSTL (stacks, one-layer stacks)"),
    ("fast-forward-f32~f64", "fast RTRL, family, deep e-prop and OSTL in f32 = the same in f64"),
    ("snap-full=rtrl", "SnAp-n with n = T = RTRL (P9)"),
    ("snap2=rtrl", "SnAp-2 = RTRL when its pattern is full (all off-diagonal W_rec non-zero) (P9)"),
    ("snap1=rtrl@W0", "SnAp-1 = RTRL when W_rec = 0 (J block-diagonal, reset allowed) (P8)"),
    ("snap1!=rtrl", "SnAp-1 differs from RTRL on generic nets"),
    ("snap1=eprop", "SnAp-1 = symmetric e-prop where diag R = 0 (no autapse, no differentiated reset) (P8)"),
    (
        "snap1=eprop+diagR",
        "SnAp-1 = e-prop's trace code run with D + diag R: the exact difference between the two rules",
    ),
    ("snap1!=eprop", "SnAp-1 differs from e-prop where diag R != 0 (autapses, differentiated reset)"),
    (
        "snap-fast=snap",
        "sparse SnAp-n (S stored on its pattern only) = the literal SnAp-n: n = 1, 2, T, every tensor and the loss",
    ),
    ("snap-fast-f32~f64", "sparse SnAp-n in f32 = the same in f64 (n = 1, 2, T; identical spike trains)"),
    ("ebptt-full=bptt", "E-BPTT with windows L >= T = BPTT (P16)"),
    ("fbptt-full=bptt", "F-BPTT with window L >= T = BPTT (P16)"),
    ("ebptt-window=bptt-prefix", "E-BPTT after its first window of L steps = BPTT on the first L steps"),
    ("ebptt!=bptt", "E-BPTT with a window L = 2 < T differs from BPTT"),
    ("fbptt!=bptt", "F-BPTT with a window L = 2 < T differs from BPTT"),
    (
        "rflo=eprop-random",
        "RFLO (trace decay = alpha) = random e-prop with B = W_FB^T on the rate cell (P10)",
    ),
    (
        "kernl-fixed=rflo",
        "KeRNL with A = I, alpha_i = alpha and zero learning rates = RFLO (P11); with a fixed non-symmetric A = RFLO with feedback A^T B",
    ),
    ("rflo!=bptt", "RFLO differs from BPTT on generic rate nets"),
    ("kernl!=bptt", "KeRNL (learning A and alpha_i) differs from BPTT on generic rate nets"),
    ("uoro-mean=rtrl", "UORO averaged over every noise sign pattern = RTRL (tiny N = 2, T = 3) (P12)"),
    ("kf-mean=rtrl", "KF-RTRL averaged over every noise sign pattern = RTRL (rate, tiny N = 2, T = 3) (P12)"),
    ("rkf-mean=rtrl", "R-KF-RTRL averaged over every noise sign pattern = RTRL (tiny N = 2, T = 3)"),
    ("lowrank-draw!=rtrl", "one noise draw of UORO, KF-RTRL, R-KF-RTRL differs from RTRL"),
    (
        "mdgl=family1-lsh",
        "MDGL = the family's order 1 under the last-step-hop reading (without the self-hop: where diag R = 0)",
    ),
    (
        "mdgl-noself!=family1-lsh",
        "MDGL without the self-hop differs from the family's order 1 where diag R != 0",
    ),
    ("mdgl!=rtrl", "MDGL differs from RTRL on generic nets (T > 2)"),
    (
        "sg-exact=bptt",
        "DNI and the online cortex update with S := the true future gradient (from BPTT) and s = 1 = BPTT (P-e1, P-b4)",
    ),
    (
        "bplambda-forward=backward",
        "offline accumulate BP(lambda) traces = the forward lambda-return view (P-b1)",
    ),
    ("bplambda1=bptt-target", "BP(1), gamma = 1 = regression of S onto the true BPTT future gradient (P-b2)"),
    ("bplambda0=dni1", "BP(0) with gamma = s = -(DNI synthesiser gradient with T_c = 1) (P-b3, P-e3)"),
    ("dni-full=bptt", "DNI with T_c >= T = BPTT; the last chunk's target = the true future gradient (P-e2)"),
    (
        "bplambda<1!=bptt-target",
        "BP(lambda < 1) differs from the unbiased regression target: bootstrapping biases",
    ),
    (
        "dni-fixed-point=chunk-return",
        "a linear S fitted by least squares to DNI's own targets = the s-discounted chunk return, closed form from BPTT (P-e4)",
    ),
    ("ff-bp=oracle", "feedforward backprop = the exact gradient (dual numbers), MSE and weighted losses"),
    ("qagrel=oracle", "Q-AGREL's update for every action = -grad 1/2 (r - Q_a)^2, W' = W^T (P-a1)"),
    (
        "qagrel-expected=weighted-bp",
        "the policy-weighted Q-AGREL update = -grad of the pi-weighted MSE; uniform pi = MSE gradient / K (P-a2)",
    ),
    ("qagrel-feedback-invariant", "reciprocal learning leaves W' - W^T unchanged over 100 steps (P-a3)"),
    (
        "qagrel-fa!=oracle",
        "with random feedback W' the hidden-layer updates of Q-AGREL differ from the gradient",
    ),
    ("burstccn-out=bp", "BurstCCN's output-layer update = p_b x the backprop step, exactly (P-c1)"),
    (
        "burstccn-hidden~bp",
        "BurstCCN's hidden updates approach p_b x backprop: relative error ~ eps^2 (fitted log-log slope 2, P-c2)",
    ),
    (
        "burstccn-zero-error",
        "no teaching signal (or y = e^L) and Q = p_b Y: every BurstCCN update is exactly 0 (P-c3)",
    ),
    (
        "burstccn-fa=fa",
        "BurstCCN with random Y, Q = p_b Y = p_b x feedback alignment with B = Y^T, to O(eps^3) (P-c4)",
    ),
    ("burstccn-fa!=bp", "BurstCCN with random Y differs from backprop in the hidden layers"),
    (
        "burstccn-ct-steady=discrete",
        "continuous-time BurstCCN with frozen weights settles on the discrete model: its weight increment = dt/tau_W x (C6)",
    ),
    (
        "burstccn-q-fixed-point",
        "teacher-free learned Q (and Y): Q - p_b Y contracts by 1 - eta lambda along each eigenvector of C = mean e e^T, is unchanged off span{e}; Q -> p_b Y there (P-c5)",
    ),
];
