"""Loading and validating the event log (CSV or Parquet, a file or a directory).

A table is either accepted whole or refused with a ``DataError`` naming the
file, the row (1-based data row; for CSV the line is row + 1 because of the
header), the column and what was expected. Every problem of a run is reported at
once: per file and column, the rule broken, how many rows break it and the first
few of them. Nothing is returned half-loaded.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from augur.training.data.schema import TABLES, Column, Kind, Table

MAX_ID_LEN = 128
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}
_OFFSET_RE = r"(?:Z|z|[+-]\d{2}(?::?\d{2})?)$"
SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")
CHUNK_ROWS = 1_000_000  # rows per chunk when a table is streamed


FIRST_ROWS = 5  # rows quoted per problem


@dataclass(frozen=True)
class Problem:
    """One rule broken in one column of one file: how often and where first."""

    file: str
    message: str
    column: str | None = None
    rows: tuple[int, ...] = ()
    count: int = 0

    def located(self, first: int) -> Problem:
        """The same problem in a chunk whose first row is row ``first`` of the file."""
        return Problem(
            self.file, self.message, self.column, tuple(r + first for r in self.rows), self.count
        )

    def __str__(self) -> str:
        where = self.file
        if self.rows:
            where += f", row {self.rows[0]}"
        if self.column is not None:
            where += f", column '{self.column}'"
        text = f"{where}: {self.message}"
        if self.count > 1:
            shown = ", ".join(str(r) for r in self.rows[:FIRST_ROWS])
            text += f" ({self.count} rows; first rows {shown})"
        return text


class DataError(ValueError):
    """Data files do not follow the data contract: one or more problems, all reported."""

    def __init__(
        self,
        file: str | Path,
        message: str,
        row: int | None = None,
        column: str | None = None,
        problems: list[Problem] | None = None,
    ) -> None:
        self.problems = problems or [
            Problem(str(file), message, column, (row,) if row is not None else (), 1)
        ]
        first = self.problems[0]
        self.message = first.message
        self.file = first.file
        self.row = first.rows[0] if first.rows else None
        self.column = first.column
        if len(self.problems) == 1:
            super().__init__(str(first))
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            super().__init__(f"{len(self.problems)} problems in the data:\n{lines}")

    @staticmethod
    def of(problems: list[Problem]) -> DataError:
        return DataError(problems[0].file, problems[0].message, problems=problems)

    @staticmethod
    def combined(errors: list[DataError]) -> DataError:
        return DataError.of([p for e in errors for p in e.problems])


@dataclass
class Dataset:
    """The validated event log. Optional tables are empty frames when absent."""

    orders: pd.DataFrame
    interactions: pd.DataFrame
    contacts: pd.DataFrame
    customers: pd.DataFrame
    items: pd.DataFrame
    source: str = ""

    def table(self, name: str) -> pd.DataFrame:
        frame: pd.DataFrame = getattr(self, name)
        return frame


def empty_table(table: Table) -> pd.DataFrame:
    """A typed empty frame with every column of the table."""
    cols: dict[str, pd.Series] = {}
    for col in table.columns:
        if col.kind in (Kind.TIMESTAMP, Kind.OPTIONAL_TIMESTAMP):
            cols[col.name] = pd.Series([], dtype="datetime64[us, UTC]")
        elif col.kind is Kind.INT:
            cols[col.name] = pd.Series([], dtype="int64")
        elif col.kind is Kind.FLOAT:
            cols[col.name] = pd.Series([], dtype="float64")
        elif col.kind is Kind.BOOL:
            cols[col.name] = pd.Series([], dtype="bool")
        else:
            cols[col.name] = pd.Series([], dtype="object")
    return pd.DataFrame(cols)


def find_table_file(directory: Path, name: str) -> Path | None:
    """The file holding table ``name`` in a directory (orders.csv, orders.parquet, ...)."""
    matches = [directory / f"{name}{s}" for s in SUFFIXES if (directory / f"{name}{s}").exists()]
    if len(matches) > 1:
        raise DataError(directory, f"several files for table '{name}': {[m.name for m in matches]}")
    return matches[0] if matches else None


def table_files(path: str | Path) -> dict[str, Path | None]:
    """The file of each table in a data directory (None when an optional table is absent)."""
    directory = Path(path)
    if not directory.exists():
        raise DataError(directory, "no such file or directory")
    if not directory.is_dir():
        raise DataError(directory, "expected a directory holding orders.csv (or .parquet) etc.")
    files: dict[str, Path | None] = {}
    for name, table in TABLES.items():
        files[name] = find_table_file(directory, name)
        if files[name] is None and table.required:
            raise DataError(directory, f"missing required table '{name}' ({name}.csv or .parquet)")
    return files


def load_dataset(path: str | Path, only: tuple[str, ...] | None = None) -> Dataset:
    """Load every table from a directory (or just the tables in ``only``, the others left
    empty); orders is required, the others optional."""
    frames: dict[str, pd.DataFrame] = {}
    errors: list[DataError] = []
    for name, file in table_files(path).items():
        if file is None or (only is not None and name not in only):
            frames[name] = empty_table(TABLES[name])
            continue
        try:
            frames[name] = load_table(file, name)
        except DataError as exc:
            errors.append(exc)
    if errors:
        raise DataError.combined(errors)
    return Dataset(**frames, source=str(Path(path)))


def load_table(file: str | Path, table: Table | str) -> pd.DataFrame:
    """Read and validate one whole table file; returns typed columns or raises DataError."""
    return next(iter_table(file, table, rows=None))


def iter_table(
    file: str | Path, table: Table | str, rows: int | None = CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """Validated chunks of at most ``rows`` rows (None: the whole file as one frame), in file
    order; errors name the row of the whole file. At least one (maybe empty) frame is
    yielded, so a file with no rows is still checked for its columns. Unique keys are
    checked across chunks through 64-bit hashes of the values seen."""
    file = Path(file)
    table = TABLES[table] if isinstance(table, str) else table
    if not file.exists():
        raise DataError(file, "no such file")
    seen: dict[str, list[np.ndarray]] = {key: [] for key in table.unique}
    first = 0
    problems: list[Problem] = []
    for raw, is_csv in _raw_chunks(file, rows):
        try:
            frame = _validated(file, raw, table, is_csv, first)
        except DataError as exc:
            problems += exc.problems
            if exc.row is None:  # a whole-file problem (columns, zones): no point going on
                break
            first += len(raw)
            continue
        if problems:  # an earlier chunk failed: only look for more problems
            first += len(frame)
            continue
        for key, hashes in seen.items():
            h = pd.util.hash_pandas_object(frame[key], index=False).to_numpy()
            if hashes:
                again = np.isin(h, np.concatenate(hashes))
                if again.any():
                    row = int(np.flatnonzero(again)[0])
                    raise DataError(
                        file, f"duplicate value {frame[key].iat[row]!r}", first + row + 1, key
                    )
            hashes.append(h)
        first += len(frame)
        yield frame
    if problems:
        raise DataError.of(_merged(problems))


def _merged(problems: list[Problem]) -> list[Problem]:
    """One problem per (file, column, rule) across chunks, counts added, first rows kept."""
    out: dict[tuple[str, str | None, str], Problem] = {}
    for p in problems:
        key = (p.file, p.column, _rule(p.message))
        if key in out:
            q = out[key]
            p = Problem(
                q.file, q.message, q.column, (q.rows + p.rows)[:FIRST_ROWS], q.count + p.count
            )
        out[key] = p
    return list(out.values())


def _rule(message: str) -> str:
    """The rule part of a message (without the quoted value)."""
    return message.split(", got ")[0]


def _raw_chunks(file: Path, rows: int | None) -> Iterator[tuple[pd.DataFrame, bool]]:
    """(raw frame, is_csv) chunks of the file; one empty frame with the header when empty."""
    name = file.name.lower()
    if not name.endswith((".parquet", ".pq", ".csv", ".csv.gz")):
        raise DataError(file, "unsupported format; expected .csv, .csv.gz or .parquet")
    is_csv = not name.endswith((".parquet", ".pq"))
    try:
        if not is_csv:
            source = pq.ParquetFile(file)
            chunks: Iterator[pd.DataFrame] = (
                iter([source.read().to_pandas()])
                if rows is None
                else (b.to_pandas() for b in source.iter_batches(batch_size=rows))
            )
            header = source.schema_arrow.empty_table().to_pandas()
        else:
            chunks = (
                iter([_read_csv(file)])
                if rows is None
                else iter(
                    pd.read_csv(
                        file, dtype=str, keep_default_na=False, na_filter=False, chunksize=rows
                    )
                )
            )
            header = _read_csv(file, nrows=0)
        yielded = False
        for chunk in chunks:
            yielded = True
            yield chunk.reset_index(drop=True), is_csv
        if not yielded:
            yield header, is_csv
    except DataError:
        raise
    except Exception as exc:
        raise DataError(file, f"cannot be read: {exc}") from None


def _read_csv(file: Path, nrows: int | None = None) -> pd.DataFrame:
    return pd.read_csv(file, dtype=str, keep_default_na=False, na_filter=False, nrows=nrows)


def _validated(
    file: Path, raw: pd.DataFrame, table: Table, is_csv: bool, first: int
) -> pd.DataFrame:
    """Typed, checked columns of one chunk whose first row is row ``first`` of the file."""
    try:
        return _validate(file, raw, table, is_csv)
    except DataError as exc:
        if not first:
            raise
        raise DataError.of([p.located(first) for p in exc.problems]) from None


def _validate(file: Path, raw: pd.DataFrame, table: Table, is_csv: bool) -> pd.DataFrame:
    raw.columns = [str(c).strip() for c in raw.columns]
    known = {c.name for c in table.columns}
    missing = [c.name for c in table.columns if c.required and c.name not in raw.columns]
    if missing:
        raise DataError(
            file,
            f"missing column(s) {missing}; table '{table.name}' needs "
            f"{[c.name for c in table.columns if c.required]}",
        )
    out: dict[str, pd.Series] = {}
    problems: list[Problem] = []
    for col in table.columns:
        if col.name not in raw.columns:
            out[col.name] = _default_series(col, len(raw))
            continue
        checks = _Checks(file, col)
        converted = _convert(checks, raw[col.name], col, is_csv)
        problems += checks.problems
        out[col.name] = converted
    if problems:
        raise DataError.of(problems)
    frame = pd.DataFrame(out, index=pd.RangeIndex(len(raw)))
    extra = [c for c in raw.columns if c not in known]
    if extra:
        frame.attrs["ignored_columns"] = extra
    for key in table.unique:
        dup = frame[key].duplicated()
        if dup.any():
            row = int(np.flatnonzero(dup.to_numpy())[0])
            problems.append(
                Problem(
                    str(file),
                    f"duplicate value {frame[key].iat[row]!r}",
                    key,
                    tuple(int(r) + 1 for r in np.flatnonzero(dup.to_numpy())[:FIRST_ROWS]),
                    int(dup.sum()),
                )
            )
    for later, earlier in table.after:
        bad = (frame[later] < frame[earlier]).fillna(False).to_numpy()
        if bad.any():
            rows = np.flatnonzero(bad)
            problems.append(
                Problem(
                    str(file),
                    f"is before '{earlier}'",
                    later,
                    tuple(int(r) + 1 for r in rows[:FIRST_ROWS]),
                    len(rows),
                )
            )
    if problems:
        raise DataError.of(problems)
    return frame


def _default_series(col: Column, n: int) -> pd.Series:
    if col.kind is Kind.OPTIONAL_TIMESTAMP:
        return pd.Series(pd.NaT, index=range(n), dtype="datetime64[us, UTC]")
    if col.kind is Kind.BOOL:
        return pd.Series(bool(col.default), index=range(n), dtype="bool")
    if col.kind is Kind.FLOAT:
        return pd.Series(float(col.default or 0.0), index=range(n), dtype="float64")  # type: ignore[arg-type]
    return pd.Series(col.default if col.default is not None else "", index=range(n), dtype=object)


class _Checks:
    """The problems found in one column: each rule records every row that breaks it, and a
    row that broke one rule is not reported again by the next."""

    def __init__(self, file: Path, col: Column) -> None:
        self.file, self.col = str(file), col
        self.problems: list[Problem] = []
        self.bad: np.ndarray | None = None

    def fail_at(self, mask: np.ndarray, values: pd.Series, expected: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if self.bad is not None:
            mask = mask & ~self.bad
        if not mask.any():
            return
        self.bad = mask if self.bad is None else self.bad | mask
        rows = np.flatnonzero(mask)
        got = str(values.iat[int(rows[0])])[:60]
        self.problems.append(
            Problem(
                self.file,
                f"{expected}, got {got!r}",
                self.col.name,
                tuple(int(r) + 1 for r in rows[:FIRST_ROWS]),
                len(rows),
            )
        )

    def raise_now(self, message: str) -> None:
        raise DataError(self.file, message, None, self.col.name)


@cache
def _valid_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _convert(checks: _Checks, series: pd.Series, col: Column, is_csv: bool) -> pd.Series:
    kind = col.kind
    if kind in (Kind.TIMESTAMP, Kind.OPTIONAL_TIMESTAMP):
        return _timestamps(checks, series, col, is_csv)
    text = series.astype(str) if is_csv or series.dtype == object else series
    if kind in (Kind.ID, Kind.OPTIONAL_ID):
        text = (
            series.astype(str).str.strip()
            if series.dtype != object
            else series.fillna("").astype(str)
        )
        lengths = text.str.len().to_numpy()
        if kind is Kind.ID:
            checks.fail_at(lengths == 0, text, "expected a non-empty identifier")
        checks.fail_at(lengths > MAX_ID_LEN, text, f"expected at most {MAX_ID_LEN} characters")
        return text.astype(object)
    if kind is Kind.TEXT:
        return series.fillna("").astype(str)
    if kind is Kind.CHOICE:
        low = series.fillna("").astype(str).str.strip().str.lower()
        if col.default is not None:
            low = low.where(low != "", str(col.default))
        checks.fail_at(
            ~low.isin(col.choices).to_numpy(),
            series,
            f"expected one of {list(col.choices)}",
        )
        return low.astype(object)
    if kind is Kind.TIMEZONE:
        zones = series.fillna("").astype(str).str.strip()
        uniq = zones.unique()
        bad_names = {z for z in uniq if z and not _valid_zone(z)}
        checks.fail_at(zones.isin(bad_names).to_numpy(), zones, "expected an IANA time zone")
        return zones.astype(object)
    if kind is Kind.BOOL:
        if series.dtype == bool:
            return series
        low = series.fillna("").astype(str).str.strip().str.lower()
        bad = ~(low.isin(_TRUE) | low.isin(_FALSE))
        checks.fail_at(bad.to_numpy(), series, "expected true/false")
        return low.isin(_TRUE)
    # numbers
    num = pd.to_numeric(text if is_csv else series, errors="coerce")
    nan = num.isna().to_numpy()
    what = "an integer" if kind is Kind.INT else "a number"
    checks.fail_at(nan, series, f"expected {what}")
    values = num.to_numpy(dtype="float64")
    if kind is Kind.INT:
        checks.fail_at(values != np.round(values), series, "expected an integer")
    if col.nonzero:
        checks.fail_at(values == 0, series, "expected a non-zero value")
    if col.min_value is not None:
        checks.fail_at(values < col.min_value, series, f"expected >= {col.min_value:g}")
    if col.max_value is not None:
        checks.fail_at(values > col.max_value, series, f"expected <= {col.max_value:g}")
    checks.fail_at(~np.isfinite(values), series, "expected a finite number")
    values = np.where(np.isfinite(values), values, 0.0)  # bad rows are reported, never used
    return pd.Series(values.astype("int64" if kind is Kind.INT else "float64"))


def _timestamps(checks: _Checks, series: pd.Series, col: Column, is_csv: bool) -> pd.Series:
    optional = col.kind is Kind.OPTIONAL_TIMESTAMP
    if not is_csv and pd.api.types.is_datetime64_any_dtype(series.dtype):
        if getattr(series.dtype, "tz", None) is None:
            checks.raise_now("timestamps have no time zone; store them tz-aware")
        if not optional:
            checks.fail_at(series.isna().to_numpy(), series, "expected a timestamp")
        return series.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    text = series.fillna("").astype(str).str.strip()
    empty = (text == "").to_numpy()
    if not optional:
        checks.fail_at(empty, text, "expected an ISO-8601 timestamp with offset")
    no_offset = ~empty & ~text.str.contains(_OFFSET_RE, regex=True).to_numpy()
    checks.fail_at(
        no_offset,
        text,
        "expected an ISO-8601 timestamp with an offset (e.g. 2025-03-01T10:00:00+01:00 or ...Z)",
    )
    parsed = pd.to_datetime(text.where(~empty, None), utc=True, format="ISO8601", errors="coerce")
    checks.fail_at(parsed.isna().to_numpy() & ~empty, text, "expected an ISO-8601 timestamp")
    return parsed.astype("datetime64[us, UTC]")
