"""How real do simulated cells look? Realism AUC and a copy / closeness check."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse

from .._params import ParameterTypeError, check_choice, check_int, check_random_state
from .._matrix import is_backed
from .._validate import _fmt_names, _get_matrix, check_real_dtype, looks_like_counts

__all__ = ["realism_auc", "simulation_closeness"]


def _matrix(data, layer: str | None = None, what: str = "the matrix") -> np.ndarray:
    """Dense float64 cells x genes from an AnnData (``X`` or ``layer``; backed too) or an array.

    Examples
    --------
    >>> _matrix(sparse.csr_matrix(np.eye(2, dtype=np.float32))).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    if isinstance(data, (list, tuple)) and any(hasattr(d, "shape") for d in data):
        raise ParameterTypeError(
            f"{what} must be one AnnData or a cells x genes array, got a {type(data).__name__} of "
            f"{len(data)} items. Pass one set at a time (or concatenate them, e.g. `anndata.concat(...)`)."
        )
    if hasattr(data, "obs") and hasattr(data, "var"):
        where = f"{what}.layers[{layer!r}]" if layer is not None else f"{what}.X"
        try:
            data = _get_matrix(data, layer, what)
        except ValueError as e:  # a missing layer; simulated cells hold only X
            if layer is not None and "simulated" in what and layer not in data.layers:
                raise ValueError(
                    f"{e} Cells simulated by scgrn (tl.simulate, tl.simulate_baseline) hold only X: pass "
                    "layer=None to compare X with X, or add the layer to the simulated AnnData."
                ) from None
            raise
    else:
        where = what
    check_real_dtype(data, where)
    if is_backed(data):  # an h5ad opened with backed="r": read it whole (it is densified below anyway)
        data = data.to_memory() if hasattr(data, "to_memory") else data[()]
    if sparse.issparse(data):
        data = data.toarray()
    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{where} must be a cells x genes matrix, got shape {x.shape}.")
    if not np.isfinite(x).all():
        raise ValueError(f"{where} has NaN or infinite values; remove or impute them first.")
    return x


def simulated_sets(simulated, what: str = "simulated") -> tuple[dict, bool]:
    """``({name: data}, many)``: ``simulated`` as a mapping of simulated sets (``many``: it was one).

    One AnnData or array becomes ``{"simulated": data}``. An empty mapping, and a list or tuple
    (a natural guess for several sets, which have no names then), raise naming ``what`` and the fix.

    Examples
    --------
    >>> simulated_sets(np.zeros((2, 2)))[0].keys(), simulated_sets({"a": np.zeros((2, 2))})[1]
    (dict_keys(['simulated']), True)
    >>> simulated_sets([np.zeros((2, 2)), np.ones((2, 2))])
    Traceback (most recent call last):
    ...
    scgrn._params.ParameterTypeError: simulated is a list of 2 items; several simulated sets must be named: pass a dict {name: AnnData}, e.g. simulated={'sim1': sims[0], 'sim2': sims[1]}.
    """
    if isinstance(simulated, Mapping):
        if len(simulated) == 0:
            raise ValueError(
                f"{what} is empty: pass the simulated cells as an AnnData (or a cells x genes array), "
                "or {name: AnnData} for several simulated sets."
            )
        return dict(simulated), True
    if isinstance(simulated, (list, tuple)) and (
        len(simulated) == 0 or any(hasattr(s, "shape") for s in simulated)
    ):
        raise ParameterTypeError(
            f"{what} is a {type(simulated).__name__} of {len(simulated)} items; several simulated sets "
            "must be named: pass a dict {name: AnnData}, e.g. "
            f"{what}={{'sim1': sims[0], 'sim2': sims[1]}}."
        )
    return {"simulated": simulated}, False


def _aligned(
    datas: Sequence, what: Sequence[str], layer: str | None = None
) -> tuple[list[np.ndarray], pd.Index | None]:
    """Dense float64 cells x genes matrices with their genes in one order, and those genes.

    AnnData inputs are matched **by name**: the genes of each are put in the order of the first
    AnnData's ``var_names`` (the same set in another order is fine); different genes raise a
    ``ValueError`` naming them. Arrays have no gene names and are taken as given (same number of
    genes, in the same order). ``what`` names each input for the messages.

    Examples
    --------
    >>> import anndata as ad
    >>> a = ad.AnnData(np.array([[1.0, 2.0]]), var=pd.DataFrame(index=["g1", "g2"]))
    >>> b = ad.AnnData(np.array([[2.0, 1.0]]), var=pd.DataFrame(index=["g2", "g1"]))
    >>> mats, names = _aligned([a, b], ["real", "simulated"])
    >>> mats[1].tolist(), names.tolist()
    ([[1.0, 2.0]], ['g1', 'g2'])
    """
    mats = [_matrix(d, layer, w) for d, w in zip(datas, what)]
    named = [(w, pd.Index(d.var_names)) for w, d in zip(what, datas) if isinstance(d, AnnData)]
    if not named:
        return mats, None
    for w, names in named:
        if not names.is_unique:
            raise ValueError(
                f"{w}.var_names has duplicated genes ({_fmt_names(list(names[names.duplicated()].unique()))}), "
                f"so its genes cannot be matched by name. Fix: `{w}.var_names_make_unique()`."
            )
    first, ref = named[0]
    for w, names in named[1:]:
        if names.equals(ref):
            continue
        only_ref, only_here = ref.difference(names), names.difference(ref)
        if len(only_ref) or len(only_here):
            raise ValueError(
                f"{first} and {w} must have the same genes (var_names), matched by name: "
                f"{len(only_ref)} gene(s) of {first} are not in {w} ({_fmt_names(list(only_ref)) or 'none'}) "
                f"and {len(only_here)} gene(s) of {w} are not in {first} ({_fmt_names(list(only_here)) or 'none'}). "
                f"Subset both to the shared genes, e.g. `{w} = {w}[:, {first}.var_names.intersection({w}.var_names)]`."
            )
    out = []
    for m, d in zip(mats, datas):
        if isinstance(d, AnnData) and not pd.Index(d.var_names).equals(ref):
            m = m[:, pd.Index(d.var_names).get_indexer(ref)]  # the first AnnData's gene order
        out.append(m)
    return out, ref


def _check_log1p(log1p) -> str | bool:
    return check_choice("log1p", log1p, ("auto", True, False))


def _comparable(mats: list[np.ndarray], log1p: str | bool) -> list[np.ndarray]:
    """Put matrices on one log-normalised scale: counts (``log1p="auto"`` and all look like
    counts, or ``True``) are normalised to the median library size of the first, then log1p."""
    shapes = {m.shape[1] for m in mats}
    if len(shapes) != 1:
        raise ValueError(f"the matrices have different numbers of genes: {sorted(shapes)}.")
    if log1p == "auto":  # all non-negative integers, one at least looking like counts
        log1p = any(looks_like_counts(m) for m in mats) and all(
            (m >= 0).all() and np.all(m == np.round(m)) for m in mats
        )
    if not log1p:
        return mats
    lib0 = mats[0].sum(1)
    target = float(np.median(lib0[lib0 > 0])) if (lib0 > 0).any() else 1.0
    out = []
    for m in mats:
        lib = m.sum(1, keepdims=True)
        out.append(np.log1p(m / np.where(lib > 0, lib, 1.0) * target))
    return out


def realism_auc(
    real: AnnData | np.ndarray | sparse.spmatrix,
    simulated: AnnData | np.ndarray | sparse.spmatrix,
    *,
    n_pcs: int = 50,
    n_trees: int = 100,
    n_folds: int = 5,
    layer: str | None = None,
    log1p: str | bool = "auto",
    random_state: int = 0,
    n_jobs: int = 1,
) -> float:
    """Cross-validated ROC AUC of a random forest telling real from simulated cells.

    The measure of scGAN / cscGAN (Marouf et al. 2020) and DeepSEM (Shu et al. 2021):
    both sets are put on one log-normalised scale (raw counts, detected when every value
    is a non-negative integer and the maximum exceeds 30, are normalised to the real
    cells' median library size and log1p-transformed), reduced to their first ``n_pcs``
    principal components (fitted on the union, without labels), and a random forest is
    scored by stratified ``n_folds``-fold cross-validation. 0.5 means indistinguishable,
    1.0 perfectly separable. Compare equal numbers of real and simulated cells, and report
    a positive control: real held-out cells against real training cells of the same size.

    **Values below 0.5 are not "better than real".** Chance alone gives values somewhat
    below 0.5 on small samples. Far below 0.5 (near 0) happens when simulated cells are
    copies, or near-copies, of real cells: in cross-validation each cell's twin sits in the
    training folds with the opposite label, so the forest confidently predicts the wrong
    class. An AUC well below 0.5 therefore means the simulator reproduces (memorises) its
    training cells (or, for two real sets, that they share near-identical cells, as the
    steady states of krumsiek11 do); a ``UserWarning`` says so when the AUC is below
    ``0.5 - max(0.2, 5 * se)`` (``se`` the standard error of an AUC of indistinguishable
    sets, e.g. 0.3 for 640 + 640 cells). Check with :func:`simulation_closeness`, and compute
    the AUC against real cells the simulator never saw.

    Parameters
    ----------
    real, simulated
        Cells x genes: AnnData (using ``X`` or ``layer``), whose genes are matched by
        ``var_names`` (any order; different genes raise a ``ValueError`` naming them), or
        arrays with the same genes in the same order.
    n_pcs
        Principal components (capped at cells - 1 and genes).
    n_trees
        Trees of the random forest.
    n_folds
        Cross-validation folds, at least 2 (capped at the smaller class size).
    layer
        Layer of AnnData inputs.
    log1p
        ``"auto"``, ``True`` (normalise and log1p) or ``False`` (use as given).
    random_state
        Seed of PCA, folds and forest (an integer, ``None`` for a fresh one, or a numpy
        ``Generator`` / ``RandomState``).
    n_jobs
        Parallel jobs of the forest.

    Returns
    -------
    Mean ROC AUC over the folds.

    Warns
    -----
    UserWarning
        When the AUC is far below 0.5 (see above), with the share of simulated cells that
        are exact copies of real cells.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(100, 20)), rng.normal(size=(100, 20))
    >>> 0.3 < realism_auc(a, b, n_pcs=5, n_trees=50) < 0.7
    True
    >>> realism_auc(a, b + 3, n_pcs=5, n_trees=50)
    1.0
    """
    from sklearn.decomposition import PCA
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    n_pcs = check_int("n_pcs", n_pcs, min=1)
    n_trees = check_int("n_trees", n_trees, min=1)
    n_folds = check_int("n_folds", n_folds, min=2)
    n_jobs = check_int("n_jobs", n_jobs, allow_none=True)
    random_state = check_random_state(random_state)
    log1p = _check_log1p(log1p)
    mats, _ = _aligned([real, simulated], ["real", "simulated"], layer)
    r, s = _comparable(mats, log1p)
    if min(len(r), len(s)) < 2:
        raise ValueError("realism_auc needs at least 2 real and 2 simulated cells.")
    x = np.vstack([r, s])
    y = np.r_[np.zeros(len(r), dtype=int), np.ones(len(s), dtype=int)]
    k = int(min(n_pcs, x.shape[0] - 1, x.shape[1]))
    pcs = PCA(n_components=k, random_state=random_state).fit_transform(x) if k < x.shape[1] else x
    folds = int(min(n_folds, len(r), len(s)))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    aucs = []
    for train, test in cv.split(pcs, y):
        clf = RandomForestClassifier(n_estimators=n_trees, random_state=random_state, n_jobs=n_jobs)
        clf.fit(pcs[train], y[train])
        aucs.append(roc_auc_score(y[test], clf.predict_proba(pcs[test])[:, 1]))
    auc = float(np.mean(aucs))
    _warn_if_copies(auc, mats[0], mats[1])
    return auc


def low_auc_threshold(n_real: int, n_simulated: int) -> float:
    """The realism AUC below which simulated cells look like copies of real ones:
    ``0.5 - max(0.2, 5 * se)``, ``se`` the standard error of the AUC (Mann-Whitney) of two
    indistinguishable sets of these sizes.

    Examples
    --------
    >>> round(low_auc_threshold(640, 640), 3), round(low_auc_threshold(30, 30), 3)
    (0.3, 0.124)
    """
    se = np.sqrt((n_real + n_simulated + 1) / (12.0 * n_real * n_simulated))
    return float(0.5 - max(0.2, 5.0 * se))


def _warn_if_copies(auc: float, real: np.ndarray, simulated: np.ndarray) -> None:
    """Warn when the AUC is far below 0.5: the signature of simulated cells that copy real ones."""
    threshold = low_auc_threshold(len(real), len(simulated))
    if auc >= threshold:
        return
    copies = copy_fraction(real, simulated)
    warnings.warn(
        f"realism AUC {auc:.3f} is far below 0.5 (below {threshold:.3f}, far lower than chance gives for "
        f"{len(real)} + {len(simulated)} cells); {copies:.0%} of the simulated cells are exact copies "
        "of real cells. An AUC near 0 does not mean 'more real than real': simulated cells that copy "
        "(or nearly copy) real cells have their twin in the training folds with the opposite label, "
        "so the classifier is confidently wrong. The simulator reproduces its training cells (or the "
        "two sets share near-identical cells); check with scgrn.metrics.simulation_closeness, and "
        "compare against real cells the simulator never saw.",
        UserWarning,
        stacklevel=3,
    )


def _row_set(x: np.ndarray) -> set[bytes]:
    """The rows of ``x`` as a set of byte strings (for exact-copy lookups)."""
    return {row.tobytes() for row in np.ascontiguousarray(x)}


def copy_fraction(reference: np.ndarray | set, query: np.ndarray) -> float:
    """Share of the rows (cells) of ``query`` equal, in every value, to some row of ``reference``.

    The exact-copy check shared by :func:`realism_auc` (its warning on copied cells) and
    :func:`simulation_closeness` (``identical_fraction``, ``heldout_identical_fraction`` and its
    warning on held-out cells that are training cells).

    ``reference`` may be given as its :func:`_row_set`, to look several queries up in one set.

    Examples
    --------
    >>> copy_fraction(np.eye(3), np.array([[1.0, 0, 0], [2.0, 0, 0]]))
    0.5
    """
    seen = reference if isinstance(reference, set) else _row_set(reference)
    query = np.ascontiguousarray(query)
    return float(np.mean([row.tobytes() in seen for row in query])) if len(query) else 0.0


def _repeated_fraction(x: np.ndarray) -> float:
    """Share of the rows of ``x`` equal to another row of ``x`` (duplicates the data carry).

    Examples
    --------
    >>> _repeated_fraction(np.array([[0.0, 1], [0.0, 1], [2.0, 2], [3.0, 3]]))
    0.5
    """
    _, inverse, counts = np.unique(x, axis=0, return_inverse=True, return_counts=True)
    return float(np.mean(counts[np.ravel(inverse)] > 1)) if len(x) else 0.0


def _warn_if_heldout_is_train(shared: float, train: np.ndarray, heldout: np.ndarray) -> None:
    """Warn when more held-out cells are exact copies of training cells than the duplicates
    within ``train`` explain (``heldout`` was, or overlaps, the training cells)."""
    if not len(heldout) or shared <= 0.1:  # the margin below is at least 0.1
        return
    floor = _repeated_fraction(train)
    margin = max(0.1, 3.0 * np.sqrt(floor * (1.0 - floor) / len(heldout)))
    if shared <= floor + margin:
        return
    n_shared = int(round(shared * len(heldout)))
    warnings.warn(
        f"heldout shares {n_shared} of its {len(heldout)} cells with train (exact copies of training "
        f"cells; {floor:.0%} of the training cells repeat within train): held-out cells must be cells the "
        "simulator never saw, so nn_heldout, ratio and closer_than_heldout_p5 compare the simulated cells "
        "with the training cells themselves (a ratio >= 1 then says nothing). Hold cells out before "
        "training or simulating, e.g. train on adata[:n] and pass adata[n:] as heldout, or "
        "`keep = np.random.default_rng(0).random(adata.n_obs) < 0.8; train, heldout = adata[keep], "
        "adata[~keep]`.",
        UserWarning,
        stacklevel=3,
    )


def simulation_closeness(
    train: AnnData | np.ndarray | sparse.spmatrix,
    simulated: AnnData | np.ndarray | sparse.spmatrix,
    heldout: AnnData | np.ndarray | sparse.spmatrix,
    *,
    layer: str | None = None,
    log1p: str | bool = "auto",
) -> dict[str, float]:
    """Does a simulator replay its training cells? Copies and nearest-neighbour distances.

    A simulator that copies (or barely perturbs) its input would look very realistic;
    this measures it. Simulated cells should be no closer to the training cells than
    real held-out cells are.

    Parameters
    ----------
    train
        The cells the simulator was fitted on. With AnnData inputs, genes are matched by
        ``var_names`` (any order; different genes raise a ``ValueError`` naming them).
    simulated
        Its output.
    heldout
        Real cells of the same kind that the simulator never saw: split them off before
        training (e.g. train on ``adata[:n]``, pass ``adata[n:]`` here). Not the training
        cells, nor cells overlapping them (see Warns).
    layer, log1p
        As in :func:`realism_auc` (distances are Euclidean on the log-normalised scale).

    Returns
    -------
    ``identical_fraction``: share of simulated cells equal, in every gene on the input
    scale, to some training cell (should be about 0); ``heldout_identical_fraction``: the
    same for held-out cells (the floor set by real data, e.g. all-zero cells);
    ``nn_simulated`` and ``nn_heldout``: median distance to the nearest training cell;
    ``ratio``: ``nn_simulated / nn_heldout`` (>= about 1: no closer than real new cells;
    NaN when ``nn_heldout`` is 0, as when most held-out cells are training cells);
    ``closer_than_heldout_p5``: share of simulated cells nearer to the training set than
    the 5th percentile of held-out cells (about 0.05 when no closer).

    Warns
    -----
    UserWarning
        When more held-out cells are exact copies of training cells than the duplicates
        within ``train`` explain (by 0.1, or 3 binomial standard errors if more): ``heldout``
        is, or overlaps, ``train`` (``simulation_closeness(adata, sim, adata)``, or a split
        forgotten). The warning names how many cells are shared and how to split. It is a
        warning, not an error, as real data may hold exact duplicates (e.g. all-zero cells).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> train, held = rng.normal(size=(200, 10)), rng.normal(size=(50, 10))
    >>> simulation_closeness(train, train[:50], held)["identical_fraction"]
    1.0
    >>> simulation_closeness(train, rng.normal(size=(50, 10)), held)["identical_fraction"]
    0.0
    """
    from sklearn.neighbors import NearestNeighbors

    log1p = _check_log1p(log1p)
    (t_raw, s_raw, h_raw), _ = _aligned([train, simulated, heldout], ["train", "simulated", "heldout"], layer)

    train_rows = _row_set(t_raw)
    heldout_shared = copy_fraction(train_rows, h_raw)
    _warn_if_heldout_is_train(heldout_shared, t_raw, h_raw)
    t, s, h = _comparable([t_raw, s_raw, h_raw], log1p)
    nn = NearestNeighbors(n_neighbors=1).fit(t)
    d_s = nn.kneighbors(s)[0][:, 0]
    d_h = nn.kneighbors(h)[0][:, 0]
    p5 = float(np.percentile(d_h, 5))
    med_h = float(np.median(d_h))
    return {
        "identical_fraction": copy_fraction(train_rows, s_raw),
        "heldout_identical_fraction": heldout_shared,
        "nn_simulated": float(np.median(d_s)),
        "nn_heldout": med_h,
        "ratio": float(np.median(d_s) / med_h) if med_h > 0 else float("nan"),
        "closer_than_heldout_p5": float(np.mean(d_s < p5)),
    }
