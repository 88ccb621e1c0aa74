"""One capped training run of scgrn's default DeepSEM or of regdiffusion on the same planted
data, for a paired timing with ``farm-bench --vs`` (both default to 1,000 steps at this size,
so a run of ``--steps`` of them gives the ratio of the default runs' training time)::

    farm-bench -n 3 --timeout 1800 -- python benchmarks/speed_pair.py scgrn --genes 2000 --steps 100 \\
        --vs 'python benchmarks/speed_pair.py regdiffusion --genes 2000 --steps 100'

Data: ``datasets.planted_counts`` (10 % TFs, log-normalised CSR; regdiffusion gets it dense,
as it needs), generated in each process (about a second at 2,000 genes x 5,000 cells).
scgrn: ``tl.deepsem(adata, tfs=tfs, max_steps=steps)`` with every other default (``--n-models``
to override the ensemble rule).
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", choices=["scgrn", "regdiffusion"])
    parser.add_argument("--genes", type=int, default=2000)
    parser.add_argument("--cells", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--n-models", type=int, default=None)
    args = parser.parse_args()
    import scgrn

    adata, _ = scgrn.datasets.planted_counts(n_genes=args.genes, n_cells=args.cells, n_tfs=args.genes // 10,
                                             random_state=0)
    del adata.layers["counts"]
    if args.method == "scgrn":
        tfs = list(adata.var_names[adata.var["is_tf"]])
        extra = {} if args.n_models is None else {"n_models": args.n_models}
        scgrn.tl.deepsem(adata, tfs=tfs, max_steps=args.steps, embedding=False, show_progress_bar=False, **extra)
    else:
        import regdiffusion as rd

        trainer = rd.RegDiffusionTrainer(np.asarray(adata.X.toarray()), device="cpu", seed=0, n_steps=args.steps)
        trainer.train()


if __name__ == "__main__":
    main()
