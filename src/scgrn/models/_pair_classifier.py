"""Supervised gene-pair classifiers on time series (no AnnData here).

Haque, Kondaveeti & Schmittling, "Using Neural Networks to Identify Gene Regulatory
Relationships": learn, from networks whose edges are known, which ordered gene pairs
``(regulator, target)`` are direct causal edges, using the two genes' time courses; then
score every ordered pair of a new network. Three architectures, all with a sigmoid output:

``"lstm"``
    The ``T x 2`` sequence (regulator, target) into an LSTM layer, dropout 0.2, a dense
    sigmoid unit; Adam with learning rate 0.01 (the paper's settings).
``"cnn"``
    The pair as a one-channel ``2 x T`` image into a LeNet-5-style network (two
    convolution + average-pooling stages with 6 and 16 maps, dense 120 -> 84 -> 1).
``"ae"``
    An autoencoder compresses every gene's time course to a ``latent_dim``-vector (3 in the
    paper); a two-branch network (one branch per gene of the pair, concatenated, then three
    dense layers) classifies the pair. Batch size, epochs and optimiser are chosen by a
    small grid search with inner leave-one-network-out validation on the training networks.

Data layout: a network's expression is an array ``x[series, time, gene]`` (a DREAM4 network
has 10 series of 21 time points) and its truth an adjacency matrix ``A[regulator, target]``.

How the series of a pair are combined (``combine=``; the default depends on the
architecture, see :data:`ARCH_DEFAULTS`):

``"average"`` (LSTM, AE + NN)
    As in the paper, every (series, ordered pair) is one training sample: the model sees one
    series' two time courses at a time. At prediction the pair's probability is averaged
    over its series (``aggregate="mean"``; ``"max"`` is the alternative).
``"pool"`` (CNN)
    A sample is an ordered pair with all its series: the per-series network runs on each
    series and its representation (the 120-unit layer of the LeNet) is averaged over the
    series before the output layers, so that the model can weigh evidence across series
    (in DREAM4 a regulator moves only in the series that perturb it). Any number of series
    works. With one series this is exactly the single-series model.

Labels: 1 for a direct edge ``i -> j``, 0 otherwise (the reverse direction and indirect /
feed-forward pairs are 0); self-pairs are never used. Training epochs are balanced: all
positives plus ``neg_ratio`` (1) times as many negatives, redrawn every epoch so that all
negatives get used over the epochs. By default (``negatives="matched"``) each negative
shares its regulator or its target with a positive: with uniformly drawn negatives the
networks learn mostly "does this course look like a regulator's" from the few regulators
of the training networks, which does not transfer to a new network (measured on DREAM4).
An ensemble of ``n_models`` (5) independently seeded classifiers is averaged.

Normalisation (per network, before anything else; ``normalize=``):
``"gene"`` (default) z-scores each gene over all series and time points of its network, so
a course keeps its level and amplitude relative to the gene's overall behaviour (in DREAM4
the perturbed series stand out); ``"series"`` z-scores each (series, gene) course on its own
(shape only; the standard deviation is floored at 0.1 x the gene's overall one so that flat
courses are not blown up into noise); ``"minmax"`` maps each gene to ``[0, 1]`` over its
network; ``"none"`` uses the values as given.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .._params import check_random_state
from .._settings import resolve_device, resolve_progress_bar
from ._base import config_from_saved, load_model_files, load_state, save_model_files, warn_renamed

# the pieces live in _pair_classifier_{config,data,module,training}; they are re-exported here
# because scgrn.tl, the tests and the benchmarks import them from this module
from ._pair_classifier_config import (  # noqa: F401
    AE_GRID,
    AGGREGATES,
    ARCH_DEFAULTS,
    ARCHS,
    COMBINES,
    NEGATIVES,
    NORMALIZATIONS,
    OPTIMIZERS,
    PairClassifierConfig,
)
from ._pair_classifier_data import (  # noqa: F401
    _as_network,
    _course_ids,
    _epoch_batches,
    _matched_negatives,
    _Network,
    _pair_index,
    balanced_sample,
    network_pairs,
    normalize_series,
    pair_labels,
)
from ._pair_classifier_module import (
    CourseAutoencoder,
    LeNetPair,
    LSTMPair,
    TwoBranchPair,
)
from ._pair_classifier_training import (  # noqa: F401
    _average_precision,
    _make_optimizer,
    _predict_network,
    _train_classifier,
)

__all__ = [
    "PairClassifier",
    "PairClassifierConfig",
    "pair_labels",
    "balanced_sample",
    "normalize_series",
    "ARCHS",
]


class PairClassifier:
    """A supervised regulator -> target pair classifier on time series (LSTM, CNN or AE + NN).

    Trained on networks with known edges (:meth:`train`), it scores every ordered gene pair of
    another network (:meth:`predict`). Works on arrays ``x[series, time, gene]``; use
    :func:`scgrn.tl.pair_classifier` for AnnData.

    Parameters
    ----------
    arch
        ``"lstm"``, ``"cnn"`` or ``"ae"`` (see :mod:`scgrn.models._pair_classifier`).
    random_state
        Seed of initialisation, negative sampling and dropout; the same seed gives the same
        model on CPU.
    device
        ``"auto"`` (CUDA, then MPS, then CPU) or a torch device string.
    **hyperparameters
        Any field of :class:`PairClassifierConfig`.

    Examples
    --------
    >>> import numpy as np
    >>> from scgrn.models import PairClassifier
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((3, 21, 6)).astype("float32")      # 3 series, 21 times, 6 genes
    >>> A = np.zeros((6, 6), bool); A[0, 1] = A[2, 3] = True
    >>> clf = PairClassifier("cnn", n_epochs=2, n_models=1).train([(x, A)], show_progress_bar=False)
    >>> clf.predict(x).shape
    (6, 6)
    """

    def __init__(self, arch: str = "lstm", *, random_state: int = 0, device="auto", **hyperparameters):
        self.config = PairClassifierConfig.from_dict({"arch": arch, **hyperparameters})  # unknown names listed
        self.random_state = check_random_state(random_state)  # None: a fresh seed, kept here
        self.device = resolve_device(device)
        self.module: nn.Module | None = None
        self.autoencoder: CourseAutoencoder | None = None
        self.n_times: int | None = None
        self.history: dict[str, list[float]] = {}
        self.grid_results: list[dict] = []
        self.chosen: dict = {}
        self.training_time_s: float = float("nan")  # wall-clock seconds of the last train()
        self.training_cpu_time_s: float = float("nan")  # process CPU seconds of the last train()
        self.n_train_networks: int = 0

    # -- building blocks -------------------------------------------------------------------
    def _new_module(self) -> nn.Module:
        c = self.config
        if c.arch == "lstm":
            return LSTMPair(c.hidden_dim, c.dropout)
        if c.arch == "cnn":
            return LeNetPair(self.n_times, c.dropout)
        return TwoBranchPair(c.latent_dim, c.hidden_dim, c.dropout)

    def _inputs(self, courses: np.ndarray) -> torch.Tensor:
        """What the classifier indexes into, ``(2, n_courses, d)``: the courses (or their AE
        latents) and those of the negated courses (for the sign-flip augmentation)."""
        t = torch.as_tensor(courses, device=self.device)
        t = torch.stack([t, -t])
        if self.config.arch != "ae":
            return t
        with torch.no_grad():
            return self.autoencoder.encoder(t)

    def _train_autoencoder(self, courses: np.ndarray, rng: np.random.Generator, show: bool) -> None:
        c = self.config
        self.autoencoder = CourseAutoencoder(self.n_times, c.hidden_dim, c.latent_dim).to(self.device)
        opt = torch.optim.Adam(self.autoencoder.parameters(), lr=c.ae_lr)
        data = torch.as_tensor(courses, device=self.device)
        hist = []
        for _ in tqdm(range(c.ae_epochs), disable=not show, desc="autoencoder"):
            perm = torch.as_tensor(rng.permutation(data.shape[0]), device=self.device)
            total = 0.0
            for start in range(0, data.shape[0], 256):
                xb = data[perm[start : start + 256]]
                loss = ((self.autoencoder(xb) - xb) ** 2).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * xb.shape[0]
            hist.append(total / data.shape[0])
        self.autoencoder.eval()
        self.history["autoencoder_loss"] = hist

    # -- train / predict -------------------------------------------------------------------
    def train(self, networks, *, show_progress_bar: bool | None = None) -> "PairClassifier":
        """Train on networks with known edges (wall and CPU seconds in ``training_time_s``,
        ``training_cpu_time_s``).

        Parameters
        ----------
        networks
            A list of ``(x, adjacency)``: ``x`` an array ``(series, time, gene)`` (or
            ``(time, gene)`` for a single series), ``adjacency`` a boolean ``(gene, gene)``
            matrix, row = regulator, column = target. Networks may differ in genes and
            series but must share the number of time points.
        show_progress_bar
            Progress bar over epochs (``None``: ``scgrn.settings.show_progress_bar``).

        Returns
        -------
        ``self`` (trained).

        Examples
        --------
        >>> import numpy as np
        >>> from scgrn.models import PairClassifier
        >>> x = np.random.default_rng(0).random((3, 21, 6)).astype("float32")
        >>> A = np.zeros((6, 6), bool); A[0, 1] = A[2, 3] = True
        >>> clf = PairClassifier("lstm", n_epochs=1, n_models=1).train([(x, A)], show_progress_bar=False)
        >>> clf.n_times
        21
        """
        c = self.config
        show = resolve_progress_bar(show_progress_bar)
        nets = [_as_network(x, a, c.normalize) for x, a in network_pairs(networks)]
        n_times = {n.courses.shape[1] for n in nets}
        if len(n_times) > 1:
            raise ValueError(
                f"All training networks must have the same number of time points; got {sorted(n_times)}."
            )
        if any(int(n.y.sum()) == 0 for n in nets):
            raise ValueError("A training network has no true edge; each needs at least one positive pair.")
        self.n_times = n_times.pop()
        self.n_train_networks = len(nets)
        t0, c0 = time.perf_counter(), time.process_time()
        rng = np.random.default_rng(self.random_state)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            courses = np.concatenate([n.courses for n in nets])
            offsets = np.cumsum([0] + [n.courses.shape[0] for n in nets[:-1]])
            if c.arch == "ae":
                self._train_autoencoder(courses, rng, show)
            inputs = self._inputs(courses)
            settings = {"n_epochs": c.n_epochs, "batch_size": c.batch_size, "optimizer": c.optimizer, "lr": c.lr}
            if c.arch == "ae" and c.grid_search:
                settings.update(self._grid_search(nets, inputs, offsets, rng))
            self.chosen = dict(settings)
            self.module = nn.ModuleList([self._new_module() for _ in range(c.n_models)])
            self.history["loss"] = []
            for m, member in enumerate(self.module):
                self.history["loss"].append(self._train_member(member, inputs, nets, offsets, settings, rng, show, m))
        self.training_time_s = time.perf_counter() - t0
        self.training_cpu_time_s = time.process_time() - c0
        return self

    def fit(self, networks, *, show_progress_bar: bool | None = None) -> "PairClassifier":
        """Deprecated alias of :meth:`train` (FutureWarning)."""
        warn_renamed("PairClassifier.fit", "PairClassifier.train")
        return self.train(networks, show_progress_bar=show_progress_bar)

    @property
    def fit_seconds(self) -> float:
        """Deprecated alias of ``training_time_s`` (FutureWarning)."""
        warn_renamed("PairClassifier.fit_seconds", "PairClassifier.training_time_s")
        return self.training_time_s

    @property
    def fit_cpu_seconds(self) -> float:
        """Deprecated alias of ``training_cpu_time_s`` (FutureWarning)."""
        warn_renamed("PairClassifier.fit_cpu_seconds", "PairClassifier.training_cpu_time_s")
        return self.training_cpu_time_s

    def _train_member(self, member, inputs, nets, offsets, settings, rng, show, m) -> list[float]:
        c = self.config
        return _train_classifier(
            member, inputs, nets, offsets, combine=c.combine, negatives=c.negatives,
            n_epochs=int(settings["n_epochs"]), batch_size=int(settings["batch_size"]),
            lr=float(settings["lr"]), optimizer=str(settings["optimizer"]),
            weight_decay=c.weight_decay, clip_grad=c.clip_grad, neg_ratio=c.neg_ratio,
            resample=c.resample_negatives, augment=c.augment, rng=rng, device=self.device,
            show_progress_bar=show and m == 0, desc=f"member {m + 1}/{c.n_models}",
        )

    def _grid_search(self, nets, inputs, offsets, rng) -> dict:
        """Inner validation of the AE classifier's grid; returns the best setting."""
        c = self.config
        grid = {"batch_size": [c.batch_size], "n_epochs": [c.n_epochs], "optimizer": [c.optimizer], "lr": [c.lr]}
        grid.update({k: list(v) for k, v in c.grid.items()})
        keys = list(grid)
        combos = [dict(zip(keys, vals)) for vals in itertools.product(*(grid[k] for k in keys))]
        # folds: leave one training network out; a single network: hold out 25 % of its pairs
        folds = []
        if len(nets) >= 2:
            for v in range(len(nets)):
                tr = [i for i in range(len(nets)) if i != v]
                folds.append(([nets[i] for i in tr], offsets[tr], nets[v], offsets[v]))
        else:
            net = nets[0]
            val = np.zeros(net.y.size, bool)
            val[rng.choice(net.y.size, size=max(1, net.y.size // 4), replace=False)] = True
            train_net, val_net = net.subset(~val), net.subset(val)
            folds.append(([train_net], offsets[:1], val_net, offsets[0]))
        self.grid_results = []
        for combo in combos:
            scores = []
            for tr_nets, tr_off, val_net, val_off in folds:
                module = self._new_module()
                _train_classifier(
                    module, inputs, tr_nets, np.asarray(tr_off), combine=c.combine, negatives=c.negatives,
                    n_epochs=int(combo["n_epochs"]), batch_size=int(combo["batch_size"]),
                    lr=float(combo["lr"]), optimizer=str(combo["optimizer"]),
                    weight_decay=c.weight_decay, clip_grad=c.clip_grad, neg_ratio=c.neg_ratio,
                    resample=c.resample_negatives, augment=c.augment, rng=rng, device=self.device,
                    show_progress_bar=False,
                )
                # the validation network's course ids start at its offset in ``inputs``
                p = _predict_network(
                    module, inputs[:, int(val_off):], val_net, combine=c.combine, aggregate=c.aggregate
                )
                scores.append(_average_precision(val_net.y, p))
            self.grid_results.append({**{k: combo[k] for k in keys}, "val_average_precision": float(np.nanmean(scores))})
        best = max(self.grid_results, key=lambda r: (np.nan_to_num(r["val_average_precision"], nan=-1.0)))
        return {k: best[k] for k in keys}

    def _require_trained(self) -> nn.Module:
        if self.module is None:
            raise RuntimeError("The PairClassifier is not trained yet: call `.train(networks)` first.")
        return self.module

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probability of every ordered pair being a direct edge, as a ``(gene, gene)`` matrix.

        Parameters
        ----------
        x
            ``(series, time, gene)`` (or ``(time, gene)``) expression of the network to score;
            normalised like the training networks. The number of time points must match
            training.

        Returns
        -------
        float32 ``(n_genes, n_genes)``, row = regulator, column = target, diagonal 0; each
        entry the per-series probabilities aggregated by ``config.aggregate``.

        Examples
        --------
        >>> import numpy as np
        >>> from scgrn.models import PairClassifier
        >>> x = np.random.default_rng(0).random((3, 21, 6)).astype("float32")
        >>> A = np.zeros((6, 6), bool); A[0, 1] = A[2, 3] = True
        >>> clf = PairClassifier("cnn", n_epochs=1, n_models=1).train([(x, A)], show_progress_bar=False)
        >>> p = clf.predict(x)
        >>> p.shape, float(p.diagonal().max()), bool(((p >= 0) & (p <= 1)).all())
        ((6, 6), 0.0, True)
        """
        module = self._require_trained()
        net = _as_network(x, None, self.config.normalize)
        if net.courses.shape[1] != self.n_times:
            raise ValueError(
                f"The model was trained on {self.n_times} time points but x has "
                f"{net.courses.shape[1]}. Use the same time grid."
            )
        inputs = self._inputs(net.courses)
        p = _predict_network(module, inputs, net, combine=self.config.combine, aggregate=self.config.aggregate)
        out = np.zeros((net.n_genes, net.n_genes), dtype=np.float32)
        out[net.reg, net.tgt] = p
        return out

    def params(self) -> dict:
        """Every hyperparameter, the settings actually used (grid choice) and the seed.

        Examples
        --------
        >>> import numpy as np
        >>> from scgrn.models import PairClassifier
        >>> x = np.random.default_rng(0).random((3, 21, 6)).astype("float32")
        >>> A = np.zeros((6, 6), bool); A[0, 1] = A[2, 3] = True
        >>> clf = PairClassifier("cnn", n_epochs=1, n_models=1).train([(x, A)], show_progress_bar=False)
        >>> clf.params()["arch"], clf.params()["random_state"]
        ('cnn', 0)
        """
        chosen = {f"used_{k}": v for k, v in self.chosen.items()}
        return {**self.config.to_dict(), **chosen, "random_state": self.random_state}

    # -- persistence -----------------------------------------------------------------------
    def save(self, dir_path: str | Path, *, overwrite: bool = False) -> None:
        """Save weights, hyperparameters and training history to a folder (``model.json``,
        ``model.pt``; see :mod:`scgrn.models._base`).

        Examples
        --------
        >>> import tempfile, numpy as np
        >>> from scgrn.models import PairClassifier
        >>> x = np.random.default_rng(0).random((2, 21, 5)).astype("float32")
        >>> A = np.eye(5, k=1, dtype=bool)
        >>> clf = PairClassifier("lstm", n_epochs=1, n_models=2).train([(x, A)], show_progress_bar=False)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     clf.save(d, overwrite=True)
        ...     same = PairClassifier.load(d)
        >>> bool(np.array_equal(same.predict(x), clf.predict(x)))
        True
        """
        module = self._require_trained()
        state = {"module": module.state_dict()}
        if self.autoencoder is not None:
            state["autoencoder"] = self.autoencoder.state_dict()
        meta = {
            "config": self.config.to_dict(),
            "random_state": self.random_state,
            "n_times": self.n_times,
            "history": self.history,
            "grid_results": self.grid_results,
            "chosen": self.chosen,
            "training_time_s": float(self.training_time_s),
            "training_cpu_time_s": float(self.training_cpu_time_s),
            "n_train_networks": self.n_train_networks,
        }
        save_model_files(dir_path, meta, state, kind="PairClassifier", overwrite=overwrite)

    @classmethod
    def load(cls, dir_path: str | Path, *, device="auto") -> "PairClassifier":
        """Load a model saved with :meth:`save`.

        Parameters
        ----------
        dir_path
            The folder written by :meth:`save`.
        device
            ``"auto"`` (CUDA, then MPS, then CPU) or a torch device string.

        Raises
        ------
        FileNotFoundError
            The folder or one of its files is missing.
        ValueError
            (:class:`~scgrn.models._base.ModelFileError`) The folder is damaged, holds
            another model, or was written by a newer scgrn.

        Examples
        --------
        >>> import tempfile, numpy as np
        >>> from scgrn.models import PairClassifier
        >>> x = np.random.default_rng(0).random((2, 21, 5)).astype("float32")
        >>> A = np.eye(5, k=1, dtype=bool)
        >>> clf = PairClassifier("cnn", n_epochs=1, n_models=1).train([(x, A)], show_progress_bar=False)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     clf.save(d)
        ...     PairClassifier.load(d, device="cpu")
        PairClassifier(trained, arch='cnn', normalize='gene')
        """
        required = ("config", "random_state", "n_times", "history", "n_train_networks")
        meta, state, _ = load_model_files(dir_path, kind="PairClassifier", required=required)
        model = cls.__new__(cls)
        model.config = config_from_saved(
            PairClassifierConfig, meta["config"], meta=meta, dir_path=dir_path, kind="PairClassifier"
        )
        model.random_state = int(meta["random_state"])
        model.device = resolve_device(device)
        model.n_times = int(meta["n_times"])
        model.history = {k: list(v) for k, v in meta["history"].items()}
        model.grid_results = list(meta.get("grid_results", []))
        model.chosen = dict(meta.get("chosen", {}))
        # format version 0 named the timings fit_seconds and fit_cpu_seconds
        model.training_time_s = float(meta.get("training_time_s", meta.get("fit_seconds", "nan")))
        model.training_cpu_time_s = float(meta.get("training_cpu_time_s", meta.get("fit_cpu_seconds", "nan")))
        model.n_train_networks = int(meta["n_train_networks"])
        model.autoencoder = None
        if "autoencoder" in state:
            model.autoencoder = CourseAutoencoder(model.n_times, model.config.hidden_dim, model.config.latent_dim)
            load_state(model.autoencoder, state["autoencoder"], dir_path=dir_path, kind="PairClassifier")
            model.autoencoder.to(model.device).eval()
        model.module = nn.ModuleList([model._new_module() for _ in range(model.config.n_models)])
        load_state(model.module, state.get("module", {}), dir_path=dir_path, kind="PairClassifier")
        model.module.to(model.device).eval()
        return model

    def __repr__(self) -> str:
        state = "trained" if self.module is not None else "untrained"
        return f"PairClassifier({state}, arch={self.config.arch!r}, normalize={self.config.normalize!r})"
