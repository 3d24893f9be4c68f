"""Classification metrics shared by datasets and the trainer (one definition each).

Example:
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    >>> accuracy(logits, torch.tensor([0, 0]), multilabel=False)
    0.5
"""

from __future__ import annotations

import torch

__all__ = ["accuracy", "correct_count", "micro_f1"]


def correct_count(logits: torch.Tensor, targets: torch.Tensor, multilabel: bool) -> float:
    """Single-label: argmax hits; multi-label: per-row fraction of correct 0/1 entries, summed.

    Shapes:
        logits: ``[n, C]``; targets: ``[n]`` class ids, or ``[n, C]`` 0/1 when multi-label.
    """
    if multilabel:
        return float(((logits > 0).float() == targets.float()).float().mean(dim=-1).sum())
    return float((logits.argmax(dim=-1) == targets).sum())


def accuracy(logits: torch.Tensor, targets: torch.Tensor, multilabel: bool) -> float:
    """:func:`correct_count` divided by ``n``.

    Raises:
        ValueError: for an empty batch (an accuracy of nothing means nothing).
    """
    if targets.shape[0] == 0:
        raise ValueError("accuracy of an empty set of nodes is undefined")
    return correct_count(logits, targets, multilabel) / targets.shape[0]


def micro_f1(true: torch.Tensor, predicted: torch.Tensor) -> float:
    """Micro-averaged F1 of boolean ``[n, C]`` predictions (0.0 when there are no positives).

    Example:
        >>> micro_f1(torch.tensor([[True, False]]), torch.tensor([[True, True]]))
        0.6666666666666666
    """
    true_positive = int((true & predicted).sum())
    false_positive = int((~true & predicted).sum())
    false_negative = int((true & ~predicted).sum())
    denominator = 2 * true_positive + false_positive + false_negative
    return 2 * true_positive / denominator if denominator else 0.0
