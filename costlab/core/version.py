"""The package version and the schema version of every JSON document costlab writes."""

from __future__ import annotations

__version__ = "0.1.0"
# bumped when a JSON output's shape changes; every payload carries it
SCHEMA_VERSION = 1
# a bench report's own shape (``costlab bench -f json``, and what a board sends back)
BENCH_REPORT_SCHEMA_VERSION = 2  # 2: rounds, round sizes, medians and CV
# the request/reply exchanged with ``costlab serve-bench`` on a board over ssh
BENCH_PROTOCOL_SCHEMA_VERSION = 1
