"""The dataset type every loader returns, and its metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from tt_gnn.metrics import accuracy, micro_f1

__all__ = ["NodeDataset", "micro_f1"]


@dataclass
class NodeDataset:
    """A node-classification dataset: one graph, labels, a split and a metric.

    Attributes:
        name: the dataset name (``"cora"``, ``"ogbn-arxiv"``, ``"synthetic"``, a file stem).
        graph: a :class:`tt_gnn.graph.Graph` on the CPU; undirected edges in both directions,
            no duplicates, no self-loops.
        labels: single-label: int64 ``[N]`` with ``-1`` for unknown; multi-label: float32
            ``[N, C]`` of 0/1.
        num_classes: ``C``.
        multilabel: whether ``labels`` is ``[N, C]``.
        train_idx, val_idx, test_idx: int64 node ids, disjoint, labeled nodes only.
        features: float32 ``[N, F]`` when the dataset has node features and they were
            requested, else ``None``.
        metric: ``"accuracy"`` (single-label), ``"micro_f1"`` (multi-label npz/CSV data,
            positive where the logit is > 0) or ``"rocauc"`` (OGB multi-task, e.g.
            ogbn-proteins); :meth:`evaluate` computes it.
        split_description: where the split comes from, e.g. ``"Planetoid public split"``,
            ``"random 60/20/20 split of labeled nodes, seed 0"``, ``"OGB official split"``.
        ogb_evaluator: OGB's ``Evaluator`` for OGB datasets (used by :meth:`evaluate`).

    Example:
        >>> from tt_gnn.data import load_dataset
        >>> dataset = load_dataset("synthetic", num_nodes=1000)
        >>> logits = torch.zeros(dataset.num_nodes, dataset.num_classes)
        >>> 0.0 <= dataset.evaluate(logits, dataset.test_idx) <= 1.0
        True
    """

    name: str
    graph: Any
    labels: torch.Tensor
    num_classes: int
    multilabel: bool
    train_idx: torch.Tensor
    val_idx: torch.Tensor
    test_idx: torch.Tensor
    features: torch.Tensor | None
    metric: str
    split_description: str
    ogb_evaluator: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        num_nodes = self.num_nodes
        if self.multilabel:
            if self.labels.dtype != torch.float32 or self.labels.shape != (
                num_nodes,
                self.num_classes,
            ):
                raise ValueError(
                    f"multi-label labels must be float32 [{num_nodes}, {self.num_classes}], got "
                    f"{self.labels.dtype} {tuple(self.labels.shape)}"
                )
        elif self.labels.dtype != torch.int64 or self.labels.shape != (num_nodes,):
            raise ValueError(
                f"single-label labels must be int64 [{num_nodes}], got {self.labels.dtype} "
                f"{tuple(self.labels.shape)}"
            )
        if self.features is not None and (
            self.features.dtype != torch.float32
            or self.features.dim() != 2
            or self.features.shape[0] != num_nodes
        ):
            raise ValueError(
                f"features must be float32 [{num_nodes}, F], got {self.features.dtype} "
                f"{tuple(self.features.shape)}"
            )
        coverage = torch.zeros(num_nodes, dtype=torch.int8)
        for split_name in ("train_idx", "val_idx", "test_idx"):
            idx = getattr(self, split_name)
            if idx.dtype != torch.int64 or idx.dim() != 1:
                raise ValueError(
                    f"{split_name} must be int64 [n], got {idx.dtype} {tuple(idx.shape)}"
                )
            if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= num_nodes):
                raise ValueError(
                    f"{split_name} holds ids in [{int(idx.min())}, {int(idx.max())}], outside "
                    f"0..{num_nodes - 1}"
                )
            if not self.multilabel and idx.numel() and bool((self.labels[idx] < 0).any()):
                raise ValueError(f"{split_name} contains unlabeled nodes (label -1)")
            coverage.index_add_(0, idx, torch.ones(idx.numel(), dtype=torch.int8))
        if coverage.numel() and int(coverage.max()) > 1:
            raise ValueError("train_idx, val_idx and test_idx must be disjoint and duplicate-free")

    def __repr__(self) -> str:
        features = (
            "None" if self.features is None else f"[{self.num_nodes}, {self.features.shape[1]}]"
        )
        return (
            f"NodeDataset(name={self.name!r}, num_nodes={self.num_nodes}, "
            f"num_edges={int(self.graph.num_edges())}, num_classes={self.num_classes}, "
            f"multilabel={self.multilabel}, train/val/test={len(self.train_idx)}/"
            f"{len(self.val_idx)}/{len(self.test_idx)}, features={features}, "
            f"metric={self.metric!r}, split_description={self.split_description!r})"
        )

    @property
    def num_nodes(self) -> int:
        """``N``, the number of nodes of :attr:`graph`."""
        return int(self.graph.num_nodes())

    def evaluate(self, logits_or_scores: torch.Tensor, idx: torch.Tensor) -> float:
        """The dataset's :attr:`metric` of predictions on the nodes ``idx``.

        Args:
            logits_or_scores: ``[len(idx), C]`` (row ``k`` belongs to node ``idx[k]``) or
                ``[N, C]`` for all nodes (then the rows ``idx`` are used). When
                ``len(idx) == N`` the rows are taken as aligned with ``idx``. Single-label:
                any scores whose argmax is the prediction. Multi-label ``micro_f1``: logits,
                a class is predicted where its logit is > 0. ``rocauc``: any scores.
            idx: int64 ``[n]`` labeled node ids, e.g. :attr:`test_idx`.

        Returns:
            accuracy, micro-F1 or ROC-AUC (OGB datasets use OGB's ``Evaluator``).

        Example:
            >>> from tt_gnn.data import load_dataset
            >>> dataset = load_dataset("synthetic", num_nodes=1000)
            >>> scores = torch.nn.functional.one_hot(dataset.labels, dataset.num_classes)
            >>> dataset.evaluate(scores.float(), dataset.val_idx)
            1.0
        """
        idx = torch.as_tensor(idx).detach().cpu()
        if idx.dtype not in (torch.int64, torch.int32) or idx.dim() != 1:
            raise ValueError(
                f"idx must be a 1-D integer tensor, got {idx.dtype} {tuple(idx.shape)}"
            )
        if idx.numel() == 0:
            raise ValueError("idx is empty: nothing to evaluate")
        idx = idx.long()
        scores = logits_or_scores.detach().cpu()
        if scores.dim() != 2 or scores.shape[1] != self.num_classes:
            raise ValueError(
                f"expected scores of shape [{idx.numel()} or {self.num_nodes}, "
                f"{self.num_classes}], got {tuple(scores.shape)}"
            )
        if scores.shape[0] == idx.numel():
            pass
        elif scores.shape[0] == self.num_nodes:
            scores = scores[idx]
        else:
            raise ValueError(
                f"scores have {scores.shape[0]} rows; expected one per id in idx "
                f"({idx.numel()}) or one per node ({self.num_nodes})"
            )
        if int(idx.min()) < 0 or int(idx.max()) >= self.num_nodes:
            raise ValueError(f"idx holds ids outside 0..{self.num_nodes - 1}")
        true = self.labels[idx]
        if self.multilabel:
            if self.metric == "rocauc":
                return self._ogb_eval(true, scores.float())
            return micro_f1(true > 0.5, scores > 0)
        if bool((true < 0).any()):
            raise ValueError("idx contains unlabeled nodes (label -1); evaluate labeled nodes only")
        predicted = scores.argmax(dim=1)
        if self.ogb_evaluator is not None:
            return self._ogb_eval(true[:, None], predicted[:, None])
        return accuracy(scores, true, multilabel=False)

    def _ogb_eval(self, true: torch.Tensor, predicted: torch.Tensor) -> float:
        if self.ogb_evaluator is None:
            raise ValueError(f"metric {self.metric!r} needs OGB's Evaluator, which is not set")
        result = self.ogb_evaluator.eval({"y_true": true, "y_pred": predicted})
        return float(result[self.ogb_evaluator.eval_metric])
