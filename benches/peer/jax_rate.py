#!/usr/bin/env python3
"""JAX peer of `cargo xtask bench` for the rate cell (issue 11, item 4; rate cell only so far).

1. Writes a fixture input (config.json + inputs.npz, docs/fixtures.md) for a leaky rate RNN
   (alpha = 0.5, N_in = 4, K = 2, readout kappa = 0.9, c = 1, same-step, MSE with a 0/1 mask),
   N = --n, T = --steps, drawn with NumPy's RNG from --seed.
2. Runs `export-fixtures OUT --fixture IN --rules bptt,eprop_symmetric` (release): the literal
   Rust BPTT and symmetric e-prop gradients on exactly those weights.
3. Computes the same two gradients with JAX in float64: BPTT as `jit(grad(loss))`, symmetric
   e-prop as `jit(grad(loss'))` where loss' detaches the recurrent input `W_rec z^{t-1}`'s `z`
   (property P4: symmetric e-prop = the exact gradient of that graph), and checks every tensor
   against Rust at 1e-10 relative (max|a - b| / max|b|).
4. Times both sides interleaved: each round runs `bench --rule R --cell rate --n N --steps T
   --repeat K --json ...` (the fast path; its own median) and K JAX calls (their median), for
   R in bptt, eprop; prints the medians over rounds and the ratios Rust / JAX.

Runs only where jax is installed (`python -m venv target/jax-venv && target/jax-venv/bin/pip
install jax numpy`); exits 0 with a message otherwise. Usage:

    target/jax-venv/bin/python benches/peer/jax_rate.py [--n 128] [--steps 1000] [--rounds 5] [--repeat 3]
"""

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
ALPHA, KAPPA, N_IN, K = 0.5, 0.9, 4, 2


def fixture_input(d, n, steps, seed):
    rng = np.random.default_rng(seed)
    cell = {
        "kind": "rate", "alpha": ALPHA, "v_th": None, "n_ref": None, "reset": None, "input_scale": None,
        "surrogate": None, "gamma": None, "surrogate_beta": None, "refractory_psi": None, "rho": None,
        "beta": None,
    }
    cfg = {
        "schema": 1, "name": f"peer-rate-n{n}-t{steps}", "preset": "paper", "cell": cell, "n_in": N_IN, "n": n,
        "n_out": K, "steps": steps, "readout": {"kappa": KAPPA, "scale": "one", "delay": "same"}, "loss": "mse",
        "reg": None, "seed": seed, "training": {"lr": 0.01, "updates": 0}, "generator": "benches/peer/jax_rate.py",
    }
    p = {
        "w_in": rng.normal(0, 0.8, (n, N_IN)),
        "w_rec": rng.normal(0, 1.0 / np.sqrt(n), (n, n)),
        "b": rng.normal(0, 0.3, (n, 1)),
        "w_out": rng.normal(0, 1.0 / np.sqrt(n), (K, n)),
        "b_out": rng.normal(0, 0.2, (K, 1)),
    }
    inputs = {f"params/{k}": v for k, v in p.items()}
    inputs["x"] = rng.uniform(0.0, 1.0, (steps, N_IN))
    inputs["target"] = rng.normal(0, 1, (steps, K))
    inputs["mask"] = (rng.uniform(size=steps) < 0.7).astype(float)
    inputs["feedback"] = rng.normal(0, 0.5, (n, K))
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps(cfg, indent=2))
    np.savez(d / "inputs.npz", **inputs)
    return p, inputs


def rust_gradients(inp, out):
    cmd = ["cargo", "run", "--release", "-q", "-p", "credit-check", "--bin", "export-fixtures", "--",
           str(out), "--fixture", str(inp), "--rules", "bptt,eprop_symmetric", "--force"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"jax_rate.py: {' '.join(cmd)} failed: {r.stderr.strip()}")
    g = np.load(out / "gradients.npz")
    return {rule: {k.split("/", 1)[1]: g[k] for k in g.files if k.startswith(rule + "/")}
            for rule in ("bptt", "eprop_symmetric")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=11)
    a = ap.parse_args()
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        print("jax_rate.py: jax is not installed; nothing to compare (see the module doc)")
        return 0
    jax.config.update("jax_enable_x64", True)

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="credit-peer-"))
    p, inp = fixture_input(tmp / "in", a.n, a.steps, a.seed)
    rust = rust_gradients(tmp / "in", tmp / "out")

    def make_loss(detach_recurrent):
        def loss(params, x, target, mask):
            def step(carry, inp_t):
                h, y = carry
                xt, tt, mt = inp_t
                z_rec = jax.lax.stop_gradient(h) if detach_recurrent else h
                u = params["w_in"] @ xt + params["w_rec"] @ z_rec + params["b"][:, 0]  # (R1)
                h = (1 - ALPHA) * h + ALPHA * jnp.tanh(u)  # (R2), z = h (R3)
                y = KAPPA * y + (params["w_out"] @ h + params["b_out"][:, 0])  # (Y1), c = 1, delta = 0
                return (h, y), 0.5 * jnp.sum((y - tt) ** 2) * mt  # (Y2), masked
            init = (jnp.zeros(a.n), jnp.zeros(K))
            _, e = jax.lax.scan(step, init, (x, target, mask))
            return e.sum()
        return jax.jit(jax.grad(loss))

    params = {k: jnp.asarray(v) for k, v in p.items()}
    args = (jnp.asarray(inp["x"]), jnp.asarray(inp["target"]), jnp.asarray(inp["mask"]))
    worst = 0.0
    for rule, fn in (("bptt", make_loss(False)), ("eprop_symmetric", make_loss(True))):
        g = fn(params, *args)
        for name, ref in rust[rule].items():
            ours = np.asarray(g[name]).reshape(ref.shape)
            err = np.max(np.abs(ours - ref)) / np.max(np.abs(ref))
            worst = max(worst, err)
            print(f"agree {rule:16s} {name:6s} max rel err {err:.1e}")
    if worst > 1e-10:
        sys.exit(f"jax_rate.py: JAX and Rust gradients differ ({worst:.1e} > 1e-10)")

    bench = ROOT / "target" / "release" / "bench"
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "credit-check", "--bin", "bench"], cwd=ROOT, check=True)
    fns = {"bptt": make_loss(False), "eprop": make_loss(True)}
    times = {r: {"rust": [], "jax": []} for r in fns}
    for _ in range(a.rounds):
        for rule, fn in fns.items():
            out = tmp / f"{rule}.json"
            subprocess.run([str(bench), "--rule", rule, "--cell", "rate", "--n", str(a.n), "--steps", str(a.steps),
                            "--repeat", str(a.repeat), "--json", str(out)], check=True, capture_output=True)
            times[rule]["rust"].append(json.loads(out.read_text())["median_s"])
            jax.block_until_ready(fn(params, *args))  # warm (compiled once above)
            ts = []
            for _ in range(a.repeat):
                t0 = time.perf_counter()
                jax.block_until_ready(fn(params, *args))
                ts.append(time.perf_counter() - t0)
            times[rule]["jax"].append(float(np.median(ts)))
    print(f"rate n={a.n} T={a.steps} f64, {a.rounds} interleaved rounds of {a.repeat} runs, jax {jax.__version__}")
    for rule, t in times.items():
        r, j = np.median(t["rust"]), np.median(t["jax"])
        print(f"{rule:6s} rust fast {r * 1e3:8.2f} ms   jax jit(grad) {j * 1e3:8.2f} ms   rust/jax {r / j:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
