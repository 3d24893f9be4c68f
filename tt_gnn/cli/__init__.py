"""The ``tt-gnn`` command line. Each subcommand lives in its own module ``tt_gnn.cli.<name>``
exposing ``add_arguments(parser)`` and ``run(args) -> int``. Argument definitions import
nothing heavy (no torch, DGL or trainer), so ``tt-gnn --help`` stays fast; ``run`` imports
what it needs. Every subcommand's failures go through one handler in :func:`main`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

# Errors that bad input (arguments, files, sizes) raises across tt-gnn: reported in one line with
# exit status 2 instead of a traceback; set TT_GNN_DEBUG=1 to see the traceback.
USER_ERRORS = (ValueError, IndexError, MemoryError, OSError, TypeError, EOFError, KeyError)

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("tt_gnn.cli.demo", "the main job on built-in data (README's first command)"),
    "train": ("tt_gnn.cli.train", "train GraphSAGE/GAT with TT or full node embeddings"),
    "reorder": ("tt_gnn.cli.reorder", "relabel a graph so that TT blocks follow partitions"),
    "baseline": ("tt_gnn.cli.baseline", "label propagation / spectral + LR floors on a split"),
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other tt-gnn error (subcommand
    parsers share the class)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tt-gnn", description="Tensor-Train node embeddings for graph neural networks."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        subparser = subparsers.add_parser(name, help=help_text, description=help_text)
        subparser.set_defaults(_module=module_name, _parser=subparser)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            subparser.set_defaults(_missing=f"subcommand {name!r} is not available: {error}")
            continue
        module.add_arguments(subparser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:  # reported by the subcommand, so the message starts with "tt-gnn <command>:"
        args._parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    missing = getattr(args, "_missing", None)
    if missing:
        print(f"tt-gnn: {missing}", file=sys.stderr)
        return 2
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args) or 0)
    except Exception as error:  # noqa: BLE001 - every failure becomes one line (see below)
        if os.environ.get("TT_GNN_DEBUG"):
            raise
        print(f"tt-gnn {args.command}: error: {describe_error(error)}", file=sys.stderr)
        return 2


def describe_error(error: BaseException) -> str:
    """One line for any failure: the message of a user error (bad option, file or value), the
    type and first line of anything else, and a hint to ``TT_GNN_DEBUG=1`` for the latter.

    Example:
        >>> describe_error(ValueError("lr must be a finite number > 0, got inf"))
        'lr must be a finite number > 0, got inf'
    """
    text = str(error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    if isinstance(error, RuntimeError) and "allocate" in text:
        return f"out of memory: {first} (try a smaller --rank, --batch-size or dataset)"
    if isinstance(error, USER_ERRORS):
        if isinstance(error, KeyError):
            return f"missing key {first}"
        return first
    return f"{type(error).__name__}: {first} (TT_GNN_DEBUG=1 shows the traceback)"
