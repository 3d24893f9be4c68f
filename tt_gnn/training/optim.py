"""The optimizers of a run: Adam for dense parameters, SparseAdam for a sparse full table.

A full ``nn.Embedding`` table trains the way users train large tables (DGL's and PyG's
examples): ``sparse=True`` gradients and ``torch.optim.SparseAdam``, which touches only the rows
of the batch. Dense Adam on the table would update all ``N x D`` entries every step (measured at
ogbn-products size: 0.016M rows/s against 0.5M for SparseAdam). SparseAdam has no weight decay:
``weight_decay`` applies to the dense parameters only.

Example:
    >>> model = torch.nn.Sequential(torch.nn.Embedding(10, 4, sparse=True), torch.nn.Linear(4, 2))
    >>> optimizers = Optimizers.for_model(model, lr=0.01, weight_decay=0.0)
    >>> optimizers.name
    'SparseAdam (sparse embedding) + Adam'
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["Optimizers"]


class Optimizers:
    """Adam on the dense parameters plus SparseAdam on sparse-gradient embeddings, as one."""

    def __init__(self, optimizers: list[torch.optim.Optimizer], name: str) -> None:
        self.optimizers = optimizers
        self.name = name

    @classmethod
    def for_model(cls, model: nn.Module, *, lr: float, weight_decay: float) -> Optimizers:
        """SparseAdam for every ``nn.Embedding(sparse=True)``'s weight, Adam for the rest."""
        sparse_ids = {
            id(module.weight)
            for module in model.modules()
            if isinstance(module, nn.Embedding) and module.sparse
        }
        sparse = [p for p in model.parameters() if id(p) in sparse_ids]
        dense = [p for p in model.parameters() if id(p) not in sparse_ids]
        optimizers: list[torch.optim.Optimizer] = []
        names = []
        if sparse:
            optimizers.append(torch.optim.SparseAdam(sparse, lr=lr))
            names.append("SparseAdam (sparse embedding)")
        if dense:
            optimizers.append(torch.optim.Adam(dense, lr=lr, weight_decay=weight_decay))
            names.append("Adam")
        return cls(optimizers, " + ".join(names))

    def zero_grad(self) -> None:
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)

    def step(self) -> None:
        for optimizer in self.optimizers:
            optimizer.step()

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name, "states": [o.state_dict() for o in self.optimizers]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore; raises ValueError when the checkpoint's optimizers differ from these."""
        if not isinstance(state, dict) or state.get("name") != self.name:
            found = state.get("name") if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"checkpoint optimizer {found!r} does not match {self.name!r}")
        for optimizer, saved in zip(self.optimizers, state["states"], strict=True):
            optimizer.load_state_dict(saved)
