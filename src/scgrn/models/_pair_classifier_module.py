"""The pair classifiers' torch modules: LSTM, LeNet-5 CNN, and the course autoencoder with its
two-branch classifier (see :mod:`scgrn.models._pair_classifier`)."""

from __future__ import annotations

import torch
from torch import nn


class LSTMPair(nn.Module):
    """Each series' ``(T, 2)`` sequence -> LSTM (last state) -> mean over series -> dropout -> logit.

    Inputs ``a``, ``b``: ``(B, S, T)`` courses of the regulator and of the target in ``S``
    series (``S = 1``: the paper's single-sequence model).
    """

    def __init__(self, hidden_dim: int = 32, dropout: float = 0.2):
        super().__init__()
        self.lstm = nn.LSTM(2, hidden_dim, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_dim, 1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        n, s, t = a.shape
        _, (h, _) = self.lstm(torch.stack([a, b], dim=-1).reshape(n * s, t, 2))
        h = h[-1].reshape(n, s, -1).mean(1)
        return self.out(self.dropout(h)).squeeze(-1)


class LeNetPair(nn.Module):
    """LeNet-5 on a one-channel ``2 x T`` image per series: conv(6) -> pool -> conv(16) -> pool
    -> 120 -> (mean over series) -> 84 -> 1.

    The first convolution (kernel ``2 x 5``, padding 1 row / 2 columns) sees both genes at
    once; each average pooling halves the time axis.
    """

    def __init__(self, n_times: int, dropout: float = 0.2):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=(2, 5), padding=(1, 2)),  # -> 6 x 3 x T
            nn.ReLU(),
            nn.AvgPool2d((1, 2)),  # -> 6 x 3 x T//2
            nn.Conv2d(6, 16, kernel_size=(2, 5), padding=(0, 2)),  # -> 16 x 2 x T//2
            nn.ReLU(),
            nn.AvgPool2d((1, 2)),  # -> 16 x 2 x T//4
            nn.Flatten(),
        )
        width = max(1, (n_times // 2) // 2)
        self.fc = nn.Sequential(nn.Linear(16 * 2 * width, 120), nn.ReLU())
        self.head = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 1)
        )

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        n, s, t = a.shape
        img = torch.stack([a, b], dim=2).reshape(n * s, 1, 2, t)
        h = self.fc(self.features(img)).reshape(n, s, -1).mean(1)
        return self.head(h).squeeze(-1)


class CourseAutoencoder(nn.Module):
    """Time course ``T`` -> hidden -> ``latent_dim`` -> hidden -> ``T``."""

    def __init__(self, n_times: int, hidden_dim: int = 32, latent_dim: int = 3):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_times, hidden_dim), nn.Tanh(), nn.Linear(hidden_dim, latent_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.Tanh(), nn.Linear(hidden_dim, n_times)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class TwoBranchPair(nn.Module):
    """Latent of the regulator and of the target through separate branches, concatenated,
    (mean over series), then three dense layers (the last one the logit)."""

    def __init__(self, latent_dim: int = 3, hidden_dim: int = 32, dropout: float = 0.2):
        super().__init__()

        def branch():
            return nn.Sequential(
                nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, hidden_dim), nn.ReLU()
            )

        self.branch_a = branch()
        self.branch_b = branch()
        self.head = nn.Sequential(
            nn.Linear(2 * hidden_dim, hidden_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, hidden_dim // 2),
            nn.ReLU(),
            nn.Linear(hidden_dim // 2, 1),
        )

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        h = torch.cat([self.branch_a(a), self.branch_b(b)], dim=-1).mean(1)  # (B, S, 2H) -> (B, 2H)
        return self.head(h).squeeze(-1)

