"""The user-facing PerturbODE model class: a perturbation screen (AnnData) in, GRN, gene
modules and predicted cells out (the dynamics: :mod:`scgrn.models._perturbode_module`)."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from .. import __version__
from .._settings import resolve_device, resolve_progress_bar
from .._validate import check_int, check_random_state, expression_matrix
from ._base import check_var_names_match, config_from_saved, load_model_files, load_state, save_model_files, var_names_to_json

# the pieces live in _perturbode_{config,module,training}; re-exported here because the
# tests import them from this module
from ._perturbode_config import (  # noqa: F401
    _SOLVERS,
    INTERVENTIONS,
    MIN_CONTROL_CELLS,
    PerturbODEConfig,
    check_control,
    make_config,
    parse_perturbations,
    read_screen,
)
from ._perturbode_module import PerturbODEModule
from ._perturbode_training import _sample, train_perturbode  # noqa: F401

__all__ = [
    "PerturbODE",
    "PerturbODEConfig",
    "PerturbODEModule",
    "parse_perturbations",
    "INTERVENTIONS",
]


class PerturbODE:
    """PerturbODE (Lin et al. 2025): a neural ODE with gene-module hidden units, fitted to a
    perturbation screen by optimal transport; its weights give the GRN.

    See the module docstring of :mod:`scgrn.models._perturbode_module` for the dynamics.

    Parameters
    ----------
    adata
        Cells x genes, log-normalised expression (non-negative: 0 means "not expressed"),
        with one perturbation label per cell in ``obs[perturbation_key]``.
    perturbation_key
        ``obs`` column of labels: ``control``, a gene name of ``var_names``, or several
        joined by ``"+"`` (``"G3+G7"``).
    control
        Label of control (unperturbed / non-targeting) cells; at least 10 are needed. Labels
        are read as text, so with integer codes ``control=0`` matches the label ``'0'``.
    layer
        Read this layer instead of ``X``.
    **hyperparameters
        Fields of :class:`PerturbODEConfig` (``n_modules``, ``intervention``, ``n_epochs``,
        ``l1``, ...).

    Examples
    --------
    >>> import scgrn
    >>> adata, net = scgrn.datasets.simulate_perturbation_screen(
    ...     n_genes=12, n_perturbations=4, n_double=1, n_cells_per_perturbation=30, n_control=60)
    >>> model = scgrn.models.PerturbODE(adata, n_modules=4, n_epochs=5, batch_size=16)
    >>> model.train(show_progress_bar=False)
    >>> model.get_grn().shape
    (12, 12)
    >>> pred = model.predict("G00", n_obs=20)
    >>> pred.shape, bool(pred.obs["predicted"].all())
    ((20, 12), True)
    """

    def __init__(
        self,
        adata: AnnData,
        *,
        perturbation_key: str = "perturbation",
        control: str = "control",
        layer: str | None = None,
        **hyperparameters,
    ):
        self.config = make_config(**hyperparameters)
        self.config.validate(adata.n_vars)
        control = check_control(control)  # labels are read as text: control=0 matches '0'
        labels, self.targets, x = read_screen(
            adata, perturbation_key=perturbation_key, control=control, layer=layer
        )
        self.var_names = pd.Index(adata.var_names).copy()
        self.layer = layer
        self.perturbation_key = perturbation_key
        self.control = control
        scale = x.std(0)
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        self.scale = scale
        self._x = x / scale
        self._labels = labels
        self.module: PerturbODEModule | None = None
        self.history: dict[str, np.ndarray] = {}
        self.random_state = 0
        self.training_time_s = float("nan")

    # -- helpers ----------------------------------------------------------------------------
    @property
    def perturbations(self) -> list[str]:
        """Training perturbation labels (control excluded)."""
        return [k for k in self.targets if k != self.control]

    def _mask(self, genes: list[str]) -> np.ndarray:
        m = np.zeros(len(self.var_names), dtype=np.float32)
        m[self.var_names.get_indexer(genes)] = 1.0
        return m

    @property
    def _control_x(self) -> np.ndarray:
        return self._x[self._labels == self.control]

    @property
    def trained_genes(self) -> list[str]:
        """Genes targeted by at least one training perturbation."""
        return list(dict.fromkeys(g for k in self.perturbations for g in self.targets[k]))

    def _require_trained(self) -> PerturbODEModule:
        if self.module is None:
            raise RuntimeError("The model is not trained yet: call `.train()` first.")
        return self.module

    # -- training -----------------------------------------------------------------------------
    def train(self, *, random_state: int = 0, device="auto", show_progress_bar: bool | None = None) -> None:
        """Fit the ODE to every perturbation of the training data.

        Parameters
        ----------
        random_state
            Seed of initialisation and cell sampling; same seed, same result on CPU.
        device
            ``"auto"`` (CUDA, then MPS, then CPU) or a torch device string.
        show_progress_bar
            Progress bar over epochs (``None``: ``scgrn.settings.show_progress_bar``).

        Examples
        --------
        >>> import scgrn
        >>> adata, _ = scgrn.datasets.simulate_perturbation_screen(
        ...     n_genes=12, n_perturbations=4, n_double=1, n_cells_per_perturbation=30, n_control=60)
        >>> model = scgrn.models.PerturbODE(adata, n_modules=4, n_epochs=5, batch_size=16)
        >>> model.train(show_progress_bar=False)
        >>> len(model.history["loss"])  # one value per epoch
        5
        """
        self.random_state = check_random_state(random_state)  # None: a fresh seed, kept here
        groups = list(self.targets)
        codes = pd.Categorical(self._labels, categories=groups).codes.astype(np.int64)
        masks = np.stack([self._mask(self.targets[g]) for g in groups])
        torch.manual_seed(self.random_state)
        t0 = time.perf_counter()
        self.module, self.history = train_perturbode(
            self._x,
            codes,
            masks,
            groups.index(self.control),
            self.config,
            seed=self.random_state,
            device=resolve_device(device),
            show_progress_bar=resolve_progress_bar(show_progress_bar),
        )
        self.training_time_s = time.perf_counter() - t0

    # -- results ------------------------------------------------------------------------------
    def get_grn(self) -> np.ndarray:
        """Gene x gene GRN (float32), row = regulator, column = target, zero diagonal.

        ``G = A^T diag(s) B^T`` with ``s`` the mean sigmoid slope of each module over the
        control cells: the control-averaged Jacobian ``d(regulation of target)/d(regulator)``
        in units of the per-gene standard deviations. Signed (+ activation, - repression).

        Examples
        --------
        >>> import scgrn
        >>> adata, _ = scgrn.datasets.simulate_perturbation_screen(
        ...     n_genes=12, n_perturbations=4, n_double=1, n_cells_per_perturbation=30, n_control=60)
        >>> model = scgrn.models.PerturbODE(adata, n_modules=4, n_epochs=5, batch_size=16)
        >>> model.train(show_progress_bar=False)
        >>> g = model.get_grn()
        >>> g.shape, float(abs(g.diagonal()).max())
        ((12, 12), 0.0)
        """
        module = self._require_trained()
        g = module.grn(torch.as_tensor(self._control_x))
        return g.numpy().astype(np.float32)

    def get_modules(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The module loadings as genes x modules DataFrames ``(inputs, outputs)``.

        ``inputs = A^T``: how strongly each gene drives each module (the regulator side).
        ``outputs = B``: how strongly each module drives each gene (the target side).
        Columns are ``module_0``, ``module_1``, ... .

        Examples
        --------
        >>> import scgrn
        >>> adata, _ = scgrn.datasets.simulate_perturbation_screen(
        ...     n_genes=12, n_perturbations=4, n_double=1, n_cells_per_perturbation=30, n_control=60)
        >>> model = scgrn.models.PerturbODE(adata, n_modules=4, n_epochs=5, batch_size=16)
        >>> model.train(show_progress_bar=False)
        >>> inputs, outputs = model.get_modules()
        >>> inputs.shape, list(outputs.columns[:2])
        ((12, 4), ['module_0', 'module_1'])
        """
        module = self._require_trained()
        cols = [f"module_{i}" for i in range(module.A.shape[0])]
        a = pd.DataFrame(module.A.detach().numpy().T.copy(), index=self.var_names, columns=cols)
        b = pd.DataFrame(module.B.detach().numpy().copy(), index=self.var_names, columns=cols)
        return a, b

    def get_parameters(self) -> pd.DataFrame:
        """Per-gene parameters: ``decay``, ``basal``, ``knockout_level`` (or ``shift``), and
        ``trained`` (the gene was targeted in training; its intervention parameter is learned,
        else the default for unseen genes is used by :meth:`predict`).

        Examples
        --------
        >>> import scgrn
        >>> adata, _ = scgrn.datasets.simulate_perturbation_screen(
        ...     n_genes=12, n_perturbations=4, n_double=1, n_cells_per_perturbation=30, n_control=60)
        >>> model = scgrn.models.PerturbODE(adata, n_modules=4, n_epochs=5, batch_size=16)
        >>> model.train(show_progress_bar=False)
        >>> list(model.get_parameters().columns)
        ['decay', 'basal', 'knockout_level', 'trained']
        """
        module = self._require_trained()
        df = pd.DataFrame(index=self.var_names)
        df["decay"] = module.decay.detach().numpy()
        df["basal"] = (module.basal.detach().numpy() * self.scale).astype(np.float32)
        trained = self.var_names.isin(self.trained_genes)
        if self.config.intervention == "knockout":
            df["knockout_level"] = np.where(trained, module.knockout_level.detach().numpy(), np.nan)
        else:
            df["shift"] = np.where(trained, (module.shift.detach().numpy() * self.scale), np.nan)
        df["trained"] = trained
        return df

    def default_intervention(self) -> float:
        """Value used for genes never targeted in training: the median learned knockout level
        (``"knockout"``) or the median learned shift in scaled units (``"shift"``)."""
        module = self._require_trained()
        idx = self.var_names.get_indexer(self.trained_genes)
        if self.config.intervention == "knockout":
            return float(module.knockout_level.detach()[idx].median())
        return float(module.shift.detach()[idx].median())

    @torch.no_grad()
    def predict(
        self,
        perturbation: str | list[str],
        *,
        n_obs: int | None = None,
        random_state: int = 0,
    ) -> AnnData:
        """Predicted cells for one or more perturbations, seen in training or not.

        Control cells are integrated under the intervention; with ``counterfactual=True``
        (default) each prediction is the start cell plus the difference between its
        perturbed and unperturbed trajectories (so ``predict(control)`` returns the control
        cells), clipped at 0.
        Genes never targeted in training get :meth:`default_intervention`.

        Parameters
        ----------
        perturbation
            A label (``"G3"``, ``"G3+G7"``, or the control label) or a list of labels.
        n_obs
            Cells per perturbation, started from control cells drawn with replacement.
            ``None``: start once from every control cell (in order).
        random_state
            Seed of the draw of control cells (when ``n_obs`` is given) and of which cells
            keep a knocked gene (``knockout_mode="mosaic"``).

        Returns
        -------
        AnnData with the model's ``var_names``, ``X`` in the data's units,
        ``obs["perturbation"]``, ``obs["predicted"] = True``, ``obs["control_cell"]`` (the
        start state's index among the control cells) and ``uns["perturbode_prediction"]``.

        Examples
        --------
        >>> import scgrn
        >>> adata, _ = scgrn.datasets.simulate_perturbation_screen(
        ...     n_genes=12, n_perturbations=4, n_double=1, n_cells_per_perturbation=30, n_control=60)
        >>> model = scgrn.models.PerturbODE(adata, n_modules=4, n_epochs=5, batch_size=16)
        >>> model.train(show_progress_bar=False)
        >>> pred = model.predict(["G00", "G01+G02"], n_obs=10)
        >>> pred.n_obs, sorted(pred.obs["perturbation"].unique())
        (20, ['G00', 'G01+G02'])
        """
        module = self._require_trained()
        random_state = check_random_state(random_state)  # None: a fresh seed, recorded below
        labels = [perturbation] if isinstance(perturbation, str) else [str(p) for p in perturbation]
        if not labels:
            raise ValueError("perturbation is empty: pass a label or a list of labels.")
        targets = parse_perturbations(labels, self.var_names, control=self.control, where="perturbation")
        ctrl = torch.as_tensor(self._control_x)
        if n_obs is None:  # every control cell once
            n = ctrl.shape[0]
            idx = torch.arange(n).expand(len(labels), n)
        else:
            n = check_int("n_obs", n_obs, min=1)
            gen = torch.Generator().manual_seed(int(random_state))
            idx = torch.randint(ctrl.shape[0], (len(labels), n), generator=gen)
        x0 = ctrl[idx]
        masks = torch.as_tensor(np.stack([self._mask(targets[lab]) for lab in labels]))
        trained = torch.as_tensor(self.var_names.isin(self.trained_genes))
        default = self.default_intervention()
        if self.config.intervention == "knockout":
            level = torch.where(trained, module.knockout_level, torch.tensor(default))
            u = torch.rand(x0.shape, generator=torch.Generator().manual_seed(int(random_state) + 1))
            end = module.integrate(x0, masks, knockout_level=level, uniform=u)
        else:
            shift = torch.where(trained, module.shift, torch.tensor(default))
            end = module.integrate(x0, masks, shift=shift)
        if self.config.counterfactual:
            end0 = module.integrate(x0, torch.zeros_like(masks))
            end = module.readout(x0, end, masks, end0).clamp_min(0.0)
        X = (end.reshape(-1, len(self.var_names)).numpy() * self.scale).astype(np.float32)
        obs = pd.DataFrame(index=pd.Index([f"pred{i}" for i in range(X.shape[0])]))
        obs["perturbation"] = pd.Categorical(np.repeat(labels, n), categories=list(dict.fromkeys(labels)))
        obs["predicted"] = True
        obs["control_cell"] = idx.reshape(-1).numpy().astype(np.int64)
        out = AnnData(X=X, obs=obs, var=pd.DataFrame(index=self.var_names.copy()))
        out.uns["perturbode_prediction"] = {
            "method": "perturbode",
            "version": __version__,
            "intervention": self.config.intervention,
            "unseen_genes": [g for lab in labels for g in targets[lab] if g not in self.trained_genes],
            "default_intervention": default,
            "random_state": int(random_state),
        }
        return out

    def params(self) -> dict:
        """Every hyperparameter (``n_modules`` resolved) plus the seed and labels."""
        d = self.config.to_dict()
        d["n_modules"] = self.config.resolved_n_modules(len(self.var_names))
        d.update(
            random_state=self.random_state,
            perturbation_key=self.perturbation_key,
            control=self.control,
            layer="X" if self.layer is None else self.layer,
        )
        return d

    # -- persistence ----------------------------------------------------------------------------
    def _check_var_names(self, var_names) -> None:
        check_var_names_match(self.var_names, var_names)

    def save(self, dir_path: str | Path, *, overwrite: bool = False) -> None:
        """Save weights, hyperparameters, gene names, scaling and history to a folder
        (``model.json``, ``model.pt``, ``history.npz``; see :mod:`scgrn.models._base`).

        Gene names are stored as strings. :meth:`load` needs the training AnnData back (its
        control cells are the start states).

        Examples
        --------
        >>> import tempfile, scgrn
        >>> adata, _ = scgrn.datasets.simulate_perturbation_screen(
        ...     n_genes=12, n_perturbations=4, n_double=1, n_cells_per_perturbation=30, n_control=60)
        >>> model = scgrn.models.PerturbODE(adata, n_modules=4, n_epochs=2, batch_size=16)
        >>> model.train(show_progress_bar=False)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     model.save(d)
        ...     loaded = scgrn.models.PerturbODE.load(d, adata)
        >>> bool((loaded.get_grn() == model.get_grn()).all())
        True
        """
        module = self._require_trained()
        meta = {
            "config": self.config.to_dict(),
            "random_state": self.random_state,
            "layer": self.layer,
            "perturbation_key": self.perturbation_key,
            "control": self.control,
            "var_names": var_names_to_json(self.var_names),
            "perturbations": self.perturbations,
            "scale": [float(s) for s in self.scale],
            "training_time_s": float(self.training_time_s),
        }
        save_model_files(dir_path, meta, module.state_dict(), kind="PerturbODE", overwrite=overwrite, history=self.history)

    @classmethod
    def load(cls, dir_path: str | Path, adata: AnnData) -> "PerturbODE":
        """Load a model saved with :meth:`save`.

        Parameters
        ----------
        dir_path
            The folder written by :meth:`save`.
        adata
            The training AnnData, or cells like it: the training genes in the training order
            (compared as strings), and the label column and control label the model was trained
            with (``perturbation_key`` and ``control`` in ``model.json``), with control and
            perturbed cells, as :class:`PerturbODE` itself requires.

        Raises
        ------
        FileNotFoundError
            The folder or one of its files is missing.
        ValueError
            The var_names differ, or (:class:`~scgrn.models._base.ModelFileError`) the folder
            is damaged, holds another model, or was written by a newer scgrn.

        Examples
        --------
        >>> import tempfile, scgrn
        >>> adata, _ = scgrn.datasets.simulate_perturbation_screen(
        ...     n_genes=12, n_perturbations=4, n_double=1, n_cells_per_perturbation=30, n_control=60)
        >>> model = scgrn.models.PerturbODE(adata, n_modules=4, n_epochs=2, batch_size=16)
        >>> model.train(show_progress_bar=False)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     model.save(d)
        ...     scgrn.models.PerturbODE.load(d, adata).perturbations == model.perturbations
        True
        """
        required = ("config", "var_names", "layer", "perturbation_key", "control", "perturbations", "scale",
                    "random_state")
        meta, state, history = load_model_files(dir_path, kind="PerturbODE", required=required, history=True)
        check_var_names_match(meta["var_names"], adata.var_names, fix="`adata = adata[:, genes].copy()` with `genes` "
                        "the 'var_names' listed in model.json")
        config = config_from_saved(PerturbODEConfig, meta["config"], meta=meta, dir_path=dir_path, kind="PerturbODE")
        try:
            model = cls(adata, perturbation_key=meta["perturbation_key"], control=meta["control"],
                        layer=meta["layer"], **asdict(config))
        except (KeyError, ValueError) as err:  # its fix may name arguments load() does not take
            raise (KeyError if isinstance(err, KeyError) else ValueError)(
                f"PerturbODE.load needs an AnnData laid out as at training (label column "
                f"{meta['perturbation_key']!r}, control label {meta['control']!r}, control and perturbed "
                f"cells; see model.json in {str(dir_path)!r}); the check of this one failed: {err}"
            ) from err
        model.scale = np.asarray(meta["scale"], dtype=np.float32)
        x = expression_matrix(adata, layer=model.layer, min_cells=1)
        model._x = x / model.scale
        # the training perturbations define which genes have learned parameters
        model.targets = {model.control: [], **{p: p.split("+") for p in meta["perturbations"]}}
        model.random_state = int(meta["random_state"])
        model.training_time_s = float(meta.get("training_time_s", "nan"))
        n_genes = len(model.var_names)
        module = PerturbODEModule(
            n_genes,
            config.resolved_n_modules(n_genes),
            mu=torch.zeros(n_genes),
            config=config,
        )
        load_state(module, state, dir_path=dir_path, kind="PerturbODE")
        module.eval()
        model.module = module
        model.history = history
        return model

    def __repr__(self) -> str:
        state = "trained" if self.module is not None else "untrained"
        return (
            f"PerturbODE({state}, {len(self.var_names)} genes, "
            f"{self.config.resolved_n_modules(len(self.var_names))} modules, "
            f"{len(self.perturbations)} perturbations, intervention={self.config.intervention!r})"
        )
