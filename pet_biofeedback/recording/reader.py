"""The tolerant recording reader (format v1; package docstring, design.md §4)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Final, NamedTuple, Self, cast

from pet_biofeedback.errors import (
    RecordingFileError,
    RecordingFormatError,
)
from pet_biofeedback.events import Event
from pet_biofeedback.recording._events_json import BadLine, Fields, decode_event, parse_object
from pet_biofeedback.recording._format import format_t
from pet_biofeedback.recording._frame_lines import decode_frame_lines
from pet_biofeedback.recording._gzip_members import GZIP_MAGIC, Damage, GzipChunks
from pet_biofeedback.recording._header import RecordingHeader, parse_header

__all__ = [
    "DamagedSpan",
    "Recording",
    "RecordingReader",
    "ResumePoint",
    "iter_events",
    "read_recording",
]

logger = logging.getLogger(__name__)

_READ_CHUNK_BYTES: Final = 1 << 16
# A longer line is malformed (its bytes are not held): no event comes near (an ECG frame is
# a few hundred bytes), and a file without newlines must not be read into memory whole.
MAX_LINE_BYTES: Final = 1 << 26
MALFORMED_LINES_LISTED: Final = 20  # line numbers kept for the warning and the notes

Line = tuple[int, bytes | None, bool]  # (line number, bytes or None if too long, complete)
# A block of lines and the file offset of the gzip member it is, when it is one whole member
# that checked out and starts a line (None otherwise).
Block = tuple[int | None, list[Line]]


class _BadLine(NamedTuple):
    """A line that is not a valid event, waiting to be called malformed or a truncated tail."""

    line_number: int
    complete: bool  # it ended with a newline
    blank: bool
    problem: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DamagedSpan:
    """Part of a compressed recording that was damaged and left out.

    Attributes
    ----------
    t_before : float or None
        ``t`` (s) of the last good event before the damage; None when it is at the start.
    t_after : float or None
        ``t`` (s) of the first good event after it; None when nothing good follows.
    n_bytes : int
        Compressed bytes skipped (0 when unknown).
    """

    t_before: float | None
    t_after: float | None
    n_bytes: int

    @property
    def duration_s(self) -> float | None:
        """Time between the good events on both sides, s; None when one side is missing."""
        if self.t_before is None or self.t_after is None:
            return None
        return self.t_after - self.t_before

    def describe(self) -> str:
        """The span in plain words, times as min:s since the session start."""
        if self.t_before is not None and self.t_after is not None:
            return (
                f"{self.t_after - self.t_before:.1f} s of data between {format_t(self.t_before)} "
                f"and {format_t(self.t_after)} (min:s) was damaged and left out"
            )
        if self.t_after is not None:
            return f"the data before {format_t(self.t_after)} (min:s) were damaged and left out"
        if self.t_before is not None:
            return (
                f"the data after {format_t(self.t_before)} (min:s) are unreadable (damaged, "
                "or garbage after a crash) and were left out; kept everything before"
            )
        return "all events were damaged and left out"


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumePoint:
    """Where a `RecordingReader` can start reading again: the start of a gzip member of a
    recording written in members, and the reader's state just before it
    (`RecordingReader.iter_resumable` yields them, ``RecordingReader(path, resume=point)``
    starts there). Reading on from a point gives the very events, counters and notes that
    reading the file from its start does from that point on.

    Attributes
    ----------
    path : str
        The recording.
    offset : int
        File offset of the member, bytes.
    header : RecordingHeader
        The recording's header (line 1, not read again).
    line_number : int
        Lines before the member.
    last_t : float or None
        ``t`` (s) of the last event before it; None when none came before.
    """

    path: str
    offset: int
    header: RecordingHeader
    line_number: int
    last_t: float | None
    n_unknown_events: int
    unknown_types: frozenset[str]
    n_malformed_lines: int
    malformed_line_numbers: tuple[int, ...]
    spans: tuple[DamagedSpan, ...]
    open_span: tuple[float | None, int] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Recording:
    """A whole recording read into memory (`read_recording`).

    Attributes
    ----------
    path : str
        The file read.
    header : RecordingHeader
        Its header.
    events : tuple of Event
        Every event the reader understood, in file order.
    n_unknown_events : int
        Lines of event types this reader does not know (skipped).
    unknown_types : frozenset of str
        Those types.
    n_truncated_lines : int
        1 when a truncated tail of lines was dropped (a partial last line, or unreadable
        lines up to the end, such as the zero bytes a power cut leaves), else 0.
    truncated : bool
        The file ended early: a truncated tail of lines, a compressed recording without its
        end (cut off, or unreadable up to the end).
    damaged_spans : tuple of DamagedSpan
        Damaged parts of a compressed recording that were left out.
    n_malformed_lines : int
        Malformed lines skipped (not JSON, a wrong type, a missing key, …).
    malformed_line_numbers : tuple of int
        The first `MALFORMED_LINES_LISTED` of their line numbers.
    trailing_garbage : bool
        Unreadable data after the end of a compressed recording were ignored.
    notes : tuple of str
        What was lost or ignored, in plain words (`RecordingReader.notes`).
    """

    path: str
    header: RecordingHeader
    events: tuple[Event, ...]
    n_unknown_events: int
    unknown_types: frozenset[str]
    n_truncated_lines: int
    truncated: bool
    damaged_spans: tuple[DamagedSpan, ...] = ()
    n_malformed_lines: int = 0
    malformed_line_numbers: tuple[int, ...] = ()
    trailing_garbage: bool = False
    notes: tuple[str, ...] = ()


class _Lines:
    """Numbered lines of a plain or gzip file: ``(line_number, bytes, ends_with_newline)``,
    in blocks (the lines that one chunk of data completes).

    Gzip is recognised by its magic bytes, not the file name, and read by `GzipChunks`; a
    `Damage` it reports goes to ``on_damage`` once every block before it was taken (a line
    cut by the damage comes out incomplete, in a block of its own). ``bytes`` is None for a
    line longer than `MAX_LINE_BYTES`. `first` takes line 1, `blocks` the rest. With
    ``resume``, the lines start at that gzip member (no line 1 to take).
    """

    def __init__(
        self,
        file: IO[bytes],
        path: str,
        on_damage: Callable[[Damage], None],
        resume: ResumePoint | None = None,
    ) -> None:
        self._file = file
        self._path = path
        self._on_damage = on_damage
        self.gzip: GzipChunks | None
        if resume is None:
            self.gzip = GzipChunks(file) if file.read(2) == GZIP_MAGIC else None
            file.seek(0)
            self._block_iter = self._split_lines(0)
        else:
            file.seek(resume.offset)
            self.gzip = GzipChunks(file, start_offset=resume.offset, resumed=True)
            self._block_iter = self._split_lines(resume.line_number)
        self._rest: list[Line] = []  # of the block that held line 1

    def first(self) -> Line | None:
        """Line 1, or None for an empty file."""
        for _, block in self._block_iter:
            if block:
                self._rest = block[1:]
                return block[0]
        return None

    def blocks(self) -> Iterator[Block]:
        """The lines after line 1, a block at a time."""
        if self._rest:
            rest, self._rest = self._rest, []
            yield None, rest
        yield from self._block_iter

    @property
    def in_unverified_tail(self) -> bool:
        """The lines now come from the unchecked end of a compressed recording."""
        return self.gzip is not None and self.gzip.in_unverified_tail

    def _split_lines(self, line_number: int) -> Iterator[Block]:
        head: list[bytes] = []  # the pieces of a line not ended yet
        n_head = 0
        gz = self.gzip
        for data in self._chunks():
            if isinstance(data, Damage):
                self._on_damage(data)
                if head:  # cut short by the damage
                    line_number += 1
                    yield (
                        None,
                        [
                            (
                                line_number,
                                b"".join(head) if n_head <= MAX_LINE_BYTES else None,
                                False,
                            )
                        ],
                    )
                    head, n_head = [], 0
                continue
            offset = gz.member_offset if gz is not None and not head else None
            *ended, rest = data.split(b"\n")
            block: list[Line] = []
            for i, line in enumerate(ended):
                line_number += 1
                if i == 0 and head:
                    n_head += len(line)
                    block.append(
                        (
                            line_number,
                            b"".join([*head, line]) if n_head <= MAX_LINE_BYTES else None,
                            True,
                        )
                    )
                    head, n_head = [], 0
                else:
                    block.append((line_number, line if len(line) <= MAX_LINE_BYTES else None, True))
            if block:
                yield offset, block
            if rest:
                n_head += len(rest)
                if n_head <= MAX_LINE_BYTES:
                    head.append(rest)
                else:
                    head = [b""]  # only its length matters now
        if head:
            yield (
                None,
                [(line_number + 1, b"".join(head) if n_head <= MAX_LINE_BYTES else None, False)],
            )

    def _chunks(self) -> Iterator[bytes | Damage]:
        try:
            if self.gzip is None:
                while chunk := self._file.read(_READ_CHUNK_BYTES):
                    yield chunk
                return
            yield from self.gzip
        except OSError as exc:
            raise RecordingFileError(
                self._path, f"could not be read ({exc.strerror or exc})"
            ) from exc


class RecordingReader:
    """Read a recording line by line (plain or gzip, recognised by content).

    Opening reads and checks the header; iterating (once) yields the events in file order.
    The counters and `notes` are final once iteration has finished.

    Parameters
    ----------
    path : str or os.PathLike
        The recording.
    strict : bool, default False
        Refuse a malformed line (`RecordingFormatError`) instead of skipping it.
    resume : ResumePoint, optional
        Start at this point of the recording (one that `iter_resumable` of a reader of the
        same file yielded) instead of its start: the header is not read again, and the
        events, counters and notes are those of a reader that read the file from its start.

    Raises
    ------
    RecordingFileError
        The file is missing, unreadable, empty, cut off or damaged inside its header, or not
        a recording at all.
    UnsupportedVersionError
        The header's major version is not `FORMAT_VERSION`.
    RecordingFormatError
        The header (line 1) is malformed or, with ``strict``, while iterating, an event line
        is: not JSON, not an object, a missing key, a value of the wrong type, a number that
        is not finite or absurdly large, a sample rate outside 1 Hz–10 kHz.
        ``line_number`` says which line.

    Notes
    -----
    Without ``strict`` a malformed line with good lines after it is skipped, counted in
    `n_malformed_lines` and named in one warning at the end. A crash or power cut leaves a
    truncated tail, which is dropped with a warning (`n_truncated_lines`, `truncated`): a
    partial last line, or lines that are not JSON up to the end (zero bytes, garbage). Blank
    lines at the end are ignored. Damaged parts of a compressed recording written in gzip
    members are left out (`damaged_spans`); an old single-stream file is read up to its
    damage. Line numbers count the lines read, so after a damaged part they are smaller than
    in the undamaged file. Unknown event types are skipped and counted in
    `n_unknown_events`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        strict: bool = False,
        resume: ResumePoint | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.strict = strict
        if resume is not None and resume.path != self.path:
            raise ValueError(f"a resume point of {resume.path} cannot start {self.path}")
        try:
            self._file: IO[bytes] = open(self.path, "rb")  # closed in close()
        except FileNotFoundError as exc:
            raise RecordingFileError(self.path, "does not exist") from exc
        except IsADirectoryError as exc:
            raise RecordingFileError(self.path, "is a folder, not a recording") from exc
        except OSError as exc:
            raise RecordingFileError(
                self.path, f"could not be opened ({exc.strerror or exc})"
            ) from exc
        self.n_unknown_events = 0
        self.n_truncated_lines = 0
        self.n_malformed_lines = 0
        self._malformed_numbers: list[int] = []
        self._unknown_types: set[str] = set()
        self._spans: list[DamagedSpan] = []
        self._open_span: tuple[float | None, int] | None = None  # (t_before, n_bytes)
        self._last_t: float | None = None
        self._iterated = False
        if resume is not None:
            self._resume_at(resume)
            return
        try:
            self._lines = _Lines(self._file, self.path, self._damage)
            first = self._lines.first()
            gz = self._lines.gzip
            damaged = gz is not None and (gz.damaged_from_start or self._open_span is not None)
            if first is None:
                if damaged:
                    raise RecordingFileError(
                        self.path,
                        "is not a pet-biofeedback recording (it is compressed, but the "
                        "compressed data are damaged from the start)",
                    )
                raise RecordingFileError(
                    self.path,
                    "is empty (cut off before anything was written)"
                    if gz is not None and gz.cut
                    else "is empty",
                )
            _, raw, complete = first
            self.header = parse_header(raw or b"", complete, damaged, self.path)
        except BaseException:
            self._file.close()
            raise

    def _resume_at(self, point: ResumePoint) -> None:
        self.header = point.header
        self.n_unknown_events = point.n_unknown_events
        self._unknown_types = set(point.unknown_types)
        self.n_malformed_lines = point.n_malformed_lines
        self._malformed_numbers = list(point.malformed_line_numbers)
        self._spans = list(point.spans)
        self._open_span = point.open_span
        self._last_t = point.last_t
        try:
            self._lines = _Lines(self._file, self.path, self._damage, resume=point)
        except BaseException:
            self._file.close()
            raise

    def _resume_point(self, offset: int, line_number: int) -> ResumePoint:
        return ResumePoint(
            path=self.path,
            offset=offset,
            header=self.header,
            line_number=line_number,
            last_t=self._last_t,
            n_unknown_events=self.n_unknown_events,
            unknown_types=frozenset(self._unknown_types),
            n_malformed_lines=self.n_malformed_lines,
            malformed_line_numbers=tuple(self._malformed_numbers),
            spans=tuple(self._spans),
            open_span=self._open_span,
        )

    @property
    def unknown_types(self) -> frozenset[str]:
        """Event types met that this reader does not know."""
        return frozenset(self._unknown_types)

    @property
    def damaged_spans(self) -> tuple[DamagedSpan, ...]:
        """Damaged parts left out so far (a part still open has ``t_after`` None)."""
        if self._open_span is None:
            return tuple(self._spans)
        t_before, n_bytes = self._open_span
        return (*self._spans, DamagedSpan(t_before=t_before, t_after=None, n_bytes=n_bytes))

    @property
    def malformed_line_numbers(self) -> tuple[int, ...]:
        """Line numbers of the first `MALFORMED_LINES_LISTED` malformed lines skipped."""
        return tuple(self._malformed_numbers)

    @property
    def trailing_garbage(self) -> bool:
        """Unreadable data after the end of a compressed recording were ignored."""
        return self._lines.gzip is not None and self._lines.gzip.trailing_garbage

    @property
    def truncated(self) -> bool:
        """True when the file ended early: a truncated tail (a partial last line, or zero bytes
        or garbage after the last good line), or a compressed recording without its end (cut
        off, or unreadable up to the end)."""
        gz = self._lines.gzip
        return (
            self.n_truncated_lines > 0
            or (gz is not None and gz.cut)
            or (self._iterated and self._open_span is not None)  # lost up to the end
        )

    @property
    def notes(self) -> tuple[str, ...]:
        """What was lost or ignored, in plain words, one sentence each (for `analyze` and
        `replay`); empty for an intact recording."""
        notes = [span.describe() for span in self.damaged_spans]
        if self._lines.gzip is not None and self._lines.gzip.unlocated_damage:
            notes.append(
                "the compressed data fail their checksum and this older file cannot show "
                "where, so some values read may be wrong"
            )
        if self.n_malformed_lines:
            notes.append(self._malformed_summary())
        to_end = any(span.t_after is None for span in self.damaged_spans)
        if self.truncated and not to_end:
            after = f" after {format_t(self._last_t)} (min:s)" if self._last_t is not None else ""
            notes.append(f"the recording was cut off{after} (a crash?); kept everything before")
        if self.trailing_garbage:
            notes.append("unreadable data after the end of the recording were ignored")
        return tuple(notes)

    def __iter__(self) -> Iterator[Event]:
        if self._iterated:
            raise RuntimeError("a RecordingReader can be iterated only once")
        self._iterated = True
        return cast(Iterator[Event], self._events(resume_points=False))  # no ResumePoint in it

    def iter_resumable(self) -> Iterator[Event | ResumePoint]:
        """The events, as iterating does, and before the first event of each gzip member a
        `ResumePoint` from which a new reader (``resume=``) can go on (only in a recording
        written in gzip members; where its lines or damage allow it).

        Raises
        ------
        RuntimeError
            The reader was iterated before.
        """
        if self._iterated:
            raise RuntimeError("a RecordingReader can be iterated only once")
        self._iterated = True
        return self._events(resume_points=True)

    def _events(self, *, resume_points: bool) -> Iterator[Event | ResumePoint]:
        lines = self._lines
        pending: list[_BadLine] = []  # lines that are not JSON: in the middle, or a tail?
        for offset, block in lines.blocks():
            if resume_points and offset is not None and not pending:
                yield self._resume_point(offset, block[0][0] - 1)
            # ECG/ACC frames as the writer spells them, parsed together (None: any other line)
            frames = decode_frame_lines([raw for _, raw, _ in block])
            for (line_number, raw, complete), frame in zip(block, frames, strict=True):
                event: Event | None = frame
                if event is None:
                    try:
                        obj = parse_object(raw) if raw is not None else None
                    except BadLine as exc:
                        obj = None
                        problem = str(exc)
                    else:
                        problem = f"longer than {MAX_LINE_BYTES} bytes"
                    if obj is None:
                        if self._unlocated_damage_shows(line_number):
                            self._end(pending)
                            return
                        if lines.in_unverified_tail:  # inflated from zero bytes or garbage?
                            self._drop_tail(line_number, complete=complete)
                            self._end(pending)
                            return
                        blank = complete and raw is not None and not raw.strip(b" \t\r")
                        pending.append(_BadLine(line_number, complete, blank, problem))
                        continue
                    try:
                        event = self._decode(obj, line_number)
                    except BadLine as exc:
                        if self._unlocated_damage_shows(line_number):
                            self._end(pending)
                            return
                        if lines.in_unverified_tail:
                            self._drop_tail(line_number, complete=complete)
                            self._end(pending)
                            return
                        self._malformed(pending)
                        pending = []
                        self._malformed([_BadLine(line_number, complete, False, str(exc))])
                        continue
                if pending:
                    self._malformed(pending)  # good lines follow them: not a truncated tail
                    pending = []
                if event is not None:
                    if self._open_span is not None:
                        t_before, n_bytes = self._open_span
                        self._spans.append(
                            DamagedSpan(t_before=t_before, t_after=event.t, n_bytes=n_bytes)
                        )
                        self._open_span = None
                    self._last_t = event.t
                    yield event
        self._end(pending)

    def _end(self, pending: list[_BadLine]) -> None:
        """Reading is over: lines still pending are a truncated tail; log what was lost."""
        if pending and not all(bad.blank for bad in pending):
            first = next(bad for bad in pending if not bad.blank)
            self._drop_tail(first.line_number, complete=first.complete)
        self._log_summary()

    def _decode(self, obj: dict[str, object], line_number: int) -> Event | None:
        """The event of one line's object; None (counted) for an unknown type."""
        event = decode_event(Fields(obj, line_number=line_number))
        if event is None:
            kind = str(obj.get("type"))
            if kind not in self._unknown_types:
                logger.info("%s: skipping events of unknown type %r", self.path, kind)
                self._unknown_types.add(kind)
            self.n_unknown_events += 1
        return event

    def _unlocated_damage_shows(self, line_number: int) -> bool:
        """In an old single-stream file whose CRC failed, a malformed line is the first sign
        of the damage: nothing from there on can be trusted (True: stop reading)."""
        gz = self._lines.gzip
        if gz is None or not gz.unlocated_damage:
            return False
        logger.debug("%s: line %d is the first sign of damage", self.path, line_number)
        self._damage(Damage(0, to_end=True))
        return True

    def _malformed(self, lines: list[_BadLine]) -> None:
        """Skip (or, strict, refuse) malformed lines that have good lines after them."""
        for bad in lines:
            if self.strict:
                raise RecordingFormatError(
                    f"{bad.problem} ({self.path})", line_number=bad.line_number
                )
            logger.debug("%s: line %d skipped: %s", self.path, bad.line_number, bad.problem)
            self.n_malformed_lines += 1
            if len(self._malformed_numbers) < MALFORMED_LINES_LISTED:
                self._malformed_numbers.append(bad.line_number)

    def _malformed_summary(self) -> str:
        n = self.n_malformed_lines
        listed = ", ".join(str(i) for i in self._malformed_numbers)
        more = ", …" if n > len(self._malformed_numbers) else ""
        return f"skipped {n} malformed line{'' if n == 1 else 's'} ({listed}{more})"

    def _damage(self, damage: Damage) -> None:
        if self._open_span is None:
            self._open_span = (self._last_t, damage.n_bytes)
        else:
            t_before, n_bytes = self._open_span
            self._open_span = (t_before, n_bytes + damage.n_bytes)

    def _drop_tail(self, line_number: int, *, complete: bool) -> None:
        self.n_truncated_lines += 1
        if complete:
            logger.warning(
                "%s: line %d and everything after it are unreadable (zero bytes or garbage, "
                "as after a crash or power cut); kept everything before it",
                self.path,
                line_number,
            )
        else:
            logger.warning(
                "%s: the last line (%d) is incomplete, as after a crash; kept everything before it",
                self.path,
                line_number,
            )

    def _log_summary(self) -> None:
        for note in self.notes:
            logger.warning("%s: %s", self.path, note)

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def iter_events(path: str | os.PathLike[str], *, strict: bool = False) -> Iterator[Event]:
    """Stream the events of a recording without holding them all in memory.

    A generator: the errors of `RecordingReader` are raised when iteration starts or (with
    ``strict``) reaches a malformed line. Use `RecordingReader` directly to see the header,
    the counters and the notes.

    Parameters
    ----------
    path : str or os.PathLike
        The recording (plain or gzip).
    strict : bool, default False
        Refuse malformed lines instead of skipping them.

    Yields
    ------
    Event
        The events in file order.
    """
    with RecordingReader(path, strict=strict) as reader:
        yield from reader


def read_recording(path: str | os.PathLike[str], *, strict: bool = False) -> Recording:
    """Read a whole recording.

    Parameters
    ----------
    path : str or os.PathLike
        The recording (plain or gzip).
    strict : bool, default False
        Refuse malformed lines instead of skipping them.

    Returns
    -------
    Recording
        Header, events, the tolerance counters and the notes (see `RecordingReader` for
        what is tolerated and what raises).

    Raises
    ------
    RecordingFileError, UnsupportedVersionError, RecordingFormatError
        As `RecordingReader`.
    """
    with RecordingReader(path, strict=strict) as reader:
        events = tuple(reader)
        result = Recording(
            path=reader.path,
            header=reader.header,
            events=events,
            n_unknown_events=reader.n_unknown_events,
            unknown_types=reader.unknown_types,
            n_truncated_lines=reader.n_truncated_lines,
            truncated=reader.truncated,
            damaged_spans=reader.damaged_spans,
            n_malformed_lines=reader.n_malformed_lines,
            malformed_line_numbers=reader.malformed_line_numbers,
            trailing_garbage=reader.trailing_garbage,
            notes=reader.notes,
        )
    logger.info(
        "read %s: %d events%s",
        result.path,
        len(events),
        " (truncated tail)" if result.truncated else "",
    )
    return result
