"""A results file written while the results come in: ``-o results.csv`` or ``.parquet``.

Rows arrive in chunks (a worker's task). Each chunk is first made durable on its own: one
``write`` appending its rows, as JSON lines, to this run's journal in ``.NAME.parts/`` beside
the results (a chunk cut short by a kill is a torn last line there, which reading skips:
those rows were still in flight). The results file itself is only ever replaced whole
(``os.replace`` of a complete temporary file, ``output_files.atomic_path``), with every row
so far sorted by the key column, and then the journal starts again. So at any instant the
file is a complete, readable table (never a torn last line) and every finished chunk is in it
or in the journal: a ``kill -9`` loses only the rows not yet finished. Rewriting the whole
file costs time as it grows, so it is rewritten at most every ``min_interval_s`` and never
more often than ten times the last rewrite took (the rewrites then cost at most about a tenth
of the run). ``finish`` writes the final, sorted file and removes the parts directory.

Reading it back (``--resume``): the file's rows and the journals' whole lines. A CSV's cells
are kept as their text and written back verbatim, so a resumed run's final file is byte for
byte the file of a run never interrupted. Parquet needs pyarrow (``costlab[ray]``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Iterable

from costlab.core.errors import UsageError
from costlab.report.output_files import atomic_path, resolve_output, write_atomic

STREAM_SUFFIXES = {".csv": "csv", ".parquet": "parquet"}
PYARROW_HINT = ("writing .parquet needs pyarrow: pip install 'costlab[ray]' (or pyarrow), "
                "or write -o results.csv")
# rewrite the file no more often than this many times the last rewrite took
REWRITE_COST_RATIO = 10


def streams_to(output: str | None) -> str | None:
    """The streamed format ``output``'s suffix names (csv, parquet), else None."""
    if output is None:
        return None
    return STREAM_SUFFIXES.get(Path(output).suffix.lower())


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401  (the submodule, imported for its side)
    except ImportError:
        raise UsageError(PYARROW_HINT) from None
    return pyarrow


def csv_cell(value: Any) -> str:
    """A value as its CSV text: empty for None, repr for floats (it reads back exactly)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


class ResultsFile:
    """One streamed results file: ``columns`` in order, rows told apart by ``key``;
    ``kinds`` (int, float, bool, str per column) give a parquet file its schema."""

    def __init__(self, output: str, columns: list[str], kinds: dict[str, str], *,
                 key: str = "point", min_interval_s: float = 2.0) -> None:
        self.format = streams_to(output)
        if self.format is None:
            raise UsageError(f"cannot stream results to {output}: name it .csv or .parquet")
        if self.format == "parquet":
            _pyarrow()
        self.output = output
        self.target = resolve_output(output)
        self.columns = list(columns)
        self.kinds = dict(kinds)
        self.key = key
        self.min_interval_s = min_interval_s
        self.parts = self.target.parent / f".{self.target.name}.parts"
        self.rows: dict[int, tuple] = {}  # key -> the row as stored (CSV: cell texts)
        self._journal: int | None = None  # this run's journal, open for appending
        self._leftovers: list[Path] = []  # journals of an earlier run, read by --resume
        self._last_write = 0.0
        self._write_cost = 0.0

    # ------------------------------------------------------------------ values
    def encode(self, column: str, value: Any) -> Any:
        """``value`` as the file stores it: CSV text, or a value of the column's kind."""
        if self.format == "csv":
            return value if isinstance(value, str) else csv_cell(value)
        if value is None:
            return None
        kind = self.kinds.get(column, "str")
        if kind == "float" and not isinstance(value, bool):
            return float(value)
        return str(value) if kind == "str" else value

    def _stored(self, row: dict[str, Any]) -> tuple:
        return tuple(self.encode(c, row.get(c)) for c in self.columns)

    def _key_of(self, stored: tuple) -> int:
        return int(stored[self.columns.index(self.key)])

    # ------------------------------------------------------------------ start
    def start(self, *, resume: bool) -> dict[int, tuple]:
        """Begin: with ``resume`` the rows already written (file and leftover chunks), else
        an empty file, any leftover chunks removed."""
        if resume:
            self.rows = {self._key_of(r): r for r in [*self._read_file(), *self._read_parts()]}
            self._leftovers = sorted(self.parts.glob("*.jsonl")) if self.parts.is_dir() else []
        else:
            shutil.rmtree(self.parts, ignore_errors=True)
            self.rows = {}
        self._rewrite()
        return dict(self.rows)

    def value(self, key: int, column: str) -> Any:
        return self.rows[key][self.columns.index(column)]

    def _read_file(self) -> list[tuple]:
        if not self.target.exists():
            return []
        if self.format == "csv":
            with open(self.target, newline="", encoding="utf-8") as handle:
                reader = csv.reader(handle)
                header = next(reader, None)
                if header is None:
                    return []
                self._check_header(header)
                return [tuple(r) for r in reader if r]
        pa = _pyarrow()
        try:
            table = pa.parquet.read_table(self.target)
        except Exception as exc:
            raise UsageError(f"cannot resume from {self.output}: not a readable parquet file "
                             f"({exc})") from None
        self._check_header(table.column_names)
        return [tuple(self.encode(c, r[c]) for c in self.columns) for r in table.to_pylist()]

    def _check_header(self, header: list[str]) -> None:
        if list(header) != self.columns:
            raise UsageError(f"cannot resume from {self.output}: its columns "
                             f"({', '.join(header)}) are not this sweep's "
                             f"({', '.join(self.columns)}); give another -o or drop --resume")

    def _read_parts(self) -> list[tuple]:
        if not self.parts.is_dir():
            return []
        rows = []
        for part in sorted(self.parts.glob("*.jsonl")):
            text = part.read_text(encoding="utf-8", errors="replace")
            whole = text[:text.rfind("\n") + 1]  # a torn last line was still in flight
            for line in whole.splitlines():
                try:
                    rows.append(self._stored(json.loads(line)))
                except ValueError:
                    continue
        return rows

    # ------------------------------------------------------------------ rows
    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        """A finished chunk: durable at once (a part file), in the results file soon."""
        rows = list(rows)
        if not rows:
            return
        self.parts.mkdir(exist_ok=True)
        if self._journal is None:
            self._journal = os.open(self.parts / f"journal-{os.getpid()}.jsonl",
                                    os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        # one write per chunk; a kill in the middle of it leaves a torn last line here,
        # which reading skips (those rows were still in flight), never in the results
        text = "".join(json.dumps(r, allow_nan=False) + "\n" for r in rows)
        os.write(self._journal, text.encode("utf-8"))
        for row in rows:
            stored = self._stored(row)
            self.rows[self._key_of(stored)] = stored
        waited = time.monotonic() - self._last_write
        if waited >= max(self.min_interval_s, REWRITE_COST_RATIO * self._write_cost):
            self._rewrite()

    def finish(self) -> Path:
        """The final file: every row, sorted by the key; the parts directory removed."""
        self._rewrite()
        self.close()
        shutil.rmtree(self.parts, ignore_errors=True)
        return self.target

    def close(self) -> None:
        if self._journal is not None:
            os.close(self._journal)
            self._journal = None

    def _rewrite(self) -> None:
        began = time.monotonic()
        ordered = [self.rows[k] for k in sorted(self.rows)]
        if self.format == "csv":
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(self.columns)
            writer.writerows(ordered)
            write_atomic(self.output, buffer.getvalue())
        else:
            self._write_parquet(ordered)
        # every row is in the file now: the journals can start again (a kill between the
        # rename and this leaves rows in both, the same rows, read once)
        if self._journal is not None:
            os.ftruncate(self._journal, 0)
        for old in self._leftovers:
            old.unlink(missing_ok=True)
        self._leftovers = []
        self._last_write = time.monotonic()
        self._write_cost = self._last_write - began

    def _write_parquet(self, ordered: list[tuple]) -> None:
        pa = _pyarrow()
        types = {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(),
                 "str": pa.string()}
        schema = pa.schema([(c, types[self.kinds.get(c, "str")]) for c in self.columns])
        columns = list(zip(*ordered)) if ordered else [() for _ in self.columns]
        table = pa.table([pa.array(list(v), type=f.type) for v, f in zip(columns, schema)],
                         schema=schema)
        with atomic_path(self.output) as tmp:
            pa.parquet.write_table(table, tmp)


def read_results(output: str) -> "Any":
    """A streamed results file as a DataFrame."""
    import pandas as pd

    if streams_to(output) == "parquet":
        _pyarrow()
        return pd.read_parquet(output)
    return pd.read_csv(output, keep_default_na=False, na_values=[""])
