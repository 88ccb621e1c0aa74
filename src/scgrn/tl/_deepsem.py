"""``scgrn.tl.deepsem``: the one-call DeepSEM tool."""

from __future__ import annotations

from anndata import AnnData
from scanpy import logging as logg

from .. import __version__
from .._keys import DEEPSEM, embedding_key
from ..models import DeepSEM


def deepsem(
    adata: AnnData,
    *,
    tfs=None,
    layer: str | None = None,
    preset: str = "default",
    n_models: int | None = None,
    key_added: str = DEEPSEM,
    embedding_units: str | None = None,
    random_state: int = 0,
    device: str = "auto",
    show_progress_bar: bool | None = None,
    copy: bool = False,
    **hyperparameters,
) -> AnnData | None:
    """Infer a gene regulatory network (and a cell embedding) with DeepSEM.

    DeepSEM (Shu et al., Nat. Comput. Sci. 2021) is a beta-VAE whose per-gene encoder and
    decoder MLPs are joined only through a GRN layer ``(I - W^T)`` and its inverse. An
    ensemble of independently seeded models is trained as one vectorised model and
    averaged on ``|W|``.

    Parameters
    ----------
    adata
        Cells x genes, log-normalised expression (for example after
        ``sc.pp.normalize_total`` and ``sc.pp.log1p``). Select genes first (a few hundred
        to a few thousand, e.g. :func:`scgrn.pp.select_genes`): cost grows with genes cubed.
    tfs
        Transcription factor names; edges out of other genes are set to zero in the
        stored matrix, and the list is recorded.
    layer
        Read this layer instead of ``adata.X``.
    preset
        ``"default"``: scgrn's recipe (DeepSEM with dropout augmentation, delayed sparsity,
        joint Adam, 8 members; tuned on BEELINE). ``"general"``: the paper's recipe for
        STRING / non-specific networks (alpha=100, beta=1, z-score over all values, loss on
        all entries, alternating RMSprop). ``"celltype_specific"``: the paper's recipe for
        cell-type-specific ChIP-seq networks (alpha=1, beta=0.01, z-score and loss on
        non-zero values). ``"embedding"``: for the cell embedding (the paper's embedding
        settings alpha=10, beta=1, loss on non-zero values; 10 epochs, one member), e.g.
        for ``sc.pp.neighbors(adata, use_rep="X_deepsem")``.
    n_models
        Ensemble members (``None``: the preset's).
    key_added
        Where results go (see Returns).
    embedding_units
        Units of ``obsm['X_' + key_added]``: ``"standardised"`` (the model's z-scored units)
        or ``"expression"`` (each gene rescaled by its standard deviation, so genes weigh as
        in log-expression space; better neighbour graphs on sparse data). ``None``:
        ``"expression"`` for ``preset="embedding"``, else ``"standardised"``.
    random_state
        Seed; the same seed gives the same matrix on CPU.
    device
        ``"auto"`` (CUDA, then MPS, then CPU) or a torch device string.
    show_progress_bar
        Progress bar over epochs (``None``: ``scgrn.settings.show_progress_bar``).
    copy
        Return a new AnnData instead of writing into ``adata``.
    **hyperparameters
        Any field of :class:`scgrn.models.DeepSEMConfig` (``alpha``, ``beta``, ``n_epochs``,
        ``hidden_dim``, ``lr_adj``, ...), overriding the preset.

    Returns
    -------
    ``None``, or the new AnnData if ``copy=True``. Writes

    ``adata.varp['deepsem' | key_added]``
        float32 genes x genes GRN, row = regulator, column = target; the ensemble's mean
        ``|W|`` carrying the sign of the mean ``W``.
    ``adata.obsm['X_deepsem' | 'X_' + key_added]``
        float32 cells x genes posterior mean after the GRN layer, in ``embedding_units``.
    ``adata.uns['deepsem' | key_added]``
        ``method``, ``version``, ``params`` (every hyperparameter, preset and seed),
        ``tfs`` (if given) and ``history`` (per-epoch losses, epochs x members).

    Notes
    -----
    On the CPU, training after ``sc.pp.neighbors`` or ``sc.tl.umap`` in the same process can be
    several times slower: numba's default OpenMP thread pool, once started, competes with
    torch's. Set ``os.environ["NUMBA_THREADING_LAYER"] = "workqueue"`` before importing scanpy
    to avoid it. When building a graph on the embedding, give ``sc.pp.neighbors`` a
    ``key_added`` other than ``key_added`` here (e.g. ``"neighbors_deepsem"``): scanpy
    writes its record to ``uns[key_added]`` and would replace this tool's.

    Examples
    --------
    >>> import scgrn
    >>> adata, truth = scgrn.datasets.krumsiek11()
    >>> scgrn.tl.deepsem(adata, n_models=2, n_epochs=5, show_progress_bar=False)
    >>> adata.varp["deepsem"].shape, adata.obsm["X_deepsem"].shape
    ((11, 11), (640, 11))
    >>> scgrn.get.edges(adata).head(3).columns.tolist()
    ['source', 'target', 'weight']
    """
    start = logg.info(f"running DeepSEM (preset={preset!r})")
    if embedding_units is None:
        embedding_units = "expression" if preset == "embedding" else "standardised"
    if embedding_units not in ("standardised", "expression"):
        raise ValueError(f"embedding_units must be 'standardised' or 'expression', got {embedding_units!r}.")
    if n_models is not None:
        hyperparameters["n_models"] = n_models
    model = DeepSEM(adata, layer=layer, tfs=tfs, preset=preset, **hyperparameters)
    model.train(random_state=random_state, device=device, show_progress_bar=show_progress_bar)

    adata = adata.copy() if copy else adata
    adata.varp[key_added] = model.get_grn()
    adata.obsm[embedding_key(key_added)] = model.get_latent_representation(units=embedding_units)
    record = {
        "method": "deepsem",
        "version": __version__,
        "params": {**model.params(), "layer": "X" if layer is None else layer, "embedding_units": embedding_units},
        "history": model.history,
    }
    if model.tfs is not None:
        record["tfs"] = list(model.tfs)
    adata.uns[key_added] = record
    logg.info(
        "    finished",
        time=start,
        deep=(
            f"added\n    'varp[{key_added!r}]', GRN (row = regulator, column = target)\n"
            f"    'obsm[{embedding_key(key_added)!r}]', cell embedding\n"
            f"    'uns[{key_added!r}]', parameters and training history"
        ),
    )
    return adata if copy else None
