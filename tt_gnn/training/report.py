"""What a training run prints: one line per epoch and the final summary.

Example:
    >>> format_record({"epoch": 1, "loss": 0.5, "train_accuracy": 0.8, "val_accuracy": 0.7,
    ...                "seconds": 1.25}, epochs=3)
    'epoch   1/3  loss 0.5000  train_acc 0.8000  val_acc 0.7000  1.2s'
"""

from __future__ import annotations

from typing import Any

__all__ = ["format_record", "print_summary"]


def format_record(record: dict[str, float], epochs: int) -> str:
    parts = [f"epoch {int(record['epoch']):>3}/{epochs}", f"loss {record['loss']:.4f}",
             f"train_acc {record['train_accuracy']:.4f}"]  # fmt: skip
    for key, value in record.items():
        if key.startswith(("val_", "test_")):
            parts.append(f"{key.replace('accuracy', 'acc')} {value:.4f}")
    parts.append(f"{record['seconds']:.1f}s")
    return "  ".join(parts)


def print_summary(metrics: dict[str, Any]) -> None:
    ratio = metrics["compression_ratio"]
    if "model_test_accuracy" in metrics:
        alpha = metrics["smooth_alpha"]
        lines = [
            f"best epoch {metrics['best_epoch']} of {metrics['epochs']} (the model alone): "
            f"val accuracy {metrics['model_val_accuracy']:.4f}, "
            f"test accuracy {metrics['model_test_accuracy']:.4f}",
            "after correct-and-smooth "
            + (
                f"(smoothing weight {alpha})"
                if alpha is not None
                else "(not better on val: unused)"
            )
            + f": val accuracy {metrics['val_accuracy']:.4f}, "
            f"test accuracy {metrics['test_accuracy']:.4f}",
        ]
    else:
        lines = [
            f"best epoch {metrics['best_epoch']} of {metrics['epochs']}: val accuracy "
            f"{metrics['val_accuracy']:.4f}, test accuracy {metrics['test_accuracy']:.4f}",
        ]
    if metrics["metric"] != "accuracy":
        name = metrics["metric"]
        lines.append(
            f"test {name} {metrics[f'test_{name}']:.4f} (val {metrics[f'val_{name}']:.4f})"
        )
    lines.append(
        f"embedding parameters {metrics['embedding_parameters']:,}"
        + (f", compression {ratio:.1f}x" if ratio is not None else "")
        + f"; {metrics['seconds']:.1f}s"
    )
    print("\n".join(lines))
