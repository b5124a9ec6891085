"""Check a hand-written NumPy BPTT against a credit fixture (docs/fixtures.md).

Usage: python3 numpy_bptt_rate.py FIXTURE_DIR OUT_DIR
then:  cargo xtask compare-fixture FIXTURE_DIR OUT_DIR

FIXTURE_DIR is a `rate` fixture written by `cargo xtask export-fixtures`, e.g.
fixtures/rate-paper-n5-t20. OUT_DIR receives this implementation's loss, outputs and
gradients in the fixture layout.
"""
import json
import os
import sys

import numpy as np


def bptt_rate(cfg, p, x, target, mask):
    """Leaky rate RNN, leaky readout, masked squared error; BPTT by hand."""
    a, kappa = cfg["cell"]["alpha"], cfg["readout"]["kappa"]
    assert cfg["cell"]["kind"] == "rate" and cfg["loss"] == "mse" and cfg["reg"] is None
    assert cfg["readout"]["scale"] == "one" and cfg["readout"]["delay"] == "same"
    T, n = x.shape[0], p["w_rec"].shape[0]
    h = np.zeros((T + 1, n))          # h[0] = 0
    u = np.zeros((T + 1, n))
    y = np.zeros((T + 1, p["w_out"].shape[0]))
    for t in range(1, T + 1):         # recurrent input uses z^{t-1} = h^{t-1}, input x^t
        u[t] = p["w_rec"] @ h[t - 1] + p["w_in"] @ x[t - 1] + p["b"][:, 0]
        h[t] = (1 - a) * h[t - 1] + a * np.tanh(u[t])
        y[t] = kappa * y[t - 1] + p["w_out"] @ h[t] + p["b_out"][:, 0]
    err = (y[1:] - target) * mask[:, None]
    loss = 0.5 * np.sum(mask[:, None] * (y[1:] - target) ** 2)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    y_bar = np.zeros(y.shape[1])
    lam_next = np.zeros(n)            # dE/dh^{t+1}
    for t in range(T, 0, -1):
        y_bar = err[t - 1] + kappa * y_bar
        g["w_out"] += np.outer(y_bar, h[t])
        g["b_out"][:, 0] += y_bar
        gp_next = a * (1 - np.tanh(u[t + 1]) ** 2) if t < T else np.zeros(n)
        lam = p["w_out"].T @ y_bar + (1 - a) * lam_next + p["w_rec"].T @ (gp_next * lam_next)
        gp = a * (1 - np.tanh(u[t]) ** 2) * lam
        g["w_in"] += np.outer(gp, x[t - 1])
        g["w_rec"] += np.outer(gp, h[t - 1])
        g["b"][:, 0] += gp
        lam_next = lam
    return loss, h, y, g


def main(fixture, out):
    cfg = json.load(open(os.path.join(fixture, "config.json")))
    inp = np.load(os.path.join(fixture, "inputs.npz"))
    p = {k.split("/", 1)[1]: inp[k] for k in inp.files if k.startswith("params/")}
    loss, h, y, g = bptt_rate(cfg, p, inp["x"], inp["target"], inp["mask"])
    os.makedirs(out, exist_ok=True)
    np.savez(os.path.join(out, "intermediates.npz"), loss=np.array(loss), z=h, y=y)
    np.savez(os.path.join(out, "gradients.npz"), **{f"bptt/{k}": v for k, v in g.items()})
    # the same numbers, checked here too, for readers without cargo at hand
    ref = np.load(os.path.join(fixture, "gradients.npz"))
    worst = max(np.abs(g[k] - ref[f"bptt/{k}"]).max() / np.abs(ref[f"bptt/{k}"]).max() for k in g)
    print(f"max relative error against the fixture's BPTT: {worst:.2e}")
    return 0 if worst < 1e-10 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
