"""The package version and the schema version of every JSON document costlab writes."""

from __future__ import annotations

__version__ = "0.1.0"
# bumped when a JSON output's shape changes; every payload carries it
SCHEMA_VERSION = 1
