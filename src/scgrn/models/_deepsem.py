"""The user-facing DeepSEM model class (scvi-tools style): AnnData in, GRN and embedding out."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from .._grn_matrix import regulator_rows_csr
from .._matrix import read_rows
from .._settings import resolve_device, resolve_progress_bar
from .._validate import as_tf_list, check_bool, check_choice, check_int, check_random_state, check_tfs, checked_matrix
from ._base import check_var_names_match
from ._deepsem_config import DeepSEMConfig, ensemble_size, make_config, resolved_dropout_augmentation, resolved_params, zero_fraction
from ._deepsem_data import check_unchanged, checked_dense_array, sign_aligned_latent, warn_constant_genes
from ._deepsem_io import LATENT_BLOCK_CELLS, latent_signs, load_deepsem, save_deepsem, training_moments
from ._deepsem_module import DeepSEMEnsemble, aggregate_grn
from ._deepsem_training import train_deepsem
from ._perturb import perturb as _perturb
from ._simulate import DEFAULT_SPREAD, SimulatedCells, check_sampling, quantile_map, sample_cells, simulated_anndata, training_size_factors

MIN_CELLS = 10



#: ``tf_rows_only="auto"`` trains the genes x genes model up to this many genes (0.6 s a step
#: for 8 members on 2 CPU cores at 2,000 genes), the TF-rows model above
FULL_MODEL_MAX_GENES = 2000
class DeepSEM:
    """DeepSEM (Shu et al., Nat. Comput. Sci. 2021): a beta-VAE whose per-gene encoder and
    decoder are joined only through a GRN layer ``(I - W^T)`` and its inverse.

    An ensemble of ``n_models`` independently seeded members is trained at once; the GRN
    is their mean ``|W|`` (signed by the mean ``W``). Row = regulator, column = target.

    Parameters
    ----------
    adata
        Cells x genes, log-normalised expression (``adata.X`` or ``layer``). Genes with the
        same value in every cell carry no information but would still get edges: a
        ``UserWarning`` names them (genes zero in every cell are refused).
    layer
        Layer to read instead of ``X``.
    tfs
        Transcription factors (names in ``adata.var_names``); when given, only they regulate:
        edges out of other genes are zero in :meth:`get_grn`. A boolean mask over
        ``adata.var_names`` (e.g. ``adata.var['is_tf']``) selects the genes where it is ``True``.
    tf_rows_only
        With ``tfs``: ``True`` learns only the TF rows of ``W`` (TFs x genes); the GRN
        layer and its inverse go through the TF x TF block, so memory grows with TFs x genes
        and time with batch x TFs x genes, not genes^2 and genes^3. This is what makes
        10^4 genes fit. ``False``: the paper's genes x genes model, edges out of non-TFs set
        to zero afterwards; about the TFs' share of the members (at most half; see
        ``tfs_only_start``) starts the non-TF rows at zero. ``"auto"``: the model up to
        :data:`FULL_MODEL_MAX_GENES` genes, TF rows above. On BEELINE the genes x genes
        model is the more accurate one (``benchmarks/results/tf_rows.md``): non-TF rows let
        co-expressed targets explain each other (``coexpression_rank`` does part of it).
        Unless ``n_models`` is given, large models train fewer members: a TF-rows model of
        more than 2 x 10^7 ``W`` entries a member (4 at 20,000 genes x 2,000 TFs) and a
        genes x genes model above 1,500 genes (4 at 2,000); see
        :func:`~scgrn.models._deepsem_config.ensemble_size`.
    preset
        ``"default"`` (scgrn's tuned recipe), ``"general"`` (the paper's STRING /
        non-specific recipe), ``"celltype_specific"`` (the paper's ChIP-seq recipe) or
        ``"embedding"`` (the paper's cell-embedding settings, CPU-fast).
        See :data:`scgrn.models.PRESETS`.
    **hyperparameters
        Overrides of any :class:`~scgrn.models.DeepSEMConfig` field.

    Notes
    -----
    The model keeps a reference to ``adata.X`` (or the layer), not a copy, with the per-gene
    moments and checks of its values. Replacing ``adata.X`` afterwards does not affect the model;
    changing it in place (``sc.pp.log1p(adata)``, ``adata.X[0, 0] = 1``) makes :meth:`train` (and
    the methods that read the training cells again) raise a ``ValueError``: build the model again.

    Examples
    --------
    >>> import scgrn
    >>> adata, truth = scgrn.datasets.krumsiek11()
    >>> model = scgrn.models.DeepSEM(adata, n_models=2, n_epochs=2)
    >>> model.train(show_progress_bar=False)
    >>> model.get_grn().shape
    (11, 11)
    """

    _watch_for_changes = True  #: re-check the training cells when read again (Notes); off in tl.deepsem

    def __init__(
        self,
        adata: AnnData,
        *,
        layer: str | None = None,
        tfs=None,
        tf_rows_only: bool | str = "auto",
        preset: str = "default",
        **hyperparameters,
    ):
        self.config: DeepSEMConfig = make_config(preset, **hyperparameters)
        self.preset = preset
        tfs = as_tf_list(tfs, adata.var_names)  # a one-shot iterator is read once, before the checks below
        self._matrix, self._summary = checked_matrix(adata, layer=layer, min_cells=MIN_CELLS, tfs=tfs)
        warn_constant_genes(self._summary, adata.var_names, layer)
        rate = resolved_dropout_augmentation(self.config, zero_fraction(self._summary))
        self.config = replace(self.config, dropout_augmentation=rate)  # None: decided by the data's zeros
        self._dense = None
        self._moments = self._signs = None  # standardisation and latent signs once known (models/_deepsem_io.py)
        self.tfs = check_tfs(tfs, adata.var_names)
        self.var_names = pd.Index(adata.var_names).copy()
        tf_rows_only = check_choice("tf_rows_only", tf_rows_only, ("auto", True, False))
        if tf_rows_only == "auto":
            tf_rows_only = len(self.var_names) > FULL_MODEL_MAX_GENES
        self.tf_rows_only = bool(tf_rows_only) and self.tfs is not None  # what is actually trained
        if "n_models" not in hyperparameters:
            size = ensemble_size(self.config.n_models, self._n_regulators(), len(self.var_names), tf_rows=self.tf_rows_only)
            self.config = replace(self.config, n_models=size)
        self.layer = layer
        self.module: DeepSEMEnsemble | None = None
        self.history: dict[str, np.ndarray] = {}
        self.random_state: int = 0
        self.training_time_s: float = float("nan")  # wall-clock seconds of the last train()

    # -- training -------------------------------------------------------------------------
    def train(
        self, *, random_state: int = 0, device="auto", show_progress_bar: bool | None = None, max_memory=None
    ) -> None:
        """Train all ensemble members (vectorised, one model); wall seconds in ``training_time_s``.

        Parameters
        ----------
        random_state
            Seed of initialisation, mini-batches and sampling; same seed, same result on CPU.
        device
            ``"auto"`` (CUDA, then MPS, then CPU) or a torch device string.
        show_progress_bar
            Show a progress bar over the optimiser steps, with ETA (``None``:
            ``scgrn.settings.show_progress_bar``).
        max_memory
            Memory budget for training, bytes or a string such as ``"8GB"`` (``None``: 70 %
            of the memory free on the device). Members train together when they fit, in
            consecutive groups when not (the grouping changes the seeds of later groups, so
            results are reproducible for a given budget); a request that cannot fit one
            member raises :class:`~scgrn.models.DoesNotFitError` before training. A log line
            (``sc.settings.verbosity = "info"``) gives the estimated memory and time first.

        Examples
        --------
        >>> import scgrn
        >>> adata, _ = scgrn.datasets.krumsiek11()
        >>> model = scgrn.models.DeepSEM(adata, n_models=2, n_epochs=2)
        >>> model.train(random_state=1, show_progress_bar=False)
        >>> model.history["reconstruction"].shape  # (epochs, members)
        (2, 2)
        """
        self.random_state = check_random_state(random_state)  # None: a fresh seed, kept here
        self._moments = self._signs = None  # (re)trained on self._matrix: its statistics from now on
        t0 = time.perf_counter()
        self.module, self.history = train_deepsem(
            self._stored_matrix(),
            self.config,
            seed=self.random_state,
            device=resolve_device(device),
            show_progress_bar=resolve_progress_bar(show_progress_bar),
            regulators=self._regulators(),
            tfs=self._tf_positions(),
            summary=self._summary,
            max_memory=max_memory,
        )
        self.training_time_s = time.perf_counter() - t0
        latent_signs(self, check=False)  # the members' signs, from the cells just trained on

    def _tf_positions(self) -> np.ndarray | None:
        """Gene positions of the TFs (``None`` without ``tfs``)."""
        return None if self.tfs is None else self.var_names.get_indexer(pd.Index(self.tfs)).astype(np.int64)

    def _regulators(self) -> np.ndarray | None:
        """Gene positions of the TFs when only their rows of ``W`` are learned, else ``None``."""
        return self._tf_positions() if self.tf_rows_only else None

    def _n_regulators(self) -> int:
        return len(self.tfs) if self.tf_rows_only else len(self.var_names)  # tf_rows_only implies tfs

    @property
    def _x(self) -> np.ndarray:
        """The training matrix as a dense float32 array (simulation's paths; made once, on demand)."""
        if self._dense is None:
            self._dense = read_rows(self._stored_matrix(), slice(None))
        return self._dense

    def _stored_matrix(self):
        """The matrix the model was built on, checked not to have changed in place since (see Notes)."""
        if self._watch_for_changes:
            check_unchanged(self._matrix, self._summary, self.layer)
        return self._matrix

    @classmethod
    def from_array(cls, x: np.ndarray, var_names, *, preset: str = "default", **hyperparameters) -> DeepSEM:
        """A model on a cells x genes array, for callers that have validated the data already.

        Unlike ``DeepSEM(adata)`` this checks only the shape and that values are finite: from
        2 cells (not 10), constant or all-zero genes and non-string ``var_names`` are accepted. :func:`scgrn.tl.simulate` builds its per-group models this way. No TFs.

        Parameters
        ----------
        x
            Cells x genes, dense log-normalised expression (converted to float32; kept, not copied).
        var_names
            Gene names, one per column of ``x``.
        preset
            As in :class:`DeepSEM`.
        **hyperparameters
            Overrides of any :class:`~scgrn.models.DeepSEMConfig` field.

        Returns
        -------
        An untrained :class:`DeepSEM`; call :meth:`train`.

        Examples
        --------
        >>> import numpy as np, scgrn
        >>> x = np.random.default_rng(0).gamma(1.0, 1.0, size=(6, 4)).astype(np.float32)
        >>> model = scgrn.models.DeepSEM.from_array(x, ["a", "b", "c", "d"], n_models=1, n_epochs=1)
        >>> model.train(show_progress_bar=False)
        >>> model.get_grn().shape
        (4, 4)
        """
        x = checked_dense_array(x, var_names)
        model = cls.__new__(cls)
        model.config = make_config(preset, **hyperparameters)
        model.preset = preset
        model._matrix, model._summary, model._dense, model._moments, model._signs = x, None, None, None, None
        model.tfs, model.tf_rows_only, model.layer = None, False, None
        model.var_names = pd.Index(var_names).copy()
        model.module, model.history = None, {}
        model.random_state, model.training_time_s = 0, float("nan")
        return model

    def _require_trained(self) -> DeepSEMEnsemble:
        if self.module is None:
            raise RuntimeError("The model is not trained yet: call `.train()` first.")
        return self.module

    # -- results --------------------------------------------------------------------------
    def get_grn(self, *, members: bool = False, sparse: bool = False, edges_per_target: int | None = None):
        """The inferred GRN, ``(n_genes, n_genes)``, row = regulator, column = target.

        Parameters
        ----------
        members
            Return every member's ``W`` as a dense ``(n_models, n_genes, n_genes)`` array
            instead of the ensemble aggregate.
        sparse
            Return a ``scipy.sparse.csr_matrix`` (float32) that stores only the regulators'
            rows (the TFs' when ``tfs`` was given): what a genes x genes GRN of 10^4 genes
            needs to fit in memory and in an h5ad file.
        edges_per_target
            With ``sparse=True``, keep only the ``edges_per_target`` largest ``|weight|``
            edges into each target (``None``: every edge of the regulators' rows).

        Examples
        --------
        >>> import scgrn
        >>> adata, _ = scgrn.datasets.krumsiek11()
        >>> model = scgrn.models.DeepSEM(adata, n_models=2, n_epochs=2)
        >>> model.train(show_progress_bar=False)
        >>> model.get_grn().shape, model.get_grn(members=True).shape
        ((11, 11), (2, 11, 11))
        >>> int(model.get_grn(sparse=True, edges_per_target=3).getnnz(axis=0).max())
        3
        """
        members = check_bool("members", members)
        sparse = check_bool("sparse", sparse)
        w = self._require_trained().grn().detach()  # (members, regulators, genes)
        n_genes = len(self.var_names)
        rows = self._regulators()
        rows = np.arange(n_genes) if rows is None else rows
        if members:
            out = np.zeros((w.shape[0], n_genes, n_genes), dtype=np.float32)
            out[:, rows] = w.numpy()
            return out
        grn = aggregate_grn(w.numpy())
        if self.tfs is not None and not self.tf_rows_only:
            is_tf = self.var_names.isin(self.tfs)
            grn[~is_tf, :] = 0.0
        if not sparse:
            if edges_per_target is not None:
                raise ValueError("edges_per_target needs sparse=True.")
            out = np.zeros((n_genes, n_genes), dtype=np.float32)
            out[rows] = grn
            return out
        return regulator_rows_csr(grn, rows, n_genes, edges_per_target)

    @torch.no_grad()
    def get_latent_representation(
        self, adata: AnnData | None = None, *, layer: str | None = None, units: str = "standardised"
    ) -> np.ndarray:
        """Posterior mean after the GRN layer, ``(n_cells, n_genes)``, averaged over members.

        Members are sign-aligned to the first before averaging (a member's shared
        encoder may learn the mirrored latent); the signs are read once, from the training
        cells, and kept with the model (and saved with it).

        Parameters
        ----------
        adata
            Cells to embed; default the training cells (after :meth:`load`: the cells given to
            it). Must have the training ``var_names``. They are z-scored with the training
            cells' per-gene statistics (as :meth:`perturb` does; after :meth:`load`, the saved
            ones), so a cell's embedding does not depend on the other cells passed with it:
            embedding a subset gives the same rows as embedding all cells.
        layer
            Layer to read from ``adata`` (default: the training layer).
        units
            ``"standardised"``: the model's own units (every gene z-scored, so every gene
            weighs the same in distances). ``"expression"``: each gene's column multiplied
            by that gene's standard deviation in the training cells (the one the z-score
            divides by), so that genes weigh as in log-expression space, as for PCA on log
            data; this keeps rare, noisy genes from dominating neighbour graphs.

        Examples
        --------
        >>> import scgrn
        >>> adata, _ = scgrn.datasets.krumsiek11()
        >>> model = scgrn.models.DeepSEM(adata, preset="embedding", n_epochs=2)
        >>> model.train(show_progress_bar=False)
        >>> model.get_latent_representation(units="expression").shape  # cells x genes
        (640, 11)
        """
        if units not in ("standardised", "expression"):
            raise ValueError(f"units must be 'standardised' or 'expression', got {units!r}.")
        module = self._require_trained()
        if adata is None:
            x = self._stored_matrix()
        else:
            check_var_names_match(self.var_names, adata.var_names)
            x, _ = checked_matrix(adata, layer=layer if layer is not None else self.layer, min_cells=1,
                                  allow_zero_genes=True)
        mode = self.config.standardise
        mean, std = training_moments(self)
        signs = latent_signs(self)  # fixed for the model, whatever the cells
        latent = sign_aligned_latent(module, x, mean, std, mode, LATENT_BLOCK_CELLS, signs)
        if units == "expression":
            latent *= std
        return latent

    def get_size_factors(self, *, technical_noise: str = "auto") -> np.ndarray | None:
        """Size factors ``s`` of the training cells, ``x = log1p(s * counts)``, for Poisson technical noise.

        Recovered from ``log1p(normalised counts)`` training data (scanpy's ``normalize_total``
        + ``log1p``): the smallest non-zero ``expm1(x)`` of a cell is one count.

        Parameters
        ----------
        technical_noise
            ``"auto"``: the factors, or ``None`` when the data hold no recoverable counts;
            ``"poisson"``: the factors, raising a ``ValueError`` when there are none;
            ``"none"``: ``None``.

        Returns
        -------
        ``(n_cells,)`` float64 factors, or ``None``; pass them to :meth:`sample_cells`.

        Examples
        --------
        >>> import numpy as np, scgrn
        >>> counts = np.array([[1.0, 0.0, 3.0], [2.0, 3.0, 0.0], [1.0, 1.0, 2.0]])
        >>> x = np.log1p(counts / counts.sum(1, keepdims=True) * 10)
        >>> model = scgrn.models.DeepSEM.from_array(x, ["a", "b", "c"])
        >>> np.round(model.get_size_factors(), 3).tolist()
        [2.5, 2.0, 2.5]
        """
        return training_size_factors(self._x, technical_noise)

    def sample_cells(
        self, n_obs: int | None = None, *, mode: str = "posterior", noise_scale: float | str = "auto",
        spread: float = DEFAULT_SPREAD, neighbours: int | str = "auto", size_factors: np.ndarray | None = None,
        rng: np.random.Generator | int | None = 0,
    ) -> SimulatedCells:
        """Draw simulated cells as arrays, before calibration: the sampling step of :meth:`simulate`.

        :meth:`simulate` is this, with ``size_factors`` from :meth:`get_size_factors`, then
        a per-gene calibration and an AnnData; use this to build your own output (as
        :func:`scgrn.tl.simulate` does to return counts).

        Parameters
        ----------
        n_obs
            Cells to simulate (``None``: as many as the training cells).
        mode, noise_scale, spread, neighbours
            As in :meth:`simulate` (``"auto"`` included).
        size_factors
            The training cells' ``s`` in ``x = log1p(s * counts)`` (from
            :meth:`get_size_factors`, or your own): counts are drawn around each decoded
            profile with its source cell's factor. ``None``: no technical noise.
        rng
            A :class:`numpy.random.Generator`, used and advanced in place (so several calls
            can share one stream), or a seed for a new one. ``"auto"`` settings are resolved
            by drawing probe cells from it first.

        Returns
        -------
        A :class:`~scgrn.models.SimulatedCells` named tuple: ``values`` (float32,
        training scale), ``counts`` (or ``None``), ``source`` (training cell of each),
        ``noise_scale`` and ``neighbours`` (as resolved).

        Examples
        --------
        >>> import scgrn
        >>> adata, _ = scgrn.datasets.krumsiek11()
        >>> model = scgrn.models.DeepSEM(adata, n_models=1, n_epochs=1)
        >>> model.train(show_progress_bar=False)
        >>> cells = model.sample_cells(20, noise_scale=1.0, neighbours=1, rng=0)
        >>> cells.values.shape, cells.counts is None, cells.noise_scale, cells.neighbours
        ((20, 11), True, 1.0, 1)
        """
        noise_scale, neighbours, spread = check_sampling(mode, noise_scale, neighbours, "none", spread)
        module = self._require_trained()
        n_obs = self._x.shape[0] if n_obs is None else check_int("n_obs", n_obs, min=1)
        return sample_cells(
            module, self._x, self.config.standardise, n_obs, mode=mode, noise_scale=noise_scale, spread=spread,
            neighbours=neighbours, size_factors=size_factors, rng=np.random.default_rng(rng),
        )

    perturb = _perturb  # in-silico knockout / over-expression (the method is in models/_perturb.py)

    def simulate(
        self,
        n_obs: int | None = None,
        *,
        mode: str = "posterior",
        noise_scale: float | str = "auto",
        spread: float = DEFAULT_SPREAD,
        neighbours: int | str = "auto",
        technical_noise: str = "auto",
        calibrate: bool = True,
        random_state: int = 0,
    ) -> AnnData:
        """Simulate cells through the learned GRN (DeepSEM's "scRNA-seq simulation").

        Each simulated cell starts from a training cell ``s``, perturbs its latent
        ``z = mu_s + noise_scale * (sigma_s * n + spread * (mu_t - mu_u) / sqrt(2))``
        (``n ~ N(0, I)``; ``t, u`` two random training cells, so part of the noise follows
        the directions in which real cells differ) and decodes it through the inverse GRN
        layer of one ensemble member (cells are spread over members), then undoes the
        z-scoring. ``mu_s`` is the mean latent of ``s`` and its ``neighbours - 1`` nearest
        training cells, which averages away the source's own technical noise; fresh
        technical noise is then drawn in count space (``technical_noise``), so that a
        simulated cell is a new cell of the source's state, not a noisy copy of the source.
        ``noise_scale=1, spread=0, neighbours=1, technical_noise="none"`` is the paper's
        ``z = mu + sigma * n``.

        Parameters
        ----------
        n_obs
            Cells to simulate (``None``: as many as the training cells).
        mode
            ``"posterior"`` (the paper's scheme, above) or ``"prior"`` (``z ~ N(0, noise_scale^2 I)``,
            no source cell).
        noise_scale
            Multiplies the latent noise. ``"auto"``: the smallest value on a grid for which
            simulated cells are, in median, as far from their nearest training cell as a
            training cell is from its nearest other training cell, so that the simulator
            does not replay its input (a well-trained DeepSEM reconstructs its input closely,
            and the paper's ``noise_scale=1`` then gives near-copies). With both ``"auto"``,
            the neighbours are raised first (``1, 2, 3, 5, 8, 12, 20`` at noise 0), then the
            noise (at 20 neighbours): the least departure from the source cells that meets
            the criterion.
        spread
            Weight of the data-shaped part of the noise (``0``: the posterior noise only).
        neighbours
            Training cells (the source and its nearest ones in the latent space) whose latent
            means are averaged into the source's ``mu`` (``1``: the source alone), or
            ``"auto"`` (above).
        technical_noise
            ``"poisson"``: counts are drawn around each decoded profile,
            ``Poisson(expm1(y) / s)``, with the source cell's size factor ``s`` (recovered
            from ``log1p(normalised counts)`` training data: the smallest non-zero
            ``expm1`` of a cell is one count), and log-normalised again. ``"none"``: the
            decoded profile as it is. ``"auto"``: ``"poisson"`` when counts can be
            recovered, else ``"none"``.
        calibrate
            Map every gene onto the training cells' empirical distribution by rank (see
            :func:`scgrn.tl.simulate`); ``False`` returns the decoder's output, clipped to the
            training range of each gene.
        random_state
            Seed of the sampling.

        Returns
        -------
        AnnData with the training ``var_names``, ``X`` float32 on the training scale
        (log-normalised), ``obs['simulated'] = True``, ``obs['source_cell']`` (index of
        the training cell each started from, -1 in ``"prior"`` mode) and
        ``uns['simulate']`` (method, version, params; ``technical_noise`` as resolved).

        Examples
        --------
        >>> import scgrn
        >>> adata, _ = scgrn.datasets.krumsiek11()
        >>> model = scgrn.models.DeepSEM(adata, n_models=2, n_epochs=2)
        >>> model.train(show_progress_bar=False)
        >>> sim = model.simulate(100)
        >>> sim.shape, bool(sim.obs["simulated"].all())
        ((100, 11), True)
        """
        noise_scale, neighbours, spread = check_sampling(mode, noise_scale, neighbours, technical_noise, spread)
        calibrate = check_bool("calibrate", calibrate)
        n_obs = self._x.shape[0] if n_obs is None else check_int("n_obs", n_obs, min=1)
        random_state = check_random_state(random_state)
        rng = np.random.default_rng(random_state)
        size_factors = self.get_size_factors(technical_noise=technical_noise)
        y, _, source, noise_scale, neighbours = self.sample_cells(
            n_obs, mode=mode, noise_scale=noise_scale, spread=spread, neighbours=neighbours,
            size_factors=size_factors, rng=rng,
        )
        if calibrate:
            y = quantile_map(y, self._x, rng)
        else:
            y = np.clip(y, self._x.min(0), self._x.max(0))
        params = {
            **{k: v for k, v in self.params().items() if v is not None}, "mode": mode,
            "noise_scale": float(noise_scale), "spread": float(spread), "neighbours": int(neighbours),
            "technical_noise": "none" if size_factors is None else "poisson", "calibrate": bool(calibrate),
            "simulation_random_state": int(random_state),
        }
        return simulated_anndata(y, source if mode == "posterior" else -1, self.var_names, params)

    def params(self) -> dict:
        """Every hyperparameter (``alpha`` and ``lr_adj`` resolved) plus preset and seed (what ``adata.uns`` records).

        Examples
        --------
        >>> import scgrn
        >>> adata, _ = scgrn.datasets.krumsiek11()
        >>> scgrn.models.DeepSEM(adata, n_epochs=5).params()["n_epochs"]
        5
        """
        n_genes, n_cells, n_regulators = len(self.var_names), self._matrix.shape[0], self._n_regulators()
        params = resolved_params(self.config, n_genes, n_cells, n_regulators, self._regulators() is not None)
        return {**params, "preset": self.preset, "random_state": self.random_state}

    # -- persistence ----------------------------------------------------------------------
    def save(self, dir_path: str | Path, *, overwrite: bool = False) -> None:
        """Save weights, hyperparameters, gene names, history and the training cells'
        per-gene standardisation (mean and standard deviation) to a folder (``model.json``,
        ``model.pt``, ``history.npz``; see :mod:`scgrn.models._base` and
        :mod:`scgrn.models._deepsem_io`).

        Gene names are stored as strings; :meth:`load` compares them as strings.

        Examples
        --------
        >>> import tempfile, scgrn
        >>> adata, _ = scgrn.datasets.krumsiek11()
        >>> model = scgrn.models.DeepSEM(adata, n_models=1, n_epochs=1)
        >>> model.train(show_progress_bar=False)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     model.save(d, overwrite=True)
        ...     loaded = scgrn.models.DeepSEM.load(d, adata)
        >>> bool((loaded.get_grn() == model.get_grn()).all())
        True
        """
        save_deepsem(self, dir_path, overwrite=overwrite)

    @classmethod
    def load(cls, dir_path: str | Path, adata: AnnData) -> DeepSEM:
        """Load a model saved with :meth:`save`; ``adata`` must have the training genes in
        the training order (compared as strings); its cells are the ones
        :meth:`get_latent_representation`, :meth:`perturb` and :meth:`simulate` use by default
        (and that :meth:`simulate` draws from and is calibrated to). Cells are z-scored with the
        saved training statistics, so the loaded model embeds and perturbs any cells exactly as
        the saved one, whichever cells it is loaded with. A folder saved before scgrn stored
        them (format version 1 or older) loads with a ``UserWarning``, taking them from
        ``adata``; load it with the training cells and save it again for exact results.

        Raises ``FileNotFoundError`` when the folder or a file is missing, ``ValueError`` when
        the var_names differ, or (:class:`~scgrn.models._base.ModelFileError`) when the folder
        is damaged, holds another model, or was written by a newer scgrn.

        Examples
        --------
        >>> import tempfile, scgrn
        >>> adata, _ = scgrn.datasets.krumsiek11()
        >>> model = scgrn.models.DeepSEM(adata, n_models=1, n_epochs=1)
        >>> model.train(show_progress_bar=False)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     model.save(d)
        ...     scgrn.models.DeepSEM.load(d, adata)
        DeepSEM(trained, 11 genes, 1 members, preset='default')
        """
        return load_deepsem(cls, dir_path, adata)

    def __repr__(self) -> str:
        state = "trained" if self.module is not None else "untrained"
        return f"DeepSEM({state}, {len(self.var_names)} genes, {self.config.n_models} members, preset={self.preset!r})"
