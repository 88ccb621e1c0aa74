"""``scgrn.tl.pair_classifier``: supervised regulator -> target pair classification on time series."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from scanpy import logging as logg

from .. import __version__
from .._reference import read_reference
from .._settings import resolve_device, resolve_progress_bar
from .._validate import check_adata, check_copy, check_key, check_random_state
from ..models._pair_classifier import ARCHS, PairClassifier
from ._timeseries import series_tensor
from ._write import write_grn

__all__ = ["pair_classifier", "reference_adjacency"]

def reference_adjacency(reference: pd.DataFrame, var_names: Sequence[str], *, what: str = "reference") -> np.ndarray:
    """Boolean ``(n_vars, n_vars)`` adjacency (row = regulator) of a long-format reference network.

    Read by the shared reader :func:`scgrn._reference.read_reference`, as in
    :func:`scgrn.metrics.evaluate_grn`: columns ``source``/``target`` (or ``Gene1``/``Gene2``,
    ``regulator``/``TF``); with a 0/1 ``label`` or ``weight`` column only the rows labelled 1 are
    edges (the DREAM gold-standard format lists negatives with label 0). Self-loops are dropped;
    edges naming genes absent from ``var_names`` are dropped with a warning.

    Examples
    --------
    >>> import pandas as pd
    >>> from scgrn.tl._pair_classifier import reference_adjacency
    >>> ref = pd.DataFrame({"source": ["a", "b"], "target": ["b", "b"]})
    >>> reference_adjacency(ref, ["a", "b"]).astype(int).tolist()
    [[0, 1], [0, 0]]
    """
    ref = read_reference(reference, what=f"The {what}")
    names = pd.Index([str(v) for v in var_names])
    sources, targets = ref["source"].to_numpy(), ref["target"].to_numpy()
    i = names.get_indexer(sources)
    j = names.get_indexer(targets)
    known = (i >= 0) & (j >= 0)
    if not known.all():
        warnings.warn(
            f"{int((~known).sum())} edge(s) of the {what} name genes that are not in the data; "
            "they are ignored.",
            UserWarning,
            stacklevel=3,
        )
    adj = np.zeros((len(names), len(names)), dtype=bool)
    adj[i[known], j[known]] = True
    np.fill_diagonal(adj, False)
    return adj


def pair_classifier(
    adata: AnnData,
    *,
    train,
    arch: str = "lstm",
    key_added: str | None = None,
    series_key: str | None = "series",
    time_key: str = "time",
    layer: str | None = None,
    random_state: int = 0,
    device: str = "auto",
    show_progress_bar: bool | None = None,
    copy: bool = False,
    **hyperparameters,
) -> AnnData | None:
    """Score every ordered gene pair with a supervised time-series pair classifier.

    Haque, Kondaveeti & Schmittling ("Using Neural Networks to Identify Gene Regulatory
    Relationships"): a neural network learns, from networks whose edges are known, whether
    the time courses of an ordered pair ``(regulator, target)`` show a direct causal edge;
    it then scores all ``n (n - 1)`` ordered pairs of ``adata``. Architectures: ``"lstm"``
    (the ``T x 2`` sequence into an LSTM layer, dropout 0.2, Adam lr 0.01), ``"cnn"`` (the
    pair as a ``2 x T`` image into a LeNet-5) and ``"ae"`` (an autoencoder compresses each
    course to 3 numbers, a two-branch network classifies the pair; batch size / epochs /
    optimiser by grid search). Details, the handling of the series (replicates) and the
    normalisation: :class:`scgrn.models.PairClassifier`.

    Parameters
    ----------
    adata
        The network to score: one observation per (series, time point), with
        ``obs[series_key]`` and ``obs[time_key]``; all series with the same number of time
        points as the training data.
    train
        The training networks, a list of ``(AnnData, reference)`` pairs: each AnnData laid
        out like ``adata`` (its own genes), each reference a DataFrame of its true edges
        (``source``, ``target``). Or an already fitted :class:`scgrn.models.PairClassifier`,
        which is then used as it is.
    arch
        ``"lstm"``, ``"cnn"`` or ``"ae"``.
    key_added
        Where results go; default ``"pair_" + arch``.
    series_key, time_key
        ``obs`` columns naming the series and holding the time (``series_key=None``: one
        series).
    layer
        Read this layer instead of ``adata.X`` (in ``adata`` and in the training AnnDatas).
    random_state
        Seed; the same seed gives the same scores on CPU. ``None`` draws a fresh seed,
        recorded in ``uns``.
    device
        ``"auto"`` (CUDA, then MPS, then CPU) or a torch device string.
    show_progress_bar
        Progress bar over epochs (``None``: ``scgrn.settings.show_progress_bar``).
    copy
        Return a new AnnData instead of writing into ``adata``.
    **hyperparameters
        Any field of :class:`scgrn.models.PairClassifierConfig` (``n_epochs``,
        ``n_models``, ``normalize``, ``combine``, ``negatives``, ...).

    Returns
    -------
    ``None``, or the new AnnData if ``copy=True``. Writes

    ``adata.varp['pair_' + arch | key_added]``
        float32 genes x genes, the probability that row gene directly regulates column gene
        (row = regulator, column = target), diagonal 0.
    ``adata.uns['pair_' + arch | key_added]``
        ``method``, ``arch``, ``version``, ``params`` (every hyperparameter, the settings
        actually used and the seed), ``history`` (training loss per member and epoch; the
        autoencoder's loss), ``grid_search`` (``"ae"``: the validation score of every grid
        point), ``n_train_networks``, ``fit_seconds`` (wall) and ``fit_cpu_seconds`` (process
        CPU time) of the training.

    Examples
    --------
    >>> import scgrn
    >>> train = [scgrn.datasets.planted_time_series(n_genes=8, n_series=3, random_state=s) for s in (1, 2)]
    >>> adata, truth = scgrn.datasets.planted_time_series(n_genes=8, n_series=3, random_state=0)
    >>> scgrn.tl.pair_classifier(adata, train=train, arch="cnn", n_epochs=2, n_models=1,
    ...                          show_progress_bar=False)
    >>> adata.varp["pair_cnn"].shape, float(adata.varp["pair_cnn"][0, 0])
    ((8, 8), 0.0)
    """
    if isinstance(train, PairClassifier):
        arch = train.config.arch  # a fitted model brings its own architecture
    if arch not in ARCHS:
        raise ValueError(f"arch={arch!r} is not one of {ARCHS}.")
    # every argument is checked before the data are read, and nothing is written before the end
    check_adata(adata)
    key = check_key("key_added", f"pair_{arch}" if key_added is None else key_added)
    copy = check_copy(adata, copy)
    seed = check_random_state(random_state)
    resolve_device(device)
    show_progress_bar = resolve_progress_bar(show_progress_bar)
    start = logg.info(f"running pair classifier (arch={arch!r})")
    target = series_tensor(adata, series_key=series_key, time_key=time_key, layer=layer)

    if isinstance(train, PairClassifier):
        model = train
        if model.module is None:
            raise ValueError("train is an unfitted PairClassifier; call .train() first or pass training networks.")
        if hyperparameters:
            warnings.warn(
                f"train is a fitted PairClassifier; the hyperparameters {sorted(hyperparameters)} are ignored.",
                UserWarning,
                stacklevel=2,
            )
        arch = model.config.arch
    else:
        one_pair = isinstance(train, tuple) and len(train) == 2 and isinstance(train[0], AnnData)
        if one_pair:
            train = [train]
        try:
            pairs = list(train)
        except TypeError:
            pairs = None
        if not pairs or not all(isinstance(p, (tuple, list)) and len(p) == 2 and isinstance(p[0], AnnData) for p in pairs):
            raise TypeError(
                "train must be a non-empty list of (AnnData, reference DataFrame) pairs, e.g. "
                "[scgrn.datasets.dream4(2), scgrn.datasets.dream4(3)], or a fitted "
                "scgrn.models.PairClassifier."
            )
        networks = []
        for k, (ad_k, ref_k) in enumerate(pairs):
            # named as the user wrote it: the AnnData of the k-th pair (of the one pair given)
            what = "train[0]" if one_pair else f"train[{k}][0]"
            st = series_tensor(ad_k, series_key=series_key, time_key=time_key, layer=layer, what=what)
            if st.x.shape[1] != target.x.shape[1]:
                raise ValueError(
                    f"Training network {k} has {st.x.shape[1]} time points per series but adata has "
                    f"{target.x.shape[1]}; the classifiers need the same number of time points."
                )
            adj = reference_adjacency(ref_k, ad_k.var_names, what=f"reference of training network {k}")
            if not adj.any():
                raise ValueError(
                    f"The reference of training network {k} has no edge between its genes; "
                    "check that its gene names match that AnnData's var_names."
                )
            networks.append((st.x, adj))
        model = PairClassifier(arch, random_state=seed, device=device, **hyperparameters)
        model.train(networks, show_progress_bar=show_progress_bar)

    if target.x.shape[1] != model.n_times:
        raise ValueError(
            f"The model was trained on {model.n_times} time points per series but adata has "
            f"{target.x.shape[1]}."
        )
    grn = model.predict(target.x).astype(np.float32)
    np.fill_diagonal(grn, 0.0)
    history = {"loss": np.asarray(model.history.get("loss", []), dtype=np.float64)}
    if "autoencoder_loss" in model.history:
        history["autoencoder_loss"] = np.asarray(model.history["autoencoder_loss"], dtype=np.float64)
    record = {
        "method": "pair_classifier",
        "arch": arch,
        "version": __version__,
        "params": {
            **_h5ad_safe(model.params()),
            "series_key": "" if series_key is None else series_key,
            "time_key": time_key,
            "layer": "X" if layer is None else layer,
        },
        "history": history,
        "n_train_networks": int(model.n_train_networks),
        "fit_seconds": float(model.training_time_s),
        "fit_cpu_seconds": float(model.training_cpu_time_s),
    }
    if model.grid_results:
        grid = pd.DataFrame(model.grid_results)
        record["grid_search"] = {c: grid[c].to_numpy() for c in grid.columns}
    return write_grn(adata, grn, record, key_added=key, copy=copy, start=start,
                     note="edge probabilities (row = regulator, column = target)",
                     record_note="parameters and training history")


def _h5ad_safe(d: dict) -> dict:
    """Drop ``None`` values and turn lists into arrays so the record writes to h5ad."""
    out = {}
    for k, v in d.items():
        if v is None:
            continue
        if isinstance(v, dict):
            out[k] = _h5ad_safe(v)
        elif isinstance(v, (list, tuple)):
            out[k] = np.asarray(v)
        else:
            out[k] = v
    return out
