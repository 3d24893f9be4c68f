"""Triton kernels for the TT lookup (shipped as ``tt_gnn.kernels``)."""
