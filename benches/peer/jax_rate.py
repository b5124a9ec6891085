#!/usr/bin/env python3
"""The rate-cell JAX peer: `jax_peer.py --cell rate` (kept so that older commands still run)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import jax_peer  # noqa: E402

if __name__ == "__main__":
    sys.argv[1:1] = ["--cell", "rate"]
    sys.exit(jax_peer.main())
