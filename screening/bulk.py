"""Bulk CSV screening, shared by the command line, the streamed endpoint and jobs (no Flask here).

Input: UTF-8 with or without BOM, UTF-16 or UTF-32 with BOM, or the caller's `charset`, which must name a text
encoding (hex, base64, rot13, zlib, bz2, uu, quopri, idna, punycode and names unknown to Python are refused).
Otherwise a file that is mostly UTF-8 is read as UTF-8; one that is not and reads as Western European text is read as
cp1252 (which reads Latin-1 text the same, and adds the euro sign and typographic quotes); only else does the
detector (charset-normalizer) choose, among its readings with little mess. Delimiter sniffed among comma, semicolon
and tab; quoted fields may hold newlines. Line numbers below count physical lines, the header being line 1.

Refused before anything is screened: an empty file, one that is not text, a header row that cannot be read or holds
characters that cannot be screened, a missing column, and a file that stops being CSV (a quoted field that is never
closed, or a field longer than csv.field_size_limit()), naming the line where the quote opened. Jobs and the command
line read the whole file first; the streamed endpoint reads its first chunk before answering, and a file that breaks
after that ends its output with an error row naming the line (the rows before it are screened and audited).

Per row, in its `error` column, the rest of the file going on: a blank or over-long name, too few or too many
fields, an unknown type, bytes not valid in the file's encoding ("line 7 is not valid utf-8"), a NUL character or a
lone surrogate in any field. Such a row is neither screened nor audited (PostgreSQL cannot store NUL in text); its
cells are echoed with those characters as U+FFFD, since UTF-8 output cannot carry them.

Output: UTF-8, rows in input order, every input column kept, then RESULT_COLUMNS. CSV formula injection (OWASP): a
cell a spreadsheet would run as a formula, one that starts with `=`, `+`, `-`, `@`, a tab or a carriage return, is
written with a leading `'` added by us, in every column (the header, the input columns echoed back and ours). So that
this stays reversible, a cell that starts with one or more `'` and then one of those characters gets one more `'`:
to recover a value, remove one leading `'` from a cell that starts with `'`s and then one of those characters
(original_value() does it); no other cell is changed. A negative number in an input column comes back as `'-5`.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
from collections import deque
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterable, Iterator

from .matching import Matcher, ScreenQuery

log = logging.getLogger(__name__)

RESULT_COLUMNS = ["match_count", "top_entry_id", "top_name", "top_score", "top_status", "top_sources", "error"]
SAMPLE_BYTES = 64 * 1024
CHUNK_ROWS = 500
IN_FLIGHT_PER_PROCESS = 3
TYPES = {"person", "organization", "any", ""}


class CsvRefused(ValueError):
    """The file as a whole cannot be screened; `field` names what is wrong (file, charset, name_column), `line` where
    in the file, when known."""

    def __init__(self, field: str, message: str, line: int | None = None):
        super().__init__(message)
        self.field, self.line = field, line


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
    stopped: str = ""  # why the file stopped being read before its end ("" when it was read to the end)


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


# Decoding: an undecodable byte b becomes the lone surrogate U+DC00+b instead of U+FFFD, so that the row holding it
# is told apart from text that really holds U+FFFD, and is reported instead of screened as replacement characters.
_MARK = "screening-bulk-mark"
MARK_UNDECODABLE = _MARK  # for the readers of a part of a file (dask_bulk)


def _mark_undecodable(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "".join(chr(0xDC00 + byte) for byte in exc.object[exc.start:exc.end]), exc.end


codecs.register_error(_MARK, _mark_undecodable)
_MARKED = re.compile("[\udc00-\udcff]")
_UNSCREENABLE = re.compile("[\x00\ud800-\udfff]")  # NUL, lone surrogates (undecodable bytes among them)
_NON_ASCII = re.compile("[^\x00-\x7f]")
_WORD = re.compile(r"[^\W\d_]+")
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_WESTERN = "cp1252"
_CONFIDENT_CHAOS = 0.1  # charset-normalizer's mess ratio of a reading we take when cp1252 is not a plausible one
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


def _looks_western(text: str) -> bool:
    """Whether a cp1252 reading looks like Western European text, where accented letters sit among plain ones. Text
    in another script read as cp1252 makes words mostly of accented letters ("Ïóòèí", "ÂëàäÈìèð")."""
    words = [word for word in _WORD.findall(text) if not word.isascii()]
    odd = sum(1 for word in words if len(_NON_ASCII.findall(word)) * 2 > len(word))
    return odd * 2 <= len(words)


def _detected(head: bytes) -> str | None:
    from charset_normalizer import from_bytes

    # Without the NUL bytes of their line breaks (many NULs are refused before) the file is not UTF-16 or UTF-32,
    # whatever the detector says of a short sample.
    readings = [m for m in from_bytes(head) if m.chaos <= _CONFIDENT_CHAOS
                and not m.encoding.startswith(("utf_16", "utf_32"))]
    return max(readings, key=lambda m: m.coherence).encoding if readings else None


def detect_encoding(head: bytes, charset: str | None) -> str:
    if charset:
        encoding = check_charset(charset)
        return "utf-8-sig" if encoding == "utf-8" and head.startswith(codecs.BOM_UTF8) else encoding
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # A stray NUL in a text file is reported on its row; many control bytes mean UTF-16 without BOM, or no text.
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if controls > 8 and controls * 100 > len(head):
        raise CsvRefused("file", "the file holds NUL bytes or other control characters: it is not text (send UTF-16 "
                                 "with its byte order mark)")
    # Not final: a character cut by the end of the sample is not a fault (the TextIOWrapper reads it whole).
    as_utf8 = codecs.getincrementaldecoder("utf-8")(_MARK).decode(head, final=False)
    marked = len(_MARKED.findall(as_utf8))
    if not marked or len(_NON_ASCII.findall(as_utf8)) - marked > marked:
        return "utf-8"  # mostly UTF-8: the few rows in another encoding get their error
    try:
        if _looks_western(head.decode(_WESTERN)):
            return _WESTERN
    except UnicodeDecodeError:  # a byte cp1252 leaves undefined: some other encoding
        pass
    return _detected(head) or _WESTERN


# Fed to the csv reader after the file's last line. The reader ends a record at the end of every line unless a
# quoted field is open: only then does this land inside a field. No decoded file holds it (NUL, lone surrogate).
_END = "\udfff\x00end of file\x00\udfff"


class _Lines:
    """The decoded lines the csv reader parses, counted, with what the reader does not tell: the line where the
    record being read began, the line where its last open quote was opened (by an odd count of quotes on a line: a
    closed quoted field holds an even number), and the first character in it that cannot be screened."""

    def __init__(self, text: Iterator[str], quotechar: str, first_line: int = 1):
        self._text, self._quote, self._ended = text, quotechar, False
        self.number = first_line - 1  # a part of a file read on its own (bulk on Dask) counts from where it starts
        self.record_start, self.quote_opened = first_line, 0
        self.flaw: tuple[int, str] | None = None

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        try:
            line = next(self._text)
        except StopIteration:
            if self._ended:
                raise
            self._ended = True
            return _END
        self.number += 1
        if self._quote and line.count(self._quote) % 2:
            self.quote_opened = 0 if self.quote_opened else self.number
        if self.flaw is None and (found := _UNSCREENABLE.search(line)):
            self.flaw = (self.number, found.group())
        return line

    def next_record(self) -> None:
        self.record_start, self.quote_opened, self.flaw = self.number + 1, 0, None

    def unclosed(self) -> CsvRefused:
        line = self.quote_opened or self.record_start
        return CsvRefused("file", f"line {line}: a quoted field opened there is never closed", line)

    def broken(self, exc: csv.Error) -> CsvRefused:
        if self.quote_opened:
            return self.unclosed()
        if "field limit" in str(exc):
            return CsvRefused("file", f"line {self.number}: a field is longer than {csv.field_size_limit()} "
                                      "characters", self.number)
        return CsvRefused("file", f"line {self.record_start}: not CSV ({exc})", self.record_start)


class FlawedRow(list[str]):
    """A row not to be screened: `problem` goes to its error column. Its cells are echoed with what UTF-8 output
    cannot carry or what would be lost downstream (NUL, lone surrogates, undecodable bytes) as U+FFFD."""

    def __init__(self, cells: Iterable[str], problem: str):
        super().__init__(_UNSCREENABLE.sub("\ufffd", cell) for cell in cells)
        self.problem = problem


def _flaw_message(flaw: tuple[int, str], encoding: str) -> str:
    line, char = flaw
    if _MARKED.match(char):
        return f"line {line} is not valid {encoding.removesuffix('-sig')}"
    if char == "\x00":
        return f"line {line} holds a NUL character"
    return f"line {line} holds a lone surrogate (U+{ord(char):04X})"


def _records(reader: Iterator[list[str]], lines: _Lines, encoding: str) -> Iterator[list[str]]:
    """The reader's rows, those with characters that cannot be screened as FlawedRows; CsvRefused where the file
    stops being CSV (the reader's csv.Error, such as `field larger than field limit` after an unclosed quote)."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise lines.broken(exc) from None
        except ValueError as exc:  # a codec that fails outright instead of calling the error handler
            raise CsvRefused("file", f"line {lines.number + 1} cannot be read as {encoding} ({exc})",
                             lines.number + 1) from None
        if row and row[-1].endswith(_END):
            if row == [_END]:
                return
            raise lines.unclosed()
        if lines.flaw is not None:
            row = FlawedRow(row, _flaw_message(lines.flaw, encoding))
        lines.next_record()
        yield row


def sniff(stream: IO[bytes], options: BulkOptions) -> tuple[bytes, str, Any]:
    """The file's first bytes (read for detection), its encoding and its CSV dialect; or CsvRefused."""
    head = stream.read(SAMPLE_BYTES)
    if not head.strip():
        raise CsvRefused("file", "the file is empty")
    encoding = detect_encoding(head, options.charset)
    try:
        sample = head.decode(encoding, errors=_MARK)[:20000]
    except ValueError as exc:  # a codec that fails outright instead of calling the error handler
        raise CsvRefused("charset", f"the file cannot be read as {encoding} ({exc})") from None
    if len(_MARKED.findall(sample[:2000])) > 20:
        raise CsvRefused("file", f"the file is not text in {encoding}: pass charset=")
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        first_line = sample.splitlines()[0] if sample.splitlines() else ""
        delimiter = max(",;\t", key=first_line.count) if any(d in first_line for d in ",;\t") else ","
        dialect = type("Sniffed", (csv.excel,), {"delimiter": delimiter})
    return head, encoding, dialect


def parse_records(text: Iterator[str], dialect: Any, encoding: str, first_line: int = 1) -> Iterator[list[str]]:
    """The records of decoded lines (the first being physical line `first_line`), as open_csv reads them."""
    lines = _Lines(text, (dialect.quotechar or "") if dialect.quoting != csv.QUOTE_NONE else "", first_line)
    return _records(csv.reader(lines, dialect), lines, encoding)


def read_header(rows: Iterator[list[str]]) -> list[str]:
    """The header, the first record: or CsvRefused."""
    try:
        header = next(rows)
    except StopIteration:
        raise CsvRefused("file", "no header row could be read") from None
    except CsvRefused as exc:
        raise CsvRefused("file", f"no header row could be read: {exc}", exc.line) from None
    if isinstance(header, FlawedRow):
        raise CsvRefused("file", f"the header row cannot be read: {header.problem} (pass charset=)", 1)
    return [h.strip() for h in header]


def open_csv(stream: IO[bytes], options: BulkOptions) -> tuple[list[str], Iterator[list[str]], str]:
    """Header, an iterator over the remaining rows, and the encoding; or CsvRefused. The iterator raises
    CsvRefused (naming the line) where the file stops being CSV."""
    head, encoding, dialect = sniff(stream, options)
    text = io.TextIOWrapper(io.BufferedReader(_Prefixed(head, stream)), encoding=encoding, newline="", errors=_MARK)
    rows = parse_records(text, dialect, encoding)
    return read_header(rows), rows, encoding


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
        screened = matcher.screen_many([ScreenQuery(name, kind) for name, kind in queries],  # type: ignore[arg-type]
                                       threshold=threshold, limit=100)
        return [[(m.entry_id, m.score) for m in matches] for _, matches in screened]

    return screen


def _prepare(chunk: list[list[str]], columns: Columns, options: BulkOptions) -> tuple[list[str], list[Query]]:
    """Each row's problem ("" when none) and the queries of the rows without one."""
    problems, queries = [], []
    for row in chunk:
        problem = row.problem if isinstance(row, FlawedRow) else ""
        if not problem and len(row) != columns.width:
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
        try:
            for row in rows:
                chunk.append(row)
                if len(chunk) >= CHUNK_ROWS:
                    yield fresh_queries(chunk)
                    chunk = []
        except CsvRefused as exc:  # the file stopped being CSV after the first rows went out: a last row says so
            counters.stopped = f"{exc}; the rest of the file was not screened"
            log.warning("bulk CSV cut short: %s", counters.stopped)
            chunk.append(FlawedRow([], counters.stopped))
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


def check_file(stream: IO[bytes], options: BulkOptions) -> int:
    """Read a whole file as screening would, without screening: its data rows (quoted newlines counted right), or
    CsvRefused for what refuses it up front, a file that stops being CSV anywhere included."""
    header, rows, _ = open_csv(stream, options)
    resolve_columns(header, options)
    return sum(1 for _ in rows)
