"""Training and scoring a pair classifier: mini-batch BCE on balanced epochs, and the
probabilities of every ordered pair of a network (one classifier or an ensemble)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ._pair_classifier_data import _course_ids, _epoch_batches, _Network


def _make_optimizer(name: str, params, lr: float, weight_decay: float):
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)


def _train_classifier(
    module: nn.Module,
    inputs: torch.Tensor,
    nets: list[_Network],
    offsets: np.ndarray,
    *,
    combine: str,
    negatives: str,
    n_epochs: int,
    batch_size: int,
    lr: float,
    optimizer: str,
    weight_decay: float,
    clip_grad: float,
    neg_ratio: float,
    resample: bool,
    augment: bool,
    rng: np.random.Generator,
    device: torch.device,
    show_progress_bar: bool,
    desc: str = "epochs",
) -> list[float]:
    """Mini-batch BCE training on balanced epochs; returns the mean loss of every epoch."""
    module.to(device).train()
    opt = _make_optimizer(optimizer, module.parameters(), lr, weight_decay)
    loss_fn = nn.BCEWithLogitsLoss(reduction="sum")
    history = []
    kw = dict(combine=combine, negatives=negatives, neg_ratio=neg_ratio, batch_size=batch_size)
    batches = _epoch_batches(nets, offsets, rng=rng, **kw)
    for epoch in tqdm(range(n_epochs), disable=not show_progress_bar, desc=desc):
        if epoch > 0:
            if resample:
                batches = _epoch_batches(nets, offsets, rng=rng, **kw)
            else:
                batches = [batches[i] for i in rng.permutation(len(batches))]
        total, count = 0.0, 0
        for a, b, y in batches:
            ta = torch.as_tensor(a, device=device)
            tb = torch.as_tensor(b, device=device)
            ty = torch.as_tensor(y, device=device)
            if augment:  # inputs[1] holds the features of the negated courses
                fa = torch.as_tensor(rng.integers(0, 2, size=(y.size, 1)), device=device)
                fb = torch.as_tensor(rng.integers(0, 2, size=(y.size, 1)), device=device)
                xa, xb = inputs[fa, ta], inputs[fb, tb]
            else:
                xa, xb = inputs[0, ta], inputs[0, tb]
            loss = loss_fn(module(xa, xb), ty)
            opt.zero_grad(set_to_none=True)
            (loss / y.size).backward()
            if clip_grad > 0:
                nn.utils.clip_grad_norm_(module.parameters(), clip_grad)
            opt.step()
            total += float(loss.detach())
            count += y.size
        history.append(total / max(count, 1))
    module.eval()
    return history


@torch.no_grad()
def _predict_network(
    modules,
    inputs: torch.Tensor,
    net: _Network,
    *,
    combine: str,
    aggregate: str,
    batch: int = 2048,
) -> np.ndarray:
    """Probability of each pair of ``net`` (order of ``net.reg`` / ``net.tgt``).

    All course ids are built at once with numpy indexing; pairs are scored in large
    batches. ``modules`` is one classifier or an ensemble (iterable) whose probabilities
    are averaged. ``combine="average"`` scores each series separately and aggregates the
    probabilities over series (mean or max).
    """
    modules = list(modules) if isinstance(modules, nn.ModuleList) else [modules]
    for module in modules:
        module.eval()
    inputs = inputs[0]
    pairs = np.arange(net.reg.size)
    a, b = _course_ids(net, 0, pairs, None)  # (P, S)
    ta = torch.as_tensor(a, device=inputs.device)
    tb = torch.as_tensor(b, device=inputs.device)
    if combine != "pool":
        ta, tb = ta.reshape(-1, 1), tb.reshape(-1, 1)  # every (pair, series) on its own
        batch *= 8
    probs = torch.zeros(ta.shape[0], device=inputs.device)
    for start in range(0, ta.shape[0], batch):
        sl = slice(start, start + batch)
        xa, xb = inputs[ta[sl]], inputs[tb[sl]]
        for module in modules:
            probs[sl] += torch.sigmoid(module(xa, xb))
    probs /= len(modules)
    if combine != "pool":
        probs = probs.reshape(pairs.size, net.n_series)
        probs = probs.mean(1) if aggregate == "mean" else probs.max(1).values
    return probs.cpu().numpy().astype(np.float32)


def _average_precision(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, s)) if y.any() else float("nan")

