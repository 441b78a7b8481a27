"""Bulk screening on a Dask cluster: `screening bulk IN OUT --dask SCHEDULER_ADDRESS|local` (issue 14).

The output is the single-machine command's, byte for byte (CSV), because the workers run its code: they decode and
parse their part of the file with bulk.parse_records and screen it with bulk.screen_rows. What runs where:

- The driver (this process) screens nothing. For CSV it makes the one pass over the file that the single-machine
  command makes before screening (a file refused anywhere writes nothing; the row count feeds the progress bar) and
  notes there, every `partition_rows` records, the byte offset and the line number where the next record begins. A
  partition is thus a byte range of whole records: a quoted newline never straddles two, and a worker's messages name
  the same lines. (Cutting at arbitrary newlines, as dask's read_bytes does, would cut quoted fields in two; the pass
  costs the C csv reader's time on one core, a small fraction of screening's.) Parquet needs no pass: partitions
  are slices of row groups, from the files' metadata.
- Each worker process loads the list snapshot once: from the snapshot cache file when every worker can read it
  (shared filesystem), else from one copy the driver scatters to every worker; never per partition. It remembers the
  names it screened, so a name repeated across the file is screened once per worker.
- Each worker writes its partition to a part file in a folder next to OUT (the folder must be shared); the driver
  appends the parts to OUT in order as they arrive (bytes, or Arrow tables: no per-row work) and records the audit
  tuples each partition returns, one batched insert and commit per partition.
"""

from __future__ import annotations

import codecs
import csv
import glob
import io
import logging
import os
import pickle
import re
import shutil
import threading
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterator

import click

from . import bulk as bulkmod
from .bulk import RESULT_COLUMNS, BulkOptions, Columns, Counters, CsvRefused, FlawedRow, Found, Query

if TYPE_CHECKING:
    from flask import Flask

WORKER_MEMO_NAMES = 200_000  # distinct (name, type) results a worker keeps; the memo starts afresh beyond
PARQUET_SUFFIXES = (".parquet", ".pq")
INSTALL_HINT = "pip install 'screening[dask]'"


def require_dask() -> Any:
    """The `distributed` module, or a click error saying how to install the extra."""
    try:
        import distributed
        import pyarrow  # noqa: F401 - Parquet input and output
    except ImportError as exc:
        raise click.ClickException(f"--dask needs the optional packages ({exc}): {INSTALL_HINT}") from None
    return distributed


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET_SUFFIXES


@dataclass(frozen=True)
class Part:
    """One task's share of the input: a byte range of whole CSV records, or a slice of a Parquet row group."""
    index: int
    path: str
    rows: int
    start: int  # CSV: first byte; Parquet: first row within the row group
    end: int  # CSV: byte after the last; Parquet: row after the last
    first_line: int = 1  # CSV: physical line where the range begins; Parquet: data row number of `start` in its file
    encoding: str = ""
    dialect: tuple[tuple[str, Any], ...] = ()
    skip_header: bool = False  # the range starts at the file's beginning (the header could not be cut off)
    row_group: int = -1
    label: str = ""  # the file's name, put before line-numbered messages when the input has several files


@dataclass(frozen=True)
class Job:
    """What every task of one run shares (small: the list travels separately)."""
    header: list[str]
    columns: Columns
    options: BulkOptions
    threshold: float
    snapshot_key: str
    snapshot_path: str  # the snapshot cache file the workers read, or "" when the driver scatters it
    parts_dir: str
    parquet_out: bool


# --- the input: files, and their partitions ---------------------------------------------------------------------

def input_files(spec: str) -> list[Path]:
    """IN as one file, a folder (its files, by name) or a glob pattern; all CSV or all Parquet."""
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    else:
        files = [path] if path.is_file() else sorted(Path(p) for p in glob.glob(spec) if Path(p).is_file())
    if not files:
        raise CsvRefused("file", f"no input file at {spec}")
    if len({is_parquet(p) for p in files}) > 1:
        raise CsvRefused("file", "the input mixes CSV and Parquet files")
    return files


_DIALECT_FIELDS = ("delimiter", "quotechar", "escapechar", "doublequote", "skipinitialspace", "quoting",
                   "lineterminator", "strict")
_PIECES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_STEADY_CODECS = {"utf-8", "utf-8-sig", "gbk", "gb2312", "gb18030", "big5", "big5hkscs", "cp932", "shift_jis",
                  "euc_jp", "euc_kr", "cp949", "cp950"}  # stateless, and no character's bytes hold \n, \r or a quote


def _splittable(encoding: str, quotechar: str) -> bool:
    """Whether a range of the file cut after a b"\\n" decodes on its own as it does in the whole file."""
    name = codecs.lookup(encoding).name
    if name in _STEADY_CODECS:
        return True
    try:  # a single-byte codec, ASCII-compatible where line breaks and quotes are concerned
        marks = "\n\r,;\t" + (quotechar or "")
        return marks.encode(name) == marks.encode("ascii") and len(bytes(range(256)).decode(name, "replace")) == 256
    except (UnicodeError, LookupError, TypeError):
        return False


class _RawLines:
    """A binary file's decoded lines, split where TextIOWrapper(newline="") splits them (\\r\\n, \\r, \\n), with
    `offset`, the byte just past the last b"\\n"-ended raw line handed out whole (`whole`): a partition can start
    there. `number` counts the lines handed out."""

    def __init__(self, raw: IO[bytes], encoding: str):
        self._raw = raw
        self._decode = codecs.getincrementaldecoder(encoding)(bulkmod.MARK_UNDECODABLE).decode
        self._pending: list[str] = []
        self._carry = ""
        self._read = 0
        self.offset, self.number, self.whole = 0, 0, True

    def __iter__(self) -> _RawLines:
        return self

    def __next__(self) -> str:
        while not self._pending:
            raw = self._raw.readline()
            text = self._carry + self._decode(raw, not raw)
            if not raw and not text:
                raise StopIteration
            self._read += len(raw)
            if raw and not text.endswith("\n"):  # a character (UTF-16) or a \r\n cut by the raw line's end
                self._carry = text
                continue
            self._carry = ""
            body_end = len(text) - (2 if text.endswith("\r\n") else 1)
            self._pending = _PIECES.findall(text)[::-1] if text.find("\r", 0, body_end) >= 0 else [text]
        line = self._pending.pop()
        self.number += 1
        self.whole = not self._pending
        if self.whole:
            self.offset = self._read
        return line


def _dialect(params: tuple[tuple[str, Any], ...]) -> Any:
    return type("Shipped", (csv.excel,), dict(params))


def _scan_csv(path: Path, options: BulkOptions, partition_rows: int, label: str) -> tuple[list[str], str, list[Part]]:
    """The header, the encoding and the partitions of one CSV file; CsvRefused as the single-machine command."""
    with open(path, "rb") as handle:
        _, encoding, dialect = bulkmod.sniff(handle, options)
        handle.seek(0)
        lines = _RawLines(handle, encoding)
        rows = bulkmod.parse_records(lines, dialect, encoding)
        header = bulkmod.read_header(rows)
        bulkmod.resolve_columns(header, options)  # a missing column is refused first, as by the single machine
        params = tuple((name, getattr(dialect, name)) for name in _DIALECT_FIELDS if hasattr(dialect, name))
        cut = _splittable(encoding, dialect.quotechar)
        # The header may end inside a raw line (a file whose lines end in a lone \r), or the encoding may not allow
        # cuts: the file is then one partition, from its first byte, whose task skips the header.
        skip_header = not (cut and lines.whole)
        start, first_line = (0, 1) if skip_header else (lines.offset, lines.number + 1)
        count, parts = 0, []

        def close(end: int) -> None:
            parts.append(Part(0, str(path), count, start, end, first_line, encoding, params,
                              skip_header and not parts, label=label))

        for _ in rows:
            count += 1
            if count >= partition_rows and cut and lines.whole:
                close(lines.offset)
                start, first_line, count = lines.offset, lines.number + 1, 0
        if count:
            close(os.fstat(handle.fileno()).st_size)
    return header, encoding, parts


def _parquet_parts(path: Path, partition_rows: int, label: str) -> tuple[list[str], list[Part]]:
    import pyarrow.parquet as pq

    meta = pq.read_metadata(path)
    header = [name.strip() for name in meta.schema.to_arrow_schema().names]
    parts, before = [], 0
    for group in range(meta.num_row_groups):
        rows = meta.row_group(group).num_rows
        for start in range(0, rows, partition_rows):
            end = min(rows, start + partition_rows)
            parts.append(Part(0, str(path), end - start, start, end, before + start + 1, row_group=group,
                              label=label))
        before += rows
    return header, parts


def plan(files: list[Path], options: BulkOptions, partition_rows: int) -> tuple[list[str], str, list[Part]]:
    """The header, the encoding (or "parquet") and every partition, numbered in input order."""
    header: list[str] | None = None
    encodings: set[str] = set()
    parts: list[Part] = []
    for path in files:
        label = path.name if len(files) > 1 else ""
        if is_parquet(path):
            file_header, file_parts = _parquet_parts(path, partition_rows, label)
            bulkmod.resolve_columns(file_header, options)
            encodings.add("parquet")
        else:
            file_header, encoding, file_parts = _scan_csv(path, options, partition_rows, label)
            encodings.add(encoding)
        if header is not None and file_header != header:
            raise CsvRefused("file", f"{path.name}: its header ({', '.join(file_header)}) differs from "
                                     f"{files[0].name}'s ({', '.join(header)})")
        header = file_header
        parts += file_parts
    assert header is not None, files
    return header, "+".join(sorted(encodings)), [replace(part, index=i) for i, part in enumerate(parts)]


# --- on the workers ------------------------------------------------------------------------------------------------

_STATE: dict[str, tuple[dict[str, dict[str, Any]], Any, dict[float, dict[Query, Found]]]] = {}
_STATE_LOCK = threading.Lock()


def _worker_list(job: Job, shipped: bytes | None) -> tuple[dict[str, dict[str, Any]], Any, dict[Query, Found]]:
    """This worker process's entries, matcher and memo for the run's threshold, loaded at its first partition."""
    from .matching.text import load_converters
    from .snapshotcache import collector_paused, load_file

    with _STATE_LOCK:
        state = _STATE.get(job.snapshot_key)
        if state is None:
            _STATE.clear()  # one list at a time: a worker kept for the next run drops the previous one
            with collector_paused():  # see snapshotcache.collector_paused: unpickling is three times faster
                load_converters()
                content = pickle.loads(shipped) if shipped is not None else load_file(Path(job.snapshot_path))
            assert content is not None, f"this worker cannot read the snapshot cache file {job.snapshot_path}"
            state = _STATE[job.snapshot_key] = (content[0], content[2], {})
        return state[0], state[1], state[2].setdefault(job.threshold, {})


def _parquet_rows(part: Part) -> Iterator[list[str]]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.ParquetFile(part.path).read_row_group(part.row_group).slice(part.start, part.end - part.start)
    columns = []
    for column in table.columns:
        try:
            values = pc.cast(column, pa.string()).to_pylist()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # nested types: their Python text
            values = [None if value is None else str(value) for value in column.to_pylist()]
        columns.append(["" if value is None else value for value in values])
    for number, row in enumerate(zip(*columns), start=part.first_line):
        cells = list(row)
        if "\x00" in "".join(cells):  # Arrow strings are valid UTF-8: NUL is the one character not to screen
            yield FlawedRow(cells, f"row {number} holds a NUL character")
        else:
            yield cells


def _csv_rows(part: Part) -> Iterator[list[str]]:
    with open(part.path, "rb") as handle:
        handle.seek(part.start)
        data = handle.read(part.end - part.start)
    # Only the file's start holds a byte order mark; utf-16 and utf-32 are never cut (not _splittable).
    encoding = "utf-8" if part.encoding == "utf-8-sig" and part.start else part.encoding
    text = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="", errors=bulkmod.MARK_UNDECODABLE)
    rows = bulkmod.parse_records(text, _dialect(part.dialect), part.encoding, part.first_line)
    if part.skip_header:
        next(rows)
    return rows


def _labelled(rows: Iterator[list[str]], label: str) -> Iterator[list[str]]:
    for row in rows:
        if isinstance(row, FlawedRow):
            row.problem = f"{label}: {row.problem}"
        yield row


def _write_part(chunks: Iterator[list[list[str]]], job: Job, index: int) -> str:
    target = Path(job.parts_dir) / f"part-{index:06d}.{'parquet' if job.parquet_out else 'csv'}"
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}")  # a retried task never leaves half a part
    if job.parquet_out:
        import pyarrow as pa
        import pyarrow.parquet as pq

        cells = [[bulkmod.neutralise(cell) for cell in row] for chunk in chunks for row in chunk]
        names = job.header + RESULT_COLUMNS
        arrays = [pa.array([row[i] for row in cells], pa.string()) for i in range(len(names))]
        pq.write_table(pa.Table.from_arrays(arrays, names=names), temporary)
    else:
        with open(temporary, "w", newline="", encoding="utf-8") as out:
            for chunk in chunks:
                out.write(bulkmod.to_csv_text(chunk))
    os.replace(temporary, target)
    return str(target)


def screen_part(part: Part, job: Job, shipped: bytes | None = None) -> dict[str, Any]:
    """One task: read the partition, screen it as the single-machine command does, write its part file. Returns
    the counts and compact audit tuples (query, reference, ((entry id, score), ...))."""
    entries, matcher, memo = _worker_list(job, shipped)
    screen = bulkmod.matcher_screener(matcher, job.threshold)
    screened = 0

    def remembered(queries: list[Query]) -> list[Found]:
        nonlocal screened
        # A local copy of what is known: another thread of this worker may clear the memo meanwhile.
        known = {query: found for query in queries if (found := memo.get(query)) is not None}
        fresh = [query for query in queries if query not in known]
        known.update(zip(fresh, screen(fresh)))
        if len(memo) + len(fresh) > WORKER_MEMO_NAMES:
            memo.clear()
        memo.update((query, known[query]) for query in fresh)
        screened += len(fresh)
        return [known[query] for query in queries]

    rows = _parquet_rows(part) if part.row_group >= 0 else _csv_rows(part)
    counters = Counters()
    chunks = bulkmod.screen_rows(job.header, _labelled(rows, part.label) if part.label else rows, job.columns,
                                 job.options, entries, counters, lambda batches: map(remembered, batches))
    next(chunks)  # the header: the driver writes it once
    path = _write_part(chunks, job, part.index)
    audit = [(item["query"], item["reference"], tuple((m["entry_id"], m["score"]) for m in item["matches"]))
             for item in counters.audit]
    return {"index": part.index, "path": path, "rows": counters.rows, "matched": counters.matched,
            "errors": counters.errors, "stopped": counters.stopped, "screened": screened, "audit": audit}


def peak_memory_mb() -> float:
    """This process's peak resident memory (Linux counts kilobytes): run on each worker by the benchmark."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the driver ----------------------------------------------------------------------------------------------------

def _connect(distributed: Any, address: str, workers: int) -> tuple[Any, Any]:
    """A client of the scheduler at `address`, or of a LocalCluster of `workers` processes for "local"."""
    cluster = None
    logging.getLogger("distributed").setLevel(logging.WARNING)  # its INFO lines would bury the progress bar
    try:
        if address == "local":
            # One thread per worker process: screening holds the GIL, so processes are what run in parallel.
            cluster = distributed.LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                                               dashboard_address=":0")
            address = cluster.scheduler_address
        return distributed.Client(address), cluster
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise click.ClickException(f"cannot reach the Dask scheduler at {address}: {exc}") from None


def _list_for_workers(app: Flask, client: Any) -> tuple[int | None, str, str, Any]:
    """The current list version, the key naming its content, the snapshot cache file the workers read (or ""), and
    the scattered snapshot when they cannot read it (or None)."""
    from . import store
    from .liststate import get_state, index_cache_dir
    from .snapshotcache import cache_path, code_fingerprint

    with app.extensions["db_sessionmaker"]() as session:
        version = store.current_version(session)
        content_hash = store.version_content_hash(session, version) if version is not None else None
    directory = index_cache_dir(app)
    path = cache_path(directory, content_hash) if directory is not None and content_hash else None
    if path is not None and not path.is_file():
        get_state(app).snapshot()  # builds the index and saves it to the cache: the workers load it from there
    key = f"{content_hash or uuid.uuid4().hex}-{code_fingerprint()}"
    if path is not None and path.is_file() and all(client.run(os.path.isfile, str(path)).values()):
        return version, key, str(path), None
    snapshot = get_state(app).snapshot()  # no shared cache file: one copy to each worker, through the scheduler
    payload = pickle.dumps((snapshot.entries, snapshot.sources, snapshot.matcher), protocol=pickle.HIGHEST_PROTOCOL)
    return snapshot.version, key, "", client.scatter(payload, broadcast=True, hash=False)


class _Output:
    """OUT, to which the parts are appended in input order as they arrive (a part waits for those before it)."""

    def __init__(self, path: Path, header: list[str], parquet: bool):
        self._parquet, self._next = parquet, 0
        self._ready: dict[int, str] = {}
        self._names = header + RESULT_COLUMNS
        if parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = pa.schema([pa.field(name, pa.string()) for name in self._names])
            self._writer = pq.ParquetWriter(path, schema)
        else:
            self._handle = open(path, "wb")
            self._handle.write(bulkmod.to_csv_text([self._names]).encode("utf-8"))

    def add(self, index: int, part_path: str) -> None:
        self._ready[index] = part_path
        while self._next in self._ready:
            part = Path(self._ready.pop(self._next))
            if self._parquet:
                import pyarrow.parquet as pq

                self._writer.write_table(pq.read_table(part))
            else:
                with open(part, "rb") as source:
                    shutil.copyfileobj(source, self._handle, 1 << 20)
            part.unlink()
            self._next += 1

    def close(self) -> None:
        (self._writer if self._parquet else self._handle).close()


def _audit(session: Any, result: dict[str, Any], file_name: str, actor: str, version: int | None) -> None:
    """One partition's screenings as audit records: one batched insert (executemany) and one commit."""
    from . import store

    items = [{"query": query, "reference": reference,
              "matches": [{"entry_id": entry_id, "score": score} for entry_id, score in matches]}
             for query, reference, matches in result["audit"]]
    store.record_audit_batch(session, items, actor=actor, list_version=version, action="bulk-row",
                             extra={"file": file_name})
    session.commit()


def run(app: Flask, input_spec: str, output_path: Path, options: BulkOptions, threshold: float, address: str,
        workers: int, partition_rows: int, actor: str) -> None:
    """The `bulk --dask` command, after the options are checked."""
    distributed = require_dask()
    from tqdm import tqdm

    try:  # the whole input is read once before the cluster is used: input refused anywhere writes nothing
        files = input_files(input_spec)
        header, encoding, parts = plan(files, options, partition_rows)
        columns = bulkmod.resolve_columns(header, options)
    except CsvRefused as exc:
        click.echo(f"refused ({exc.field}): {exc}", err=True)
        raise SystemExit(2) from None
    client, cluster = _connect(distributed, address, workers)
    parts_dir = output_path.parent / f".{output_path.name}.parts-{uuid.uuid4().hex[:12]}"
    totals, screened, output = Counters(), 0, None
    try:
        version, key, snapshot_path, shipped = _list_for_workers(app, client)
        parts_dir.mkdir(mode=0o700)  # the results are as private as the input
        job = Job(header, columns, options, threshold, key, snapshot_path, str(parts_dir), is_parquet(output_path))
        # Only as_completed holds the futures: each result leaves the cluster's memory once it is handled.
        completed = distributed.as_completed(client.map(screen_part, parts, job=job, shipped=shipped, pure=False),
                                             with_results=True)
        names = {part.index: Path(part.path).name for part in parts}
        output = _Output(output_path, header, job.parquet_out)
        with app.extensions["db_sessionmaker"]() as session, \
                tqdm(total=sum(p.rows for p in parts), unit="row", dynamic_ncols=True,
                     desc=files[0].name if len(files) == 1 else input_spec) as bar:
            for _, result in completed:
                _audit(session, result, names[result["index"]], actor, version)
                output.add(result["index"], result["path"])
                totals.rows += result["rows"]
                totals.matched += result["matched"]
                totals.errors += result["errors"]
                screened += result["screened"]
                totals.stopped = totals.stopped or result["stopped"]
                bar.update(result["rows"])
                bar.set_postfix(matches=totals.matched, errors=totals.errors, refresh=False)
        worker_count = len(client.scheduler_info()["workers"])
    except Exception as exc:  # noqa: BLE001 - a task's failure, a lost scheduler: reported, nothing half-written
        if output is not None:
            output.close()
            output_path.unlink(missing_ok=True)
            output = None
        raise click.ClickException(f"the Dask run failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if output is not None:
            output.close()
        shutil.rmtree(parts_dir, ignore_errors=True)
        client.close()
        if cluster is not None:
            cluster.close()
    click.echo(f"{totals.rows} rows ({encoding}), {totals.matched} with matches, {totals.errors} with errors; "
               f"list version {version}; written to {output_path}")
    click.echo(f"dask: {len(parts)} partitions on {worker_count} workers; {screened} names screened")
    if totals.stopped:  # the file changed after it was checked
        click.echo(f"incomplete: {totals.stopped}", err=True)
        raise SystemExit(1)
