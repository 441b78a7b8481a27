"""Bulk CSV screening, shared by the command line and the streamed endpoint (no Flask here).

Input: UTF-8 with or without BOM, UTF-16 (BOM), other encodings by detection (charset-normalizer) or by the caller's
`charset`, which must name a text encoding (hex, base64, rot13, zlib, bz2, uu, quopri, idna, punycode and names unknown
to Python are refused); delimiter sniffed among comma, semicolon and tab; quoted fields may hold newlines. A missing
name column or a file that is not CSV is refused before anything is screened. A bad row (blank or over-long name,
too few or too many fields, an unknown type) gets a message in its `error` column and the file goes on. Rows come out
in input order, every input column kept, then RESULT_COLUMNS.

CSV formula injection (OWASP): a cell a spreadsheet would run as a formula, one that starts with `=`, `+`, `-`, `@`, a
tab or a carriage return, is written with a leading `'` added by us, in every column (the header, the input columns
echoed back and ours). So that this stays reversible, a cell that starts with one or more `'` and then one of those
characters gets one more `'`: to recover a value, remove one leading `'` from a cell that starts with `'`s and then
one of those characters (original_value() does it); no other cell is changed. A negative number in an input column
comes back as `'-5`.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import deque
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterable, Iterator

from .matching import Matcher

RESULT_COLUMNS = ["match_count", "top_entry_id", "top_name", "top_score", "top_status", "top_sources", "error"]
SAMPLE_BYTES = 64 * 1024
CHUNK_ROWS = 500
IN_FLIGHT_PER_PROCESS = 3
TYPES = {"person", "organization", "any", ""}


class CsvRefused(ValueError):
    """The file as a whole cannot be screened; `field` names what is wrong (file, charset, name_column)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass
class BulkOptions:
    name_column: str = "name"
    type_column: str | None = None
    id_column: str | None = None
    threshold: float | None = None
    charset: str | None = None
    max_name_length: int = 500


@dataclass
class Counters:
    rows: int = 0
    matched: int = 0
    errors: int = 0
    audit: list[dict[str, Any]] = field(default_factory=list)  # per screened row, for the caller to record


class _Prefixed(io.RawIOBase):
    """The bytes already read for detection, then the rest of the stream: nothing is read twice or buffered whole."""

    def __init__(self, head: bytes, rest: IO[bytes]):
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n], self._head = self._head[:n], self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


# Text encodings in Python's sense that are no file encoding: domain-name labels, and one that fails on everything.
_NOT_FOR_FILES = {"idna", "punycode", "undefined"}


def check_charset(charset: str) -> str:
    """Python's name for a caller's charset, or CsvRefused("charset") unless it names a text encoding for files."""
    shown = charset[:60]
    try:
        info = codecs.lookup(charset)
    except (LookupError, ValueError):  # ValueError: a name holding NUL
        raise CsvRefused("charset", f"unknown charset {shown!r}") from None
    # Codecs such as hex, base64, rot13 or zlib map bytes to bytes or text to text: no reading of a CSV file.
    if not info._is_text_encoding or info.name in _NOT_FOR_FILES:
        raise CsvRefused("charset", f"{shown!r} is not a text encoding")
    return info.name


def detect_encoding(head: bytes, charset: str | None) -> str:
    if charset:
        return check_charset(charset)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in head:
        raise CsvRefused("file", "the file holds NUL bytes: it is not text (send UTF-16 with its byte order mark)")
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a character cut at the end of the sample
            return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(head).best()
    return best.encoding if best is not None else "cp1252"


def open_csv(stream: IO[bytes], options: BulkOptions) -> tuple[list[str], Iterator[list[str]], str]:
    """Header, an iterator over the remaining rows, and the encoding; or CsvRefused."""
    head = stream.read(SAMPLE_BYTES)
    if not head.strip():
        raise CsvRefused("file", "the file is empty")
    encoding = detect_encoding(head, options.charset)
    text = io.TextIOWrapper(io.BufferedReader(_Prefixed(head, stream)), encoding=encoding, newline="",
                            errors="replace")
    sample = head.decode(encoding if encoding != "utf-16" else "utf-16", errors="ignore")[:20000]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        first_line = sample.splitlines()[0] if sample.splitlines() else ""
        delimiter = max(",;\t", key=first_line.count) if any(d in first_line for d in ",;\t") else ","
        dialect = type("Sniffed", (csv.excel,), {"delimiter": delimiter})
    reader = csv.reader(text, dialect)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise CsvRefused("file", f"no header row could be read: {exc}") from None
    header = [h.strip() for h in header]
    if sum(1 for ch in sample[:2000] if ch == "\ufffd") > 20:
        raise CsvRefused("file", f"the file is not text in {encoding}: pass charset=")
    return header, reader, encoding


def _column(header: list[str], wanted: str | None, what: str) -> int | None:
    if not wanted:
        return None
    lowered = [h.casefold() for h in header]
    if wanted.casefold() not in lowered:
        raise CsvRefused(what, f"no column {wanted!r}; the header has: {', '.join(header) or '(nothing)'}")
    return lowered.index(wanted.casefold())


@dataclass(frozen=True)
class Columns:
    name: int
    type: int | None
    id: int | None
    width: int


def resolve_columns(header: list[str], options: BulkOptions) -> Columns:
    """Checked before anything is screened: a missing column refuses the file."""
    name = _column(header, options.name_column or "name", "name_column")
    assert name is not None
    return Columns(name, _column(header, options.type_column, "type_column"),
                   _column(header, options.id_column, "id_column"), len(header))


Query = tuple[str, str]
Found = list[tuple[str, float]]  # (entry id, score), best first
ScreenChunks = Callable[[Iterable[list[Query]]], Iterable[list[Found]]]


CACHE_NAMES = 100_000  # distinct (name, type) results remembered during one file: customer files repeat names


def matcher_screener(matcher: Matcher, threshold: float) -> Callable[[list[Query]], list[Found]]:
    """Screen one chunk's (distinct, not yet screened) queries."""

    def screen(queries: list[Query]) -> list[Found]:
        found = []
        for name, kind in queries:
            _, matches = matcher.screen(name, type=kind, threshold=threshold, limit=100)  # type: ignore[arg-type]
            found.append([(m.entry_id, m.score) for m in matches])
        return found

    return screen


def _prepare(chunk: list[list[str]], columns: Columns, options: BulkOptions) -> tuple[list[str], list[Query]]:
    """Each row's problem ("" when none) and the queries of the rows without one."""
    problems, queries = [], []
    for row in chunk:
        problem = ""
        if len(row) != columns.width:
            problem = f"row has {len(row)} fields, the header has {columns.width}"
        name = " ".join(row[columns.name].split()) if columns.name < len(row) else ""
        kind = row[columns.type].strip().lower() if columns.type is not None and columns.type < len(row) else ""
        if not problem:
            if not name:
                problem = "name is blank"
            elif len(name) > options.max_name_length:
                problem = f"name is longer than {options.max_name_length} characters"
            elif kind not in TYPES:
                problem = f"type {kind!r} is not person, organization or any"
        problems.append(problem)
        if not problem:
            queries.append((name, kind or "any"))
    return problems, queries


def _assemble(chunk: list[list[str]], problems: list[str], found: list[Found], columns: Columns,
              entries: dict[str, dict[str, Any]], counters: Counters) -> list[list[str]]:
    out = []
    results = iter(found)
    for row, problem in zip(chunk, problems):
        fields = (row + [""] * columns.width)[:columns.width]
        counters.rows += 1
        if problem:
            counters.errors += 1
            out.append(fields + ["", "", "", "", "", "", problem])
            continue
        matches = next(results)
        reference = row[columns.id] if columns.id is not None and columns.id < len(row) else None
        counters.audit.append({"query": fields[columns.name], "reference": reference,
                               "matches": [{"entry_id": e, "score": sc} for e, sc in matches[:10]]})
        if not matches:
            out.append(fields + ["0", "", "", "", "", "", ""])
            continue
        counters.matched += 1
        top_id, top_score = matches[0]
        entry = entries[top_id]
        primary = next(n["name"] for n in entry["names"] if n["kind"] == "primary")
        sources = "; ".join(dict.fromkeys(c["source"] for c in entry["citations"]))
        out.append(fields + [str(len(matches)), top_id, primary, f"{top_score:.3f}", entry["status"], sources, ""])
    return out


def screen_rows(header: list[str], rows: Iterable[list[str]], columns: Columns, options: BulkOptions,
                entries: dict[str, dict[str, Any]], counters: Counters,
                screen_chunks: ScreenChunks) -> Iterator[list[list[str]]]:
    """Output row chunks (the header first), in input order. `screen_chunks` maps the chunks' query lists to
    their results lazily and in order: `map` for one core, an ordered process-pool map for several."""
    yield [header + RESULT_COLUMNS]
    # A name repeated in the file (same type) is screened once, whichever worker gets it: only a chunk's queries not
    # sent before go out, and since results come back in order, those of earlier chunks are in by the time a chunk
    # is assembled. The memo starts afresh every CACHE_NAMES names; a chunk keeps the memo it was sent against.
    prepared: deque[tuple[list[list[str]], list[str], list[Query], list[Query], dict[Query, Found | None]]] = deque()
    memo: dict[Query, Found | None] = {}

    def fresh_queries(chunk: list[list[str]]) -> list[Query]:
        nonlocal memo
        problems, chunk_queries = _prepare(chunk, columns, options)
        if len(memo) >= CACHE_NAMES:
            memo = {}
        fresh = [q for q in dict.fromkeys(chunk_queries) if q not in memo]
        for query in fresh:
            memo[query] = None  # filled when this chunk's results come back
        prepared.append((chunk, problems, chunk_queries, fresh, memo))
        return fresh

    def queries() -> Iterator[list[Query]]:
        chunk: list[list[str]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= CHUNK_ROWS:
                yield fresh_queries(chunk)
                chunk = []
        if chunk:
            yield fresh_queries(chunk)

    for found in screen_chunks(queries()):
        chunk, problems, chunk_queries, fresh, results = prepared.popleft()
        if len(found) != len(fresh):
            raise RuntimeError(f"screening returned {len(found)} results for {len(fresh)} names")
        results.update(zip(fresh, found))
        answers = [results[q] for q in chunk_queries]
        if any(answer is None for answer in answers):  # never reported as "no match"
            raise RuntimeError("a repeated name's result was not in when its chunk was assembled")
        yield _assemble(chunk, problems, answers, columns, entries, counters)  # type: ignore[arg-type]


_FORMULA = re.compile(r"'*[=+\-@\t\r]")
_FORMULA_FIRST = frozenset("=+-@\t\r'")
_QUOTED_FORMULA = re.compile(r"'+[=+\-@\t\r]")


def neutralise(cell: str) -> str:
    """The cell as written: `'` added in front of what a spreadsheet would run as a formula (see the docstring)."""
    return "'" + cell if cell[:1] in _FORMULA_FIRST and _FORMULA.match(cell) else cell


def original_value(cell: str) -> str:
    """The value a written cell stands for: neutralise() undone."""
    return cell[1:] if _QUOTED_FORMULA.match(cell) else cell


def to_csv_text(rows: list[list[str]]) -> str:
    """Rows as CSV text, every cell neutralised: the one writer of the stream, job results and the command line."""
    buffer = io.StringIO()
    first, formula = _FORMULA_FIRST, _FORMULA.match  # neutralise() inlined: it runs on every cell of big files
    csv.writer(buffer, lineterminator="\r\n").writerows(
        [("'" + cell if cell[:1] in first and formula(cell) else cell) for cell in row] for row in rows)
    return buffer.getvalue()


# The command line screens chunks on several cores: a fork-started pool inherits the matcher built in the parent.
_WORKER_SCREEN: Callable[[list[Query]], list[Found]] | None = None


def _screen_in_worker(queries: list[Query]) -> list[Found]:
    assert _WORKER_SCREEN is not None
    return _WORKER_SCREEN(queries)


def parallel_chunks(screen: Callable[[list[Query]], list[Found]], processes: int) -> tuple[ScreenChunks, Any]:
    """An ordered map of chunks over `processes` forked workers (and the pool, to close), or plain map for one.
    At most IN_FLIGHT_PER_PROCESS chunks per worker are read ahead, so memory stays flat in the file's size."""
    global _WORKER_SCREEN
    if processes <= 1:
        return (lambda chunks: map(screen, chunks)), None
    import multiprocessing

    _WORKER_SCREEN = screen  # the matcher was frozen out of the collector's way when loaded (collector_paused)
    pool = multiprocessing.get_context("fork").Pool(processes)

    def ordered(chunks: Iterable[list[Query]]) -> Iterator[list[Found]]:
        pending: deque[Any] = deque()
        for chunk in chunks:
            pending.append(pool.apply_async(_screen_in_worker, (chunk,)))
            if len(pending) >= IN_FLIGHT_PER_PROCESS * processes:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    return ordered, pool


def count_rows(path: Any) -> int:
    """Data rows of a CSV file (for a progress bar's time left); quoted newlines are counted right."""
    with open(path, "rb") as handle:
        try:
            header, rows, _ = open_csv(handle, BulkOptions())
        except CsvRefused:
            return 0
        return sum(1 for _ in rows)
