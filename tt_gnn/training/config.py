"""``TrainConfig``: every option a training run depends on, validated in one place.

Imports nothing heavy (no torch), so the CLI can build its parser from the defaults here.

Example:
    >>> config = TrainConfig(dataset="cora", reorder="metis:16", fanouts=(10, 5))
    >>> config.num_layers, config.to_dict()["fanouts"]
    (2, [10, 5])
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from tt_gnn.checks import is_integer, non_negative_int, positive_float, positive_int, probability
from tt_gnn.options import (
    EMBEDDING_KINDS,
    GNN_BACKENDS,
    MODEL_NAMES,
    POST_PROCESS_METHODS,
    parse_fanouts,
    parse_reorder,
)

__all__ = ["TrainConfig", "RESUME_KEYS", "default_options"]

# Fields that must match between a checkpoint and the run resuming it.
RESUME_KEYS = (
    "dataset", "data_root", "split", "split_seed", "use_features", "model", "embedding",
    "embedding_dim", "rank", "num_cores", "p_shapes", "q_shapes", "init", "reorder", "seed",
    "batch_size", "fanouts", "lr", "weight_decay", "hidden", "heads", "dropout", "shuffle",
    "dataset_options", "labels_per_class", "num_val", "num_test", "gnn",
)  # fmt: skip


@dataclass
class TrainConfig:
    """Everything a training run depends on (the ``tt-gnn train`` options).

    Attributes:
        dataset: name or path for ``tt_gnn.data.load_dataset`` (default ``"synthetic"``).
        data_root: folder of shared datasets (default: the loader's own default).
        split: which standard split; split_seed: seed of a random split.
        use_features: load node features (needed for ``embedding="features"``).
        model: ``"sage"`` or ``"gat"``.
        embedding: ``"tt"``, ``"full"`` (``nn.Embedding``) or ``"features"``.
        embedding_dim: ``D`` of the learned embedding (default 128).
        rank: TT rank (all inner ranks); num_cores: ``d``; p_shapes/q_shapes: factorizations
            (None: chosen by ``tt_gnn.shapes.choose_shapes``).
        init: initializer of the learned table, TT or full (``"gaussian"``, ``"ortho"``,
            ``"spectral"``; same entry scale for both, see :func:`tt_gnn.init.initialize_table`);
            None (default): ``"spectral"`` for a TT table (the measured best, README
            "Defaults"; ``"gaussian"`` instead, with a notice, where the eigen-solve would not
            fit in the available memory), ``"gaussian"`` for a full table
            (``nn.Embedding``'s own init).
        init_is_default: set when ``init`` was None (the default above was chosen).
        init_used: the initializer that ran, set when the model is built (it differs from
            ``init`` only for a default spectral init that fell back to gaussian).
        post_process: ``"auto"`` (default), ``"cs"`` or ``"none"``: Correct and Smooth on
            the best model's predictions (:mod:`tt_gnn.training.postprocess`); ``"auto"`` runs
            it where it applies (single-label, fits in memory), ``"cs"`` fails where it does
            not.
        reorder: ``"none"``, ``"random"``, ``"metis"``, ``"metis:<k>"`` or ``"tt-metis"``; None
            (default) means the embedding's default: ``"tt-metis"`` for a TT table (the measured
            best; see README "Defaults"), ``"none"`` otherwise (a full table or features gain
            nothing from an order).
        seed: seeds the model, the reordering and every epoch's randomness.
        epochs: maximum epochs; patience: evaluations without validation improvement before
            stopping (0: never stop early); eval_every: epochs between evaluations.
        batch_size: seed nodes per step (per process when data-parallel).
        fanouts: neighbors sampled per layer, first layer first (-1: all); its length is the
            number of layers.
        lr, weight_decay: Adam's.
        hidden: hidden width (per head for GAT); heads: GAT heads; dropout: on layer inputs.
        shuffle: shuffle training seeds every epoch.
        eval_chunk_size: destination nodes per chunk in layer-wise inference.
        checkpoint_dir: write ``checkpoint.pt`` there after every epoch (None: no checkpoints).
        resume: continue from ``checkpoint_dir``'s checkpoint when it exists.
        output_json: write the final metrics there (None: don't).
        progress: tqdm bars (None: when stderr is a terminal); verbose: print per-epoch lines.
        device: ``"cpu"`` or ``"cuda:<i>"`` for a single process.
        deterministic: bit-identical results on any machine and thread count: one torch thread
            per process, ``torch.use_deterministic_algorithms(True)`` and the TT kernels'
            deterministic backward. Without it a seed still fixes every random choice
            (sampling, shuffling, dropout, initialization), so runs with the same thread count
            are identical; across thread counts float sums may round differently.
        gnn: the graph backend (sampler and layers): ``"torch"`` (torch only, CPU or CUDA),
            ``"dgl"``, ``"pyg"``, or ``"auto"`` (default: ``"torch"``, the one that runs on
            every device; see :func:`tt_gnn.gnn.backend.resolve_graph_backend`).
        dataset_options: extra ``load_dataset`` options (synthetic ``num_nodes``, CSV
            ``labels``, ...).
        labels_per_class: the label-sparse protocol: ``K`` random training nodes per class
            (seeded by ``split_seed``), then ``num_val`` validation and ``num_test`` test nodes
            drawn from the rest (:func:`tt_gnn.baselines.labels_per_class_split`); None keeps
            the dataset's own split.
    """

    dataset: str = "synthetic"
    data_root: str | None = None
    split: int = 0
    split_seed: int = 0
    use_features: bool = False
    model: str = "sage"
    embedding: str = "tt"
    embedding_dim: int = 128
    rank: int = 16
    num_cores: int = 3
    p_shapes: tuple[int, ...] | None = None
    q_shapes: tuple[int, ...] | None = None
    init: str | None = None
    reorder: str | None = None
    seed: int = 0
    epochs: int = 20
    patience: int = 10
    eval_every: int = 1
    batch_size: int = 1024
    fanouts: tuple[int, ...] = (10, 10)
    lr: float = 0.01
    weight_decay: float = 0.0
    hidden: int = 128
    heads: int = 4
    dropout: float = 0.5
    shuffle: bool = True
    eval_chunk_size: int = 4096
    checkpoint_dir: str | None = None
    resume: bool = False
    output_json: str | None = None
    progress: bool | None = None
    verbose: bool = True
    device: str = "cpu"
    gnn: str = "auto"
    deterministic: bool = False
    dataset_options: dict[str, Any] = field(default_factory=dict)
    labels_per_class: int | None = None
    num_val: int = 500
    num_test: int = 1000
    init_is_default: bool = False
    init_used: str | None = None
    post_process: str = "auto"

    def __post_init__(self) -> None:
        if self.reorder is None:
            self.reorder = "tt-metis" if self.embedding == "tt" else "none"
        if self.init is None:
            self.init = "spectral" if self.embedding == "tt" else "gaussian"
            self.init_is_default = True
        self.fanouts = parse_fanouts(self.fanouts)
        for name in ("p_shapes", "q_shapes"):
            value = getattr(self, name)
            if value is not None:
                if any(not is_integer(v) for v in value):
                    raise ValueError(f"{name} must be integers, got {tuple(value)!r}")
                setattr(self, name, tuple(int(v) for v in value))
        self.validate()

    @property
    def num_layers(self) -> int:
        return len(self.fanouts)

    def validate(self) -> None:
        """Raise ValueError naming the first invalid option."""
        if self.gnn not in GNN_BACKENDS:
            raise ValueError(f"gnn must be one of {GNN_BACKENDS}, got {self.gnn!r}")
        if self.model not in MODEL_NAMES:
            raise ValueError(f"model must be one of {MODEL_NAMES}, got {self.model!r}")
        if self.embedding not in EMBEDDING_KINDS:
            raise ValueError(f"embedding must be one of {EMBEDDING_KINDS}, got {self.embedding!r}")
        if self.embedding == "features" and not self.use_features:
            raise ValueError("embedding='features' needs use_features=True")
        parse_reorder(self.reorder)
        if self.embedding in ("tt", "full"):
            from tt_gnn.init import available_initializers, available_table_initializers

            known = (
                available_initializers()
                if self.embedding == "tt"
                else available_table_initializers()
            )
            if self.init not in known:
                raise ValueError(
                    f"unknown init {self.init!r} for embedding={self.embedding!r}; expected "
                    f"one of {known}"
                )
        for name in ("embedding_dim", "rank", "num_cores", "epochs", "eval_every", "batch_size",
                     "hidden", "heads", "eval_chunk_size"):  # fmt: skip
            value = getattr(self, name)
            if not is_integer(value) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        for name in ("patience", "split", "split_seed", "seed"):
            non_negative_int(getattr(self, name), name)
        if self.seed >= 2**63 or self.split_seed >= 2**63:
            raise ValueError(f"seeds must be below 2**63, got {self.seed}, {self.split_seed}")
        positive_float(self.lr, "lr")
        if self.weight_decay != 0:
            positive_float(self.weight_decay, "weight_decay")
        probability(self.dropout, "dropout")
        if self.labels_per_class is not None:
            positive_int(self.labels_per_class, "labels_per_class")
        positive_int(self.num_val, "num_val")
        positive_int(self.num_test, "num_test")
        if self.post_process not in POST_PROCESS_METHODS:
            raise ValueError(
                f"post_process must be one of {POST_PROCESS_METHODS}, got {self.post_process!r}"
            )
        if self.resume and self.checkpoint_dir is None:
            raise ValueError("resume=True needs a checkpoint_dir")

    def to_dict(self) -> dict[str, Any]:
        """JSON/checkpoint-friendly dict (tuples become lists)."""
        result = dataclasses.asdict(self)
        for key, value in result.items():
            if isinstance(value, tuple):
                result[key] = list(value)
        return result


def default_options() -> dict[str, Any]:
    """Every :class:`TrainConfig` field's default, without building (and validating) one.

    Example:
        >>> default_options()["rank"]
        16
    """
    return {
        item.name: item.default
        if item.default_factory is dataclasses.MISSING
        else item.default_factory()
        for item in dataclasses.fields(TrainConfig)
    }
