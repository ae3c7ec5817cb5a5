"""Formulas for the fused recurrent kernels (aten GRU/LSTM/RNN): per time step x steps.

Imported at the end of formulas.py, so these register into the one registry.
"""

from __future__ import annotations
