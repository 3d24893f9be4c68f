"""Fuzz suite of the ``tt-gnn`` command line (issue 12): bad input for every subcommand.

Every case runs ``tt_gnn.cli.main(argv)`` in this process and must end with exit status 2 and
ONE stderr line ``tt-gnn <command>: error: ...`` that names the file, option or value at fault
(each case lists the texts that the line must contain), no traceback and no warning. Files
come from :func:`tests.test_fuzz_inputs.build_files`; crafted checkpoints from a real one
trained here on the 50-node graph. Malicious pickles must never run (``PWNED`` never appears).
"""

from __future__ import annotations

import copy
import hashlib
import io
import os
import pickle
import shlex
import shutil
import signal
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.test_fuzz_inputs import PWNED, Malicious, build_files, flip_middle
from tt_gnn.cli import main
from tt_gnn.training.checkpoint import load_checkpoint, save_checkpoint

# Small and quick: the cases that get as far as training finish in well under a second.
FAST = ["--epochs", "1", "--no-progress", "--embedding-dim", "8", "--hidden", "8", "--rank", "2",
        "--fanouts", "3,3", "--batch-size", "16"]  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = build_files(tmp_path_factory.mktemp("fuzz_cli"))
    yield root
    assert not (root / PWNED).exists(), "a malicious pickle in a data file was executed"


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str, list]:
    """``(status, stdout, stderr, warnings)`` of one in-process ``tt-gnn`` run."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            status = main(argv)
        except SystemExit as exit_info:  # argparse
            status = exit_info.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err, [str(w.message) for w in caught]


def assert_one_line_error(
    argv: list[str], expected: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> str:
    status, out, err, caught = run_cli(argv, capsys)
    command = argv[0]
    lines = err.splitlines()
    assert status == 2, f"exit status {status}; stderr {err!r}; stdout tail {out[-300:]!r}"
    assert len(lines) == 1, f"stderr must be one line, got {len(lines)}: {err!r}"
    assert lines[0].startswith(f"tt-gnn {command}: error: "), lines[0]
    assert "Traceback" not in err + out
    assert not caught, f"warnings on the way to the error: {caught}"
    for text in expected:
        assert text in lines[0], f"{text!r} not in {lines[0]!r}"
    return lines[0]


# Each case: the command line ("{f}": the crafted-files folder, "{fast}": FAST, quoted as in a
# shell), then the texts that the error line must contain.
FILE_CASES = {
    "missing": ("train --dataset {f}/missing.npz", "{f}/missing.npz", "does not exist"),
    "empty": ("train --dataset {f}/empty.npz", "{f}/empty.npz", "the file is empty"),
    "truncated": ("train --dataset {f}/truncated.npz", "{f}/truncated.npz", "truncated or corrupt"),
    "truncated_tail": (
        "train --dataset {f}/truncated_tail.npz",
        "{f}/truncated_tail.npz",
        "truncated or corrupt",
    ),
    "random_bytes": ("train --dataset {f}/garbage.npz", "{f}/garbage.npz", "not a zip archive"),
    "pickle": ("train --dataset {f}/pickle.npz", "{f}/pickle.npz", "not a zip archive"),
    "npy_named_npz": ("train --dataset {f}/npy_as.npz", "npy_as.npz", ".npy array file"),
    "object_array": (
        "train --dataset {f}/object_extra.npz",
        "object_extra.npz",
        "array 'extra'",
        "object (pickled) array",
    ),
    "object_edges": (
        "train --dataset {f}/object_edges.npz",
        "object_edges.npz",
        "array 'edges'",
        "object (pickled)",
    ),
    "object_labels": (
        "train --dataset {f}/object_labels.npz",
        "object_labels.npz",
        "array 'labels'",
        "object (pickled)",
    ),
    "bad_crc_member": ("train --dataset {f}/bad_crc.npz", "bad_crc.npz", "array 'edges'", "CRC"),
    "text_member": (
        "train --dataset {f}/text_member.npz",
        "text_member.npz",
        "array 'edges' is not an .npy array",
    ),
    "directory_without_graph": ("train --dataset {f}/no_graph", "{f}/no_graph", "has no graph.npz"),
    "graph_npz_is_directory": (
        "train --dataset {f}/graph_is_dir",
        "graph_is_dir/graph.npz",
        "is not a file",
        "directory",
    ),
    "dev_null": ("train --dataset /dev/null", "/dev/null", "is not a file"),
    "fifo": ("train --dataset {f}/fifo.npz", "fifo.npz", "is not a file", "pipe"),
    "dangling_symlink": (
        "train --dataset {f}/dangling.npz",
        "dangling.npz",
        "broken symbolic link",
    ),
    "empty_name": ("train --dataset ''", "name_or_path", "''"),
    "unknown_name": (
        "train --dataset no-such-set --data-root {f}",
        "unknown dataset 'no-such-set'",
    ),
    "data_root_is_file": (
        "train --dataset cora --data-root {f}/a_file",
        "unknown dataset 'cora'",
        "a_file",
    ),
    "no_edges": ("train --dataset {f}/no_edges.npz", "no_edges.npz", "missing array 'edges'"),
    "edges_float": ("train --dataset {f}/edges_float.npz", "'edges' must hold integers", "float64"),
    "edges_1d": ("train --dataset {f}/edges_1d.npz", "'edges' must have shape [E, 2]"),
    "edges_3cols": ("train --dataset {f}/edges_3cols.npz", "'edges' must have shape [E, 2]", "3)"),
    "edges_bool": ("train --dataset {f}/edges_bool.npz", "'edges' must hold integers", "bool"),
    "edges_out_of_range": (
        "train --dataset {f}/edges_out_of_range.npz",
        "target id 50 out of range 0..49",
    ),
    "edges_negative": ("train --dataset {f}/edges_negative.npz", "source id -1"),
    "edges_uint64": (
        "train --dataset {f}/edges_uint64.npz",
        "edges_uint64.npz",
        "9223372036854775813",
        "larger than int64",
    ),
    "label_huge": (
        "train --dataset {f}/labels_huge.npz",
        "labels_huge.npz['labels']",
        "label[0] = 1000000000",
        "class id",
    ),
    "label_negative": ("train --dataset {f}/labels_negative.npz", "label[3] = -5"),
    "labels_nan": ("train --dataset {f}/labels_nan.npz", "labels must be integers", "float64"),
    "labels_strings": ("train --dataset {f}/labels_strings.npz", "labels must be integers"),
    "labels_short": ("train --dataset {f}/labels_short.npz", "10 entries", "50 nodes"),
    "labels_multi_not_01": ("train --dataset {f}/labels_2d_bad.npz", "must be 0/1, got 2"),
    "no_labels": ("train --dataset {f}/no_labels.npz", "no_labels.npz", "no labels"),
    "num_nodes_zero": (
        "train --dataset {f}/num_nodes_zero.npz",
        "'num_nodes' must be a positive integer",
    ),
    "num_nodes_negative": ("train --dataset {f}/num_nodes_negative.npz", "'num_nodes'", "-5"),
    "num_nodes_float": ("train --dataset {f}/num_nodes_float.npz", "'num_nodes'", "50.5"),
    "num_nodes_array": ("train --dataset {f}/num_nodes_array.npz", "'num_nodes'", "[50]"),
    "num_nodes_small": ("train --dataset {f}/num_nodes_small.npz", "50 entries", "10 nodes"),
    "train_mask_empty": ("train --dataset {f}/train_empty.npz {fast}", "no labeled nodes in train"),
    "val_mask_empty": ("train --dataset {f}/val_empty.npz {fast}", "no labeled nodes in val"),
    "test_mask_empty": ("train --dataset {f}/test_empty.npz {fast}", "no labeled nodes in test"),
    "all_masks_empty": ("train --dataset {f}/masks_empty.npz {fast}", "no labeled nodes in train"),
    "train_nodes_unlabeled": (
        "train --dataset {f}/train_unlabeled.npz {fast}",
        "no labeled nodes in train",
    ),
    "masks_int": ("train --dataset {f}/masks_int.npz", "train_mask must be bool, got int64"),
    "masks_short": ("train --dataset {f}/masks_short.npz", "N=50", "(10,)"),
    "only_train_mask": ("train --dataset {f}/only_train_mask.npz", "needs all of"),
    "masks_3d": ("train --dataset {f}/masks_3d.npz", "(1, 1, 50)"),
    "split_beyond_file": ("train --dataset {f}/good.npz --split 1", "split=1", "1 split(s)"),
    "features_nan": (
        "train --dataset {f}/features_nan.npz --embedding features",
        "features_nan.npz",
        "'x_data'[0]",
        "finite",
    ),
    "features_shape": (
        "train --dataset {f}/features_shape.npz --embedding features",
        "'x_shape' must be [N=50, F], got [10, 6]",
    ),
    "features_shape_text": (
        "train --dataset {f}/features_shape_text.npz --embedding features",
        "'x_shape' must be two integers",
    ),
    "features_indptr": (
        "train --dataset {f}/features_indptr.npz --embedding features",
        "malformed CSR features",
    ),
    "features_missing": (
        "train --dataset {f}/features_none.npz --embedding features",
        "has no node features",
    ),
    "csv_float_ids": (
        "train --dataset {f}/float_ids.csv --labels {f}/labels.csv",
        "float_ids.csv, line 1, field 'src'",
        "'42.0'",
        "fraction",
    ),
    "csv_exponent_ids": (
        "train --dataset {f}/exponent_ids.csv --labels {f}/labels.csv",
        "exponent_ids.csv, line 1",
        "exponent",
    ),
    "csv_empty": (
        "train --dataset {f}/empty.csv --labels {f}/labels.csv",
        "empty.csv",
        "file is empty",
    ),
    "csv_only_comments": (
        "train --dataset {f}/comments.csv --labels {f}/labels.csv",
        "comments.csv",
        "file is empty",
    ),
    "csv_header_wrong": (
        "train --dataset {f}/header_wrong.csv --labels {f}/labels.csv",
        "header_wrong.csv, line 1",
        "lacks column(s) ['src', 'dst']",
    ),
    "csv_tabs": (
        "train --dataset {f}/tabs.csv --labels {f}/labels.csv",
        "is the file comma-separated?",
    ),
    "csv_short_row": (
        "train --dataset {f}/short_row.csv --labels {f}/labels.csv",
        "short_row.csv, line 201",
        "expected at least 2",
    ),
    "csv_empty_field": (
        "train --dataset {f}/empty_field.csv --labels {f}/labels.csv",
        "empty_field.csv, line 201, field 'dst'",
        "empty",
    ),
    "csv_negative": (
        "train --dataset {f}/negative.csv --labels {f}/labels.csv",
        "negative.csv, line 201",
        "negative node id -4",
    ),
    "csv_beyond_int64": (
        "train --dataset {f}/beyond_int64.csv --labels {f}/labels.csv",
        "line 201",
        "99999999999999999999",
        "larger than int64",
    ),
    "csv_huge_id": (
        "train --dataset {f}/huge_id.csv --labels {f}/labels.csv",
        "huge_id.csv: node id 1000000000000000",
        "GiB",
    ),
    "csv_not_utf8": (
        "train --dataset {f}/latin1.csv --labels {f}/labels.csv",
        "latin1.csv",
        "not a UTF-8 text file",
    ),
    "csv_without_labels": ("train --dataset {f}/edges.csv", "edges.csv", "needs labels"),
    "labels_missing": (
        "train --dataset {f}/edges.csv --labels {f}/nope.csv",
        "labels file",
        "nope.csv",
        "does not exist",
    ),
    "labels_directory": (
        "train --dataset {f}/edges.csv --labels {f}/no_graph",
        "labels file",
        "no_graph",
        "is not a file",
        "directory",
    ),
    "labels_dev_null": (
        "train --dataset {f}/edges.csv --labels /dev/null",
        "labels file /dev/null is not a file",
    ),
    "labels_duplicate": (
        "train --dataset {f}/edges.csv --labels {f}/labels_dup.csv",
        "labels_dup.csv, line 52",
        "node 3 is listed twice",
    ),
    "labels_csv_negative": (
        "train --dataset {f}/edges.csv --labels {f}/labels_negative.csv",
        "labels_negative.csv, line 7, field 'label'",
        "-5",
    ),
    "labels_csv_huge": (
        "train --dataset {f}/edges.csv --labels {f}/labels_huge.csv",
        "labels_huge.csv, line 7, field 'label'",
        "1000000000 is not a class id",
    ),
    "labels_csv_float": (
        "train --dataset {f}/edges.csv --labels {f}/labels_float.csv",
        "labels_float.csv, line 7, field 'label'",
        "'0.5'",
    ),
    "labels_csv_header": (
        "train --dataset {f}/edges.csv --labels {f}/labels_header.csv",
        "labels_header.csv, line 1",
        "['node', 'label']",
    ),
    "labels_npy_pickle": (
        "train --dataset {f}/edges.csv --labels {f}/labels_pickle.npy",
        "labels_pickle.npy",
        "object (pickled) array",
    ),
    "labels_npy_garbage": (
        "train --dataset {f}/edges.csv --labels {f}/labels_garbage.npy",
        "labels_garbage.npy",
        "not an .npy array file",
    ),
    "labels_npy_empty": (
        "train --dataset {f}/edges.csv --labels {f}/labels_empty.npy",
        "labels_empty.npy",
        "the file is empty",
    ),
    "labels_npy_nan": (
        "train --dataset {f}/edges.csv --labels {f}/labels_nan.npy",
        "labels_nan.npy",
        "must be integers",
    ),
    "labels_npy_short": (
        "train --dataset {f}/edges.csv --labels {f}/labels_short.npy",
        "edges.csv",
        "out of range 0..9",
        "labels_short.npy has 10 labels",
    ),
    "labels_for_npz_with_labels": (
        "train --dataset {f}/good.npz --labels {f}/labels.csv",
        "has its own labels",
    ),
}

OPTION_CASES = {
    "epochs_zero": ("train --dataset {f}/good.npz --epochs 0", "epochs", "got 0"),
    "epochs_negative": ("train --dataset {f}/good.npz --epochs -3", "epochs", "-3"),
    "epochs_text": ("train --epochs many", "--epochs", "'many'"),
    "epochs_float": ("train --epochs 2.5", "--epochs", "'2.5'"),
    "epochs_missing_value": ("train --epochs", "--epochs", "expected one argument"),
    "lr_zero": ("train --dataset {f}/good.npz --lr 0", "lr", "got 0.0"),
    "lr_negative": ("train --dataset {f}/good.npz --lr -0.1", "lr", "-0.1"),
    "lr_nan": ("train --dataset {f}/good.npz --lr nan", "lr", "nan"),
    "lr_inf": ("train --dataset {f}/good.npz --lr inf", "lr", "inf"),
    "lr_overflows_to_inf": ("train --dataset {f}/good.npz --lr 1e400", "lr", "inf"),
    "lr_text": ("train --lr fast", "--lr", "'fast'"),
    "dropout_one": ("train --dataset {f}/good.npz --dropout 1", "dropout", "[0, 1)", "1.0"),
    "dropout_negative": ("train --dataset {f}/good.npz --dropout -0.1", "dropout", "-0.1"),
    "dropout_nan": ("train --dataset {f}/good.npz --dropout nan", "dropout", "nan"),
    "weight_decay_negative": (
        "train --dataset {f}/good.npz --weight-decay -1",
        "weight_decay",
        "-1.0",
    ),
    "weight_decay_nan": ("train --dataset {f}/good.npz --weight-decay nan", "weight_decay", "nan"),
    "rank_zero": ("train --dataset {f}/good.npz --rank 0", "rank must be an int >= 1, got 0"),
    "rank_negative": ("train --dataset {f}/good.npz --rank -3", "rank", "-3"),
    "embedding_dim_zero": ("train --dataset {f}/good.npz --embedding-dim 0", "embedding_dim", "0"),
    "hidden_zero": ("train --dataset {f}/good.npz --hidden 0", "hidden", "0"),
    "heads_zero": ("train --dataset {f}/good.npz --model gat --heads 0", "heads", "0"),
    "batch_size_zero": ("train --dataset {f}/good.npz --batch-size 0", "batch_size", "0"),
    "eval_every_zero": ("train --dataset {f}/good.npz --eval-every 0", "eval_every", "0"),
    "patience_negative": ("train --dataset {f}/good.npz --patience -1", "patience", "-1"),
    "seed_negative": ("train --dataset {f}/good.npz --seed -1", "seed", "-1"),
    "seed_huge": (
        "train --dataset {f}/good.npz --seed 1180591620717411303424",
        "seed",
        "1180591620717411303424",
    ),
    "split_negative": ("train --dataset {f}/good.npz --split -1", "split", "-1"),
    "split_seed_negative": ("train --dataset {f}/good.npz --split-seed -5", "split_seed", "-5"),
    "split_seed_huge": (
        "train --dataset {f}/good.npz --split-seed 1180591620717411303424",
        "seed",
        "1180591620717411303424",
    ),
    "fanouts_zero": ("train --fanouts 0", "--fanouts", "'0'"),
    "fanouts_below_minus_one": ("train --fanouts 10,-2", "--fanouts", "'10,-2'"),
    "fanouts_text": ("train --fanouts ten", "--fanouts", "'ten'"),
    "fanouts_empty_entry": ("train --fanouts 5,,5", "--fanouts", "'5,,5'"),
    "layers_zero": ("train --dataset {f}/good.npz --layers 0", "--layers", "0"),
    "layers_mismatch": (
        "train --dataset {f}/good.npz --layers 3 --fanouts 2,2",
        "--layers 3 does not match --fanouts 2,2",
    ),
    "p_shapes_text": ("train --p-shapes a,b", "--p-shapes", "'a,b'"),
    "p_shapes_zero": (
        "train --dataset {f}/good.npz --p-shapes 0,100 --q-shapes 8,16",
        "p_shapes",
        "(0, 100)",
    ),
    "p_shapes_too_small": (
        "train --dataset {f}/good.npz --p-shapes 2,2,2",
        "p_shapes (2, 2, 2) multiply to 8",
        "50",
    ),
    "q_shapes_mismatch": (
        "train --dataset {f}/good.npz --q-shapes 3,3,3",
        "q_shapes (3, 3, 3) multiply to 27",
        "128",
    ),
    "shapes_lengths_differ": (
        "train --dataset {f}/good.npz --p-shapes 8,8 --q-shapes 2,2,32",
        "(8, 8)",
        "(2, 2, 32)",
        "same length",
    ),
    "num_cores_one": ("train --dataset {f}/good.npz --num-cores 1", "num_cores", "1"),
    "num_cores_zero": ("train --dataset {f}/good.npz --num-cores 0", "num_cores", "0"),
    "init_unknown": ("train --dataset {f}/good.npz --init magic", "init 'magic'"),
    "reorder_unknown": ("train --reorder sorted", "--reorder", "'sorted'"),
    "reorder_metis_one_part": ("train --reorder metis:1", "'metis:1'", "k >= 2"),
    "reorder_metis_text": ("train --reorder metis:x", "'metis:x'"),
    "model_unknown": ("train --model gcn", "--model", "'gcn'"),
    "embedding_unknown": ("train --embedding onehot", "--embedding", "'onehot'"),
    "unknown_option": ("train --learning-rate 0.1", "unrecognized arguments: --learning-rate 0.1"),
    "nproc_zero": ("train --dataset {f}/good.npz --nproc 0", "nproc", "0"),
    "nproc_negative": ("train --dataset {f}/good.npz --nproc -1", "nproc", "-1"),
    "devices_text": ("train --devices gpu0", "--devices", "'gpu0'", "indices"),
    "devices_negative": ("train --devices -1", "--devices", "'-1'"),
    "devices_repeated": ("train --devices 0,0", "--devices", "distinct"),
    "output_json_is_directory": (
        "train --dataset {f}/good.npz --output-json {f}/no_graph",
        "--output-json",
        "no_graph",
        "is a directory",
    ),
    "output_json_under_a_file": (
        "train --dataset {f}/good.npz --output-json {f}/a_file/m.json",
        "--output-json",
        "a_file",
        "is not a directory",
    ),
    "checkpoint_dir_is_file": (
        "train --dataset {f}/good.npz --checkpoint-dir {f}/a_file",
        "--checkpoint-dir",
        "a_file",
        "not a directory",
    ),
    "checkpoint_dir_under_file": (
        "train --dataset {f}/good.npz --checkpoint-dir {f}/a_file/ck",
        "--checkpoint-dir",
        "a_file",
        "is not a directory",
    ),
    "resume_without_checkpoint_dir": (
        "train --dataset {f}/good.npz --resume",
        "needs a checkpoint_dir",
    ),
    "ogb_with_labels": (
        "train --dataset ogbn-arxiv --labels x.csv",
        "unexpected option(s) ['labels'] for ogbn-arxiv",
    ),
    "ogb_with_num_nodes": (
        "train --dataset ogbn-arxiv --num-nodes 5",
        "unexpected option(s) ['num_nodes'] for ogbn-arxiv",
    ),
    "npz_num_nodes_contradiction": (
        "train --dataset {f}/good.npz --num-nodes 49",
        "num_nodes=49 contradicts",
        "good.npz",
    ),
    "synthetic_num_nodes_zero": ("train --num-nodes 0", "num_nodes", "0"),
    "synthetic_num_nodes_tiny": ("train --num-nodes 10", "num_nodes >= 100", "10"),
    "synthetic_num_nodes_huge": ("train --num-nodes 1000000000000000", "'synthetic'", "GiB"),
}

REORDER_CASES = {
    "missing": ("reorder {f}/missing.npz -o {f}/o.npy", "missing.npz", "does not exist"),
    "empty": ("reorder {f}/empty.npz -o {f}/o.npy", "empty.npz", "the file is empty"),
    "truncated": (
        "reorder {f}/truncated.npz -o {f}/o.npy",
        "truncated.npz",
        "truncated or corrupt",
    ),
    "random_bytes": ("reorder {f}/garbage.npz -o {f}/o.npy", "garbage.npz", "not a zip archive"),
    "pickle": ("reorder {f}/pickle.npz -o {f}/o.npy", "pickle.npz", "not a zip archive"),
    "object_array": (
        "reorder {f}/object_extra.npz -o {f}/o.npy",
        "object_extra.npz",
        "array 'extra'",
        "object (pickled)",
    ),
    "directory": ("reorder {f}/no_graph -o {f}/o.npy", "no_graph", "is not a file", "directory"),
    "dev_null": ("reorder /dev/null -o {f}/o.npy", "/dev/null is not a file"),
    "fifo": ("reorder {f}/fifo.npz -o {f}/o.npy", "fifo.npz", "is not a file"),
    "txt_input": ("reorder {f}/a_file -o {f}/o.npy", "a_file", "must be a .npz"),
    "output_suffix": ("reorder {f}/good.npz -o {f}/o.txt", "o.txt", "must end in .npy or .npz"),
    "output_is_directory": (
        "reorder {f}/good.npz -o {f}/graph_is_dir/graph.npz",
        "--output",
        "is a directory",
    ),
    "output_under_a_file": (
        "reorder {f}/good.npz -o {f}/a_file/o.npy",
        "--output",
        "is not a directory",
    ),
    "num_nodes_zero": (
        "reorder {f}/edges.csv -o {f}/o.npy --num-nodes 0",
        "--num-nodes must be a positive integer, got 0",
    ),
    "num_nodes_negative": (
        "reorder {f}/edges.csv -o {f}/o.npy --num-nodes -3",
        "--num-nodes",
        "-3",
    ),
    "num_nodes_contradiction": (
        "reorder {f}/good.npz -o {f}/o.npy --num-nodes 49",
        "--num-nodes 49 does not match",
    ),
    "num_nodes_below_ids": (
        "reorder {f}/edges.csv -o {f}/o.npy --num-nodes 10",
        "edges.csv, line",
        "out of range 0..9",
    ),
    "num_nodes_huge": (
        "reorder {f}/edges.csv -o {f}/o.npy --num-nodes 1000000000000000",
        "edges.csv",
        "GiB",
    ),
    "edges_uint64": ("reorder {f}/edges_uint64.npz -o {f}/o.npy", "9223372036854775813", "int64"),
    "edges_float": ("reorder {f}/edges_float.npz -o {f}/o.npy", "'edges' must hold integers"),
    "edges_out_of_range": (
        "reorder {f}/edges_out_of_range.npz -o {f}/o.npy",
        "target id 50 out of range 0..49",
    ),
    "num_nodes_float_in_file": (
        "reorder {f}/num_nodes_float.npz -o {f}/o.npy",
        "'num_nodes'",
        "50.5",
    ),
    "label_negative": ("reorder {f}/labels_negative.npz -o {f}/o.npy", "label[3] = -5"),
    "label_huge": ("reorder {f}/labels_huge.npz -o {f}/o.npy", "label[0] = 1000000000"),
    "labels_short": ("reorder {f}/labels_short.npz -o {f}/o.npy", "10 entries", "50 nodes"),
    "csv_float_ids": ("reorder {f}/float_ids.csv -o {f}/o.npy", "float_ids.csv, line 1", "'42.0'"),
    "csv_negative": ("reorder {f}/negative.csv -o {f}/o.npy", "negative node id -4"),
    "csv_huge_id": ("reorder {f}/huge_id.csv -o {f}/o.npy", "node id 1000000000000000", "GiB"),
    "p_shapes_text": ("reorder {f}/good.npz -o {f}/o.npy --p-shapes a,b", "--p-shapes", "'a,b'"),
    "p_shapes_zero": ("reorder {f}/good.npz -o {f}/o.npy --p-shapes 0,100", "(0, 100)"),
    "p_shapes_too_small": ("reorder {f}/good.npz -o {f}/o.npy --p-shapes 2,2", "multiply to 4"),
    "num_cores_zero": ("reorder {f}/good.npz -o {f}/o.npy --num-cores 0", "num_cores", "0"),
    "num_cores_one": ("reorder {f}/good.npz -o {f}/o.npy --num-cores 1", "num_cores", "1"),
    "method_unknown": ("reorder {f}/good.npz -o {f}/o.npy --method spectral", "'spectral'"),
    "method_metis_one": ("reorder {f}/good.npz -o {f}/o.npy --method metis:1", "'metis:1'"),
    "method_more_parts_than_nodes": (
        "reorder {f}/good.npz -o {f}/o.npy --method metis:1000",
        "num_parts",
        "1000",
    ),
    "seed_negative": ("reorder {f}/good.npz -o {f}/o.npy --seed -1", "seed", "-1"),
    "seed_huge": (
        "reorder {f}/good.npz -o {f}/o.npy --seed 1180591620717411303424",
        "seed",
        "1180591620717411303424",
    ),
    "unknown_option": ("reorder {f}/good.npz -o {f}/o.npy --parts 3", "unrecognized arguments"),
    "no_output": ("reorder {f}/good.npz", "-o/--output"),
}

DEMO_CASES = {
    "num_nodes_negative": ("demo --num-nodes -5", "num_nodes", "-5"),
    "num_nodes_tiny": ("demo --num-nodes 10", "num_nodes >= 100", "10"),
    "num_nodes_huge": ("demo --num-nodes 1000000000000000", "'synthetic'", "GiB"),
    "num_nodes_text": ("demo --num-nodes lots", "--num-nodes", "'lots'"),
    "rank_zero": ("demo --rank 0", "rank", "0"),
    "lr_nan": ("demo --lr nan", "lr", "nan"),
    "lr_inf": ("demo --lr inf", "lr", "inf"),
    "dropout_one": ("demo --dropout 1", "dropout", "1.0"),
    "seed_negative": ("demo --seed -1", "seed", "-1"),
    "init_unknown": ("demo --init magic", "init 'magic'"),
    "epochs_zero": ("demo --epochs 0", "epochs", "0"),
    "fanouts_zero": ("demo --fanouts 0", "--fanouts", "'0'"),
    "layers_zero": ("demo --layers 0", "--layers", "0"),
    "batch_size_zero": ("demo --batch-size 0", "batch_size", "0"),
    "p_shapes_too_small": ("demo --num-nodes 200 {fast} --p-shapes 2,2,2", "p_shapes (2, 2, 2)"),
    "q_shapes_mismatch": ("demo --num-nodes 200 {fast} --q-shapes 3,3", "q_shapes (3, 3)"),
    "reorder_unknown": ("demo --reorder sorted", "--reorder", "'sorted'"),
    "unknown_option": ("demo --dataset cora", "unrecognized arguments: --dataset cora"),
}


def _cases(table: dict[str, tuple[str, ...]]) -> list:
    return [pytest.param(line, expected, id=name) for name, (line, *expected) in table.items()]


def _argv(line: str, files: Path | None = None) -> list[str]:
    argv = []
    for token in shlex.split(line):
        argv.extend(FAST if token == "{fast}" else [token.format(f=files)])
    return argv


def check_case(line: str, expected: list[str], files: Path, capsys) -> None:
    texts = tuple(text.format(f=files) for text in expected)
    assert_one_line_error(_argv(line, files), texts, capsys)


@pytest.mark.parametrize(("line", "expected"), _cases(FILE_CASES))
def test_bad_dataset_files(line: str, expected: list[str], files: Path, capsys) -> None:
    check_case(line, expected, files, capsys)


@pytest.mark.parametrize(("line", "expected"), _cases(OPTION_CASES))
def test_bad_train_options(line: str, expected: list[str], files: Path, capsys) -> None:
    check_case(line, expected, files, capsys)


@pytest.mark.parametrize(("line", "expected"), _cases(REORDER_CASES))
def test_bad_reorder_inputs(line: str, expected: list[str], files: Path, capsys) -> None:
    check_case(line, expected, files, capsys)
    assert not (files / "o.npy").exists()


@pytest.mark.parametrize(("line", "expected"), _cases(DEMO_CASES))
def test_bad_demo_options(line: str, expected: list[str], files: Path, capsys) -> None:
    check_case(line, expected, files, capsys)


def test_no_command_and_unknown_command(capsys) -> None:
    status, _, err, _ = run_cli([], capsys)
    assert status == 2 and err.count("\n") == 1 and err.startswith("tt-gnn: error: ")
    status, _, err, _ = run_cli(["predict"], capsys)
    assert status == 2 and err.count("\n") == 1 and "invalid choice: 'predict'" in err


def test_deprecated_num_parts_warns_then_fails_in_one_line_each(files: Path, capsys) -> None:
    argv = ["reorder", str(files / "good.npz"), "-o", str(files / "o.npy"), "--method", "metis",
            "--num-parts", "-1"]  # fmt: skip
    status, _, err, _ = run_cli(argv, capsys)
    notice, error = err.splitlines()
    assert status == 2 and "--num-parts is deprecated" in notice
    assert error == "tt-gnn reorder: error: num_parts must be a non-negative integer, got -1"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this torch has CUDA")
def test_cuda_devices_on_a_cpu_only_torch(files: Path, capsys) -> None:
    assert_one_line_error(
        ["train", "--dataset", str(files / "good.npz"), "--devices", "0"],
        ("--devices [0]", "no CUDA device"),
        capsys,
    )


def test_debug_variable_shows_the_traceback(files: Path, monkeypatch) -> None:
    monkeypatch.setenv("TT_GNN_DEBUG", "1")
    with pytest.raises(ValueError, match="not a zip archive"):
        main(["train", "--dataset", str(files / "garbage.npz")])


# ------------------------------------------------------------------------------------------
# Checkpoints: a real one, then every way to damage or craft it
# ------------------------------------------------------------------------------------------


def _serialized(value: object) -> bytes:
    stream = io.BytesIO()
    torch.save(value, stream)
    return stream.getvalue()


def _envelope(payload: bytes, *, sha256: str | None = None, format_: object = 2) -> dict:
    return {
        "format": format_,
        "sha256": sha256 or hashlib.sha256(payload).hexdigest(),
        "payload": torch.frombuffer(bytearray(payload), dtype=torch.uint8),
    }


@pytest.fixture(scope="module")
def checkpoints(files: Path) -> Iterator[Path]:
    """``<name>/checkpoint.pt`` for every crafted checkpoint, beside a real ``base`` one."""
    root = files / "checkpoints"
    argv = ["train", "--dataset", str(files / "good.npz"), *FAST, "--checkpoint-dir",
            str(root / "base")]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(argv) == 0
    base_file = root / "base" / "checkpoint.pt"
    raw = base_file.read_bytes()
    state = load_checkpoint(base_file)

    def crafted(name: str) -> Path:
        (root / name).mkdir()
        return root / name / "checkpoint.pt"

    def with_fields(**fields: object) -> dict:
        changed = copy.deepcopy(state)
        for key, value in fields.items():
            if value is None:
                changed.pop(key)
            else:
                changed[key] = value
        return changed

    evil = Malicious(root)
    crafted("truncated").write_bytes(raw[: len(raw) // 2])
    crafted("truncated_tail").write_bytes(raw[:-10])
    crafted("empty").write_bytes(b"")
    crafted("random_bytes").write_bytes(bytes(range(256)) * 16)
    crafted("bit_flipped").write_bytes(flip_middle(raw))
    crafted("raw_pickle").write_bytes(pickle.dumps(evil))
    crafted("text").write_text("root:x:0:0:root:/root:/bin/bash\n")
    torch.save(evil, crafted("evil_zip"))
    torch.save(_envelope(pickle.dumps(evil)), crafted("evil_payload"))
    torch.save(_envelope(_serialized({"epoch": 1, "evil": evil})), crafted("evil_in_state"))
    torch.save(_envelope(_serialized(state), sha256="0" * 64), crafted("wrong_digest"))
    torch.save(_envelope(_serialized(state), format_=1), crafted("format_1"))
    torch.save(state, crafted("no_envelope"))
    torch.save(_envelope(_serialized([1, 2, 3])), crafted("not_a_dict"))
    stopping = state["early_stopping"]
    model_nan = {key: torch.full_like(value, float("nan")) if value.is_floating_point() else value
                 for key, value in state["model"].items()}  # fmt: skip
    fields = {
        "no_epoch": {"epoch": None},
        "epoch_huge": {"epoch": 10**9},
        "epoch_negative": {"epoch": -5},
        "epoch_text": {"epoch": "1"},
        "epoch_bool": {"epoch": True},
        "history_short": {"history": []},
        "stopping_extra": {"early_stopping": {**stopping, "bogus": 1}},
        "stopping_epoch_text": {"early_stopping": {**stopping, "best_epoch": "x"}},
        "stopping_score_text": {"early_stopping": {**stopping, "best_score": "x"}},
        "stopping_metrics_int": {"early_stopping": {**stopping, "best_metrics": 5}},
        "model_shapes": {"model": {key: torch.zeros(3, 3) for key in state["model"]}},
        "model_empty": {"model": {}},
        "model_nan": {"model": model_nan},
        "best_model_foreign": {"best_model": {"weight": torch.zeros(1)}},
        "optimizer_foreign": {"optimizer": {"foo": 1}},
        "permutation_repeats": {"permutation": torch.zeros(50, dtype=torch.long)},
        "permutation_short": {"permutation": torch.arange(10)},
        "permutation_float": {"permutation": torch.arange(50).float()},
        "no_config": {"config": None},
        "other_rank": {"config": {**state["config"], "rank": 3}},
        "world_size_2": {"world_size": 2},
        "world_size_text": {"world_size": "1"},
    }
    for name, changes in fields.items():
        save_checkpoint(with_fields(**changes), crafted(name))
    crafted("is_directory").mkdir()
    crafted("to_text").symlink_to(root / "text" / "checkpoint.pt")
    crafted("to_dev_null").symlink_to("/dev/null")
    crafted("dangling").symlink_to(root / "nowhere")
    yield root
    assert not (root / PWNED).exists(), "a malicious checkpoint was executed"


# Errors that name options, the run or the dataset rather than the checkpoint file: a differing
# option, a node order that does not fit the dataset, a diverged run, an option path check.
NOT_ABOUT_THE_FILE = {"other_rank", "world_size_2", "permutation_short", "model_nan",
                      "is_directory"}  # fmt: skip
CHECKPOINT_CASES = {
    "truncated": ("truncated or corrupt",),
    "truncated_tail": ("truncated_tail/checkpoint.pt",),
    "empty": ("the file is empty",),
    "random_bytes": ("not a zip archive",),
    "bit_flipped": ("SHA-256 digest does not match",),
    "raw_pickle": ("not a zip archive",),
    "text": ("not a zip archive", "b'root'"),
    "evil_zip": ("weights-only loader refused it", "posix.system"),
    "evil_payload": ("weights-only loader refused it",),
    "evil_in_state": ("weights-only loader refused it", "posix.system"),
    "wrong_digest": ("SHA-256 digest does not match",),
    "format_1": ("checkpoint format 1",),
    "no_envelope": ("is not a tt-gnn checkpoint",),
    "not_a_dict": ("is not a tt-gnn checkpoint",),
    "no_epoch": ("is not a tt-gnn checkpoint", "'epoch'"),
    "epoch_huge": ("epoch 1000000000 is out of range",),
    "epoch_negative": ("epoch -5 is out of range",),
    "epoch_text": ("field 'epoch' must be int, got str",),
    "epoch_bool": ("field 'epoch' must be int, got bool",),
    "history_short": ("epoch 1 but 0 history records",),
    "stopping_extra": ("early_stopping must have fields", "'bogus'"),
    "stopping_epoch_text": ("early_stopping['best_epoch']", "str"),
    "stopping_score_text": ("early_stopping['best_score']", "str"),
    "stopping_metrics_int": ("early_stopping['best_metrics']", "int"),
    "model_shapes": ("does not fit", "extra state must be an int64 vector"),
    "model_empty": ("does not fit", "Missing key(s)"),
    "model_nan": ("training diverged",),
    "best_model_foreign": ("does not fit",),
    "optimizer_foreign": ("does not fit", "optimizer"),
    "permutation_repeats": ("is not a permutation of 0..N-1",),
    "permutation_short": ("permutation must have shape (50,)",),
    "permutation_float": ("permutation must be an int64 tensor",),
    "no_config": ("field 'config' must be dict",),
    "other_rank": ("cannot resume", "rank: checkpoint 3, now 2"),
    "world_size_2": ("cannot resume", "world_size: checkpoint 2, now 1"),
    "world_size_text": ("field 'world_size' must be int",),
    "is_directory": ("--checkpoint-dir", "is a directory"),
    "to_text": ("not a zip archive",),
    "to_dev_null": ("is not a file",),
    "dangling": ("is not a file",),
}


@pytest.mark.parametrize(
    ("name", "expected"), [pytest.param(n, e, id=n) for n, e in CHECKPOINT_CASES.items()]
)
def test_bad_checkpoints_on_resume(name, expected, files: Path, checkpoints: Path, capsys) -> None:
    folder = checkpoints / name
    before = sorted(os.listdir(folder))
    argv = ["train", "--dataset", str(files / "good.npz"), *FAST, "--epochs", "2", "--resume",
            "--checkpoint-dir", str(folder)]  # fmt: skip
    line = assert_one_line_error(argv, expected, capsys)
    if name not in NOT_ABOUT_THE_FILE:
        assert str(folder) in line
    assert sorted(os.listdir(folder)) == before, "a refused checkpoint must be left as it was"


def test_resume_with_another_process_count_fails_before_spawning(
    files: Path, checkpoints: Path, capsys
) -> None:
    argv = ["train", "--dataset", str(files / "good.npz"), *FAST, "--epochs", "2", "--resume",
            "--checkpoint-dir", str(checkpoints / "base"), "--nproc", "2"]  # fmt: skip
    assert_one_line_error(argv, ("cannot resume", "world_size: checkpoint 1, now 2"), capsys)


def test_existing_checkpoint_is_not_overwritten_without_resume(
    files: Path, checkpoints: Path, capsys
) -> None:
    before = (checkpoints / "base" / "checkpoint.pt").read_bytes()
    argv = ["train", "--dataset", str(files / "good.npz"), *FAST, "--checkpoint-dir",
            str(checkpoints / "base")]  # fmt: skip
    assert_one_line_error(argv, ("already exists", "--resume"), capsys)
    assert (checkpoints / "base" / "checkpoint.pt").read_bytes() == before


def test_the_good_inputs_train(files: Path, checkpoints: Path, capsys) -> None:
    """Positive control: the files the cases damage are fine as they are."""
    for dataset in ("good.npz", "link.npz", "bom.csv", "trailing_comma.csv"):
        argv = ["train", "--dataset", str(files / dataset), *FAST]
        if dataset.endswith(".csv"):
            argv += ["--labels", str(files / "labels.csv")]
        status, out, err, _ = run_cli(argv, capsys)
        assert status == 0 and "best epoch 1 of 1" in out, err
    shutil.copytree(checkpoints / "base", checkpoints / "base_copy")
    argv = ["train", "--dataset", str(files / "good.npz"), *FAST, "--epochs", "2", "--resume",
            "--checkpoint-dir", str(checkpoints / "base_copy")]  # fmt: skip
    status, out, err, _ = run_cli(argv, capsys)
    assert status == 0 and "resumed from" in out and "best epoch" in out, err


# ------------------------------------------------------------------------------------------
# D1 (shape search without a bound) is fixed on branch core: until then these would hang,
# so each runs under an alarm and counts as failed when it goes off.
# ------------------------------------------------------------------------------------------


class _Hang(BaseException):
    """Not an ``Exception``, so that the CLI's error handler does not turn it into a status."""


def run_with_alarm(seconds: float, function, *args):
    def ring(signum, frame):
        raise _Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return function(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_many_cores_answer_at_once(files: Path, capsys) -> None:
    """30 cores for 50 rows: a result or a one-line error within seconds, not a search that
    never ends (train and demo choose shapes the same way)."""
    argv = ["reorder", str(files / "good.npz"), "-o", str(files / "o30.npy"), "--num-cores", "30"]
    status, _, err, _ = run_with_alarm(2.0, run_cli, argv, capsys)
    assert status == 0 or (status == 2 and err.count("\n") == 1 and "num_cores" in err), err
