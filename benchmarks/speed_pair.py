"""One capped training run of scgrn's default DeepSEM or of regdiffusion on the same planted
data, for a paired timing with ``farm-bench --vs`` (both default to 1,000 steps at this size,
so a run of ``--steps`` of them gives the ratio of the default runs' training time)::

    farm-bench -n 3 --timeout 1800 -- python benchmarks/speed_pair.py scgrn --genes 2000 --steps 100 \\
        --vs 'python benchmarks/speed_pair.py regdiffusion --genes 2000 --steps 100'

Data: ``datasets.planted_counts`` (10 % TFs, log-normalised CSR; regdiffusion gets it dense,
as it needs), generated in each process (about a second at 2,000 genes x 5,000 cells); or, with
``--dataset``, a shared BEELINE set (``SCGRN_DATA_DIR``; scgrn given the union of its ground
truths' TF lists, as ``beeline.py`` does). scgrn: ``tl.deepsem(adata, tfs=tfs, max_steps=steps)``
with every other default (``--n-models`` to override the ensemble rule); ``--steps 0`` runs both
methods' full default runs (scgrn's cell embedding included)::

    farm-bench -n 3 --timeout 3000 --vs 'python benchmarks/speed_pair.py regdiffusion --dataset mHSC-L-1000 --steps 0' \
        -- python benchmarks/speed_pair.py scgrn --dataset mHSC-L-1000 --steps 0
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", choices=["scgrn", "regdiffusion"])
    parser.add_argument("--genes", type=int, default=2000)
    parser.add_argument("--cells", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--n-models", type=int, default=None)
    parser.add_argument("--dataset", default=None, help="a BEELINE set of peers.DATASETS instead of planted counts")
    args = parser.parse_args()
    adata, is_tf = _data(args)
    full = args.steps == 0
    if args.method == "scgrn":
        import scgrn

        extra = {} if args.n_models is None else {"n_models": args.n_models}
        if not full:
            extra.update(max_steps=args.steps, embedding=False)
        scgrn.tl.deepsem(adata, tfs=list(adata.var_names[is_tf]), show_progress_bar=False, **extra)
    else:
        import regdiffusion as rd

        x = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
        steps = {} if full else {"n_steps": args.steps}
        trainer = rd.RegDiffusionTrainer(x.astype(np.float32), device="cpu", seed=0, **steps)
        trainer.train()


def _data(args):
    """``(adata, is_tf)``: planted counts, or the BEELINE set with every ground truth's TFs."""
    import scgrn

    sys.path.insert(0, str(Path(__file__).parent))
    if args.dataset is None:
        from scale import _data as planted

        adata, _, _ = planted(args.genes, args.cells)
        return adata, adata.var["is_tf"].to_numpy()
    import peers

    cell_type, n_genes, ground_truths = peers.DATASETS[args.dataset]
    loaded = [scgrn.datasets.beeline(cell_type, n_genes=n_genes, ground_truth=gt)[0] for gt in ground_truths]
    return loaded[0], np.any([a.var["is_tf"].to_numpy() for a in loaded], axis=0)


if __name__ == "__main__":
    main()
