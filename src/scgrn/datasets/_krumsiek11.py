"""scanpy's bundled krumsiek11 simulation together with its true 11-gene network."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

__all__ = ["krumsiek11"]


def _model_file() -> Path:
    import scanpy

    path = Path(scanpy.__file__).parent / "sim_models" / "krumsiek11.txt"
    if not path.is_file():
        raise FileNotFoundError(
            f"scanpy's krumsiek11 model file {str(path)!r} was not found; this scanpy install "
            "does not ship sim_models/. Reinstall scanpy (`pip install --force-reinstall scanpy`)."
        )
    return path


def _parse_model(path: Path | None = None) -> tuple[dict[str, set[str]], pd.DataFrame]:
    """Parse scanpy's ``krumsiek11.txt``.

    Returns the boolean update rules as ``{target: {regulators named in its rule}}`` and the
    coupling list as a DataFrame ``source, target, weight`` (self-loops kept). In the file's
    coupling list each line is ``TARGET REGULATOR WEIGHT``.
    """
    text = (path or _model_file()).read_text().splitlines()
    rules: dict[str, set[str]] = {}
    couplings = []
    section = None
    for line in text:
        s = line.strip()
        if s.startswith("#"):
            low = s.lower()
            if "boolean update rules" in low:
                section = "rules"
            elif "coupling list" in low:
                section = "coupling"
            continue
        if not s:
            continue
        if section == "rules" and "=" in s:
            lhs, rhs = s.split("=", 1)
            tokens = re.findall(r"[A-Za-z_][\w.]*", rhs)
            rules[lhs.strip()] = {t for t in tokens if t not in ("and", "or", "not")}
        elif section == "coupling":
            target, regulator, weight = s.split()
            couplings.append((regulator, target, float(weight)))
    coupling = pd.DataFrame(couplings, columns=["source", "target", "weight"])
    return rules, coupling


def krumsiek11() -> tuple[ad.AnnData, pd.DataFrame]:
    """Myeloid differentiation simulated from Krumsiek et al. (2011), with its true network.

    The data are scanpy's bundled :func:`scanpy.datasets.krumsiek11` (640 cells x 11 genes,
    ``obs['cell_type']``: progenitor, Mo, Ery, Mk, Neu); the network is parsed from the model
    file scanpy simulated it with (``scanpy/sim_models/krumsiek11.txt``). In that file's
    coupling list a line ``Fog1 Gata1 0.1`` means Gata1 regulates Fog1 (its boolean rule reads
    ``Fog1 = Gata1``).

    Returns
    -------
    adata
        640 x 11, ``X`` float32, obs names made unique (scanpy's copy repeats them);
        scanpy's ``uns['highlights']`` (int keys, not h5ad-writable) is dropped.
        ``adata.var['is_tf']``: gene regulates another gene (all 11 do).
        ``adata.uns['dataset']``: ``name``, ``source``.
    network
        26 directed edges, columns ``source`` (regulator), ``target``, ``weight`` (the coupling
        strength) and ``sign`` (+1 activation, -1 repression); self-loops dropped.

    Examples
    --------
    >>> from scgrn.datasets import krumsiek11
    >>> adata, net = krumsiek11()
    >>> adata.shape, len(net)
    ((640, 11), 26)
    >>> net.query("source == 'Gata1' and target == 'Fog1'")[["weight", "sign"]].values.tolist()
    [[0.1, 1.0]]
    """
    import scanpy as sc

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*names are not unique.*")
        adata = sc.datasets.krumsiek11()
    adata.obs_names_make_unique()
    # scanpy's uns['highlights'] maps int cell positions to labels: int keys cannot be written
    # to h5ad, and string keys would break sc.pl.scatter, so it is dropped.
    adata.uns.pop("highlights", None)
    if adata.X.dtype != np.float32:
        adata.X = adata.X.astype(np.float32)
    _, coupling = _parse_model()
    net = coupling[coupling["source"] != coupling["target"]].reset_index(drop=True)
    net["sign"] = np.sign(net["weight"]).astype(np.int64)
    missing = (set(net["source"]) | set(net["target"])) - set(adata.var_names)
    if missing:  # pragma: no cover - would mean scanpy changed its data
        raise RuntimeError(f"krumsiek11 network genes {sorted(missing)} are not in the data.")
    adata.var["is_tf"] = adata.var_names.isin(set(net["source"]))
    adata.uns["dataset"] = {
        "name": "krumsiek11",
        "source": "Krumsiek et al. 2011, PLoS ONE 6:e22649; simulated by scanpy "
        "(sc.datasets.krumsiek11, sim_models/krumsiek11.txt)",
    }
    return adata, net
