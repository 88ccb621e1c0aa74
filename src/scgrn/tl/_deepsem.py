"""``scgrn.tl.deepsem``: the one-call DeepSEM tool."""

from __future__ import annotations

from anndata import AnnData
from scanpy import logging as logg

from .. import __version__
from .._keys import DEEPSEM, embedding_key
from .._settings import resolve_device, resolve_progress_bar
from .._validate import check_adata, check_choice, check_copy, check_int, check_key, check_random_state
from ..models import DeepSEM
from ._groups import groupable
from ._write import write_grn

#: ``grn_format="auto"`` stores a dense genes x genes GRN up to this many genes (100 MB), sparse above
DENSE_GRN_MAX_GENES = 5000
#: ``embedding="auto"`` writes the cells x genes embedding up to this many entries (100 MB)
EMBEDDING_MAX_ENTRIES = 25_000_000


@groupable
def deepsem(
    adata: AnnData,
    *,
    tfs=None,
    layer: str | None = None,
    preset: str = "default",
    n_models: int | None = None,
    key_added: str = DEEPSEM,
    tf_rows_only: bool | str = "auto",
    grn_format: str = "auto",
    edges_per_target: int | None = None,
    embedding: bool | str = "auto",
    embedding_units: str | None = None,
    max_memory=None,
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
        ``sc.pp.normalize_total`` and ``sc.pp.log1p``), dense, sparse (CSR/CSC) or backed
        (``sc.read_h5ad(path, backed="r")``); it is read a mini-batch at a time and never
        densified. Give ``tfs`` for more than a few thousand genes: with TFs, time grows
        with batch x TFs x genes and memory with TFs x genes; without, with genes^3 and
        genes^2.
    tfs
        Transcription factor names: only they regulate (see ``tf_rows_only``); the list is
        recorded. A boolean mask over ``adata.var_names`` (e.g. ``adata.var['is_tf']``) selects
        the genes where it is ``True``.
    layer
        Read this layer instead of ``adata.X``.
    preset
        ``"default"``: scgrn's recipe (DeepSEM with dropout augmentation when at least 1 % of
        the entries are zero, delayed sparsity, joint Adam, 8 members; tuned on BEELINE). ``"general"``: the paper's recipe for
        STRING / non-specific networks (alpha=100, beta=1, z-score over all values, loss on
        all entries, alternating RMSprop). ``"celltype_specific"``: the paper's recipe for
        cell-type-specific ChIP-seq networks (alpha=1, beta=0.01, z-score and loss on
        non-zero values). ``"embedding"``: for the cell embedding (the paper's embedding
        settings alpha=10, beta=1, loss on non-zero values; 10 epochs, 4 members averaged), e.g.
        for ``sc.pp.neighbors(adata, use_rep="X_deepsem")``.
    n_models
        Ensemble members (``None``: the preset's, 8 by default; large models train fewer,
        down to 4: a TF-rows model of more than 2 x 10^7 ``W`` entries a member, so that
        members x TFs x genes stays within 1.6 x 10^8 (4 at 20,000 genes x 2,000 TFs), and
        a genes x genes model above 1,500 genes, so that members x genes^3 stays within
        8 x 1,500^3 (4 at 2,000 genes). Four members score about 1 % lower EPR than 8 on
        planted networks, at half the time).
    key_added
        Where results go (see Returns).
    tf_rows_only
        With ``tfs``: ``True`` learns only the TF rows of ``W`` (the scalable model);
        ``False`` the genes x genes model with non-TF rows zeroed afterwards (the more
        accurate one on BEELINE); ``"auto"``: genes x genes up to 2,000 genes, TF rows above
        (see :class:`scgrn.models.DeepSEM`).
    grn_format
        ``"dense"``: a genes x genes float32 array. ``"sparse"``: a ``scipy.sparse`` CSR
        matrix storing only the regulators' rows (a dense 20,000-gene GRN is 1.6 GB).
        ``"auto"``: dense up to :data:`DENSE_GRN_MAX_GENES` genes, sparse above.
    edges_per_target
        With a sparse GRN, keep only this many largest ``|weight|`` edges into each target.
    embedding
        Write the cell embedding ``obsm['X_' + key_added]`` (cells x genes, dense).
        ``"auto"``: only when it has at most :data:`EMBEDDING_MAX_ENTRIES` entries (it would
        otherwise outgrow a sparse input); ``True`` forces it. When it is not written, an
        ``obsm['X_' + key_added]`` left by an earlier run with the same key is removed.
    embedding_units
        Units of ``obsm['X_' + key_added]``: ``"standardised"`` (the model's z-scored units)
        or ``"expression"`` (each gene rescaled by its standard deviation, so genes weigh as
        in log-expression space; better neighbour graphs on sparse data). ``None``:
        ``"expression"`` for ``preset="embedding"``, else ``"standardised"``.
    max_memory
        Memory budget for training (bytes or e.g. ``"8GB"``; ``None``: 70 % of the free
        memory). Members train together when they fit, in groups when not; a request that
        cannot fit raises :class:`scgrn.models.DoesNotFitError` before training.
    random_state
        Seed; the same seed gives the same matrix on CPU. ``None`` draws a fresh seed, recorded
        in ``uns[key_added]['params']['random_state']``.
    device
        ``"auto"`` (CUDA, then MPS, then CPU) or a torch device string.
    show_progress_bar
        Progress bar over the optimiser steps with ETA (``None``:
        ``scgrn.settings.show_progress_bar``).
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
        ``|W|`` carrying the sign of the mean ``W``. A dense array, or a
        ``scipy.sparse.csr_matrix`` (``grn_format``) whose unstored entries are no edge.
    ``adata.obsm['X_deepsem' | 'X_' + key_added]``
        float32 cells x genes posterior mean after the GRN layer, in ``embedding_units``
        (when ``embedding`` allows it).
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
    # every argument is checked before the data are read, and nothing is written before the end
    check_adata(adata)
    key_added = check_key("key_added", key_added)
    copy = check_copy(adata, copy)
    seed = check_random_state(random_state)
    show_progress_bar = resolve_progress_bar(show_progress_bar)
    resolve_device(device)  # an unknown or absent device fails now, not after reading the data
    if embedding_units is None:
        embedding_units = "expression" if preset == "embedding" else "standardised"
    embedding_units = check_choice("embedding_units", embedding_units, ("standardised", "expression"))
    grn_format = check_choice("grn_format", grn_format, ("auto", "dense", "sparse"))
    embedding = check_choice("embedding", embedding, ("auto", True, False))
    edges_per_target = check_int("edges_per_target", edges_per_target, min=1, allow_none=True)
    if n_models is not None:
        hyperparameters["n_models"] = n_models  # checked with the other hyperparameters
    start = logg.info(f"running DeepSEM (preset={preset!r})")
    model = DeepSEM(adata, layer=layer, tfs=tfs, tf_rows_only=tf_rows_only, preset=preset, **hyperparameters)
    model._watch_for_changes = False  # nothing can change adata between building and training here
    sparse_grn = grn_format == "sparse" or (grn_format == "auto" and adata.n_vars > DENSE_GRN_MAX_GENES)
    if edges_per_target is not None and not sparse_grn:
        raise ValueError("edges_per_target applies to a sparse GRN: pass grn_format='sparse' as well.")
    with_embedding = embedding is True or (embedding == "auto" and adata.n_obs * adata.n_vars <= EMBEDDING_MAX_ENTRIES)
    model.train(random_state=seed, device=device, show_progress_bar=show_progress_bar, max_memory=max_memory)

    grn = model.get_grn(sparse=sparse_grn, edges_per_target=edges_per_target)
    latent = model.get_latent_representation(units=embedding_units) if with_embedding else None
    record = {
        "method": "deepsem",
        "version": __version__,
        "params": {
            **model.params(),
            "layer": "X" if layer is None else layer,
            "embedding_units": embedding_units,
            "grn_format": "sparse" if sparse_grn else "dense",
            **({"edges_per_target": int(edges_per_target)} if edges_per_target is not None else {}),
        },
        "history": model.history,
    }
    if model.tfs is not None:
        record["tfs"] = list(model.tfs)

    also, remove = {}, []
    if with_embedding:
        also[("obsm", embedding_key(key_added))] = (latent, "cell embedding")
    else:
        remove.append(("obsm", embedding_key(key_added)))  # never leave a stale one from an earlier run
        logg.info(
            f"    no embedding: {adata.n_obs} x {adata.n_vars} dense would exceed {EMBEDDING_MAX_ENTRIES:.0e} "
            "entries; pass embedding=True to write it anyway"
        )
    return write_grn(adata, grn, record, key_added=key_added, copy=copy, start=start, also=also, remove=remove,
                     record_note="parameters and training history")
