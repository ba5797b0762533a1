"""Gzip members as the recording writer frames them, and a reader that survives damage.

Writing (`MemberBuilder`): every flush ends a gzip member of its own, as BGZF does (htslib; the
SAM/BAM specification §4.1). Each member is a complete gzip file (RFC 1952) holding whole
lines, with its own CRC-32 and length in its trailer, so any gzip tool reads the
concatenation whole. Its header carries

* FLG = FEXTRA | FHCRC, MTIME = 0, XFL = 0, OS = 255 (unknown);
* one extra subfield ``PB`` (SI1 = 'P', SI2 = 'B', LEN = 4) holding the member's total size
  in bytes, little-endian (BGZF's ``BC`` field, widened to 4 bytes so that one long line
  cannot overflow it);
* the header's own CRC-16 (FHCRC), so a damaged size is never trusted.

`END_MEMBER` (an empty member of the same form) marks a recording closed properly.

Reading (`GzipChunks`): a file whose first member carries the ``PB`` field is read member by
member, and a member's output is released only after its CRC-32 and ISIZE checked out
(zlib verifies both, and the header CRC, with ``wbits=31``). A damaged member is skipped:
the next one starts ``size`` bytes on when the header is intact, else at the next
``1f 8b 08`` that starts a member that checks out. The last member of a crashed recording
(the file ends inside it) is the one exception: its output is kept as an unverified tail.
Any other gzip file (format v1 as first written: one stream with ``Z_SYNC_FLUSH`` points) is
read as before by `LegacyMember`: output up to each sync point, what follows the last one
only when the stream merely ends early.

This module imports only the standard library.
"""

from __future__ import annotations

import enum
import logging
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Final

logger = logging.getLogger(__name__)

GZIP_MAGIC: Final = b"\x1f\x8b"
_MEMBER_MAGIC: Final = b"\x1f\x8b\x08"  # magic and CM = deflate: what a member starts with
_GZIP_WBITS: Final = 31  # zlib: gzip header and trailer
_RAW_DEFLATE_WBITS: Final = -15
# zlib level 4, not the default 6: on a 60-min H10 recording (14.2 MB of lines, 64-KiB
# members) compressing takes 0.22 s of CPU against 0.36 s at level 5 and 0.9 s at 6, for a
# file of 3.91 MB against 3.65 and 3.58 (levels 1-3, zlib's other matcher, give 4.2-4.6 MB
# for no less time). A replay at --speed max pays it in the recorder thread (issue 7).
GZIP_LEVEL: Final = 4
_FLG_FHCRC: Final = 0x02
_FLG_FEXTRA: Final = 0x04
_FLG_RESERVED: Final = 0xE0
_OS_UNKNOWN: Final = 255
_SUBFIELD_ID: Final = b"PB"
# ID1 ID2 CM FLG, MTIME, XFL OS, XLEN, SI1 SI2 LEN, member size; then the header CRC-16.
_HEADER_STRUCT: Final = struct.Struct("<4sIBBH2sHI")
_HEADER_BYTES: Final = _HEADER_STRUCT.size + 2
_TRAILER_BYTES: Final = 8
# A member of our writer ends after 64 KiB of lines plus the line that crossed the limit;
# beyond this the output of one member is not held in memory (a crafted gzip bomb).
MEMBER_HOLD_LIMIT_BYTES: Final = 1 << 26
_READ_CHUNK_BYTES: Final = 1 << 16
_INFLATE_PIECE_BYTES: Final = 1 << 16  # most output of one decompress call
_SYNC_MARKER: Final = b"\x00\x00\xff\xff"  # ends the empty stored block of a Z_SYNC_FLUSH
_LEGACY_HOLD_LIMIT_BYTES: Final = 1 << 22  # output held back at most when no sync marker comes
# A compressed stream ending in this many zero bytes was zero-filled (a sync marker has 2 or 3).
_ZERO_FILL_MIN_BYTES: Final = 8


# --- Writing ---------------------------------------------------------------------------------


def _member(deflated: bytes, crc: int, isize: int) -> bytes:
    """One gzip member with the ``PB`` size field around raw deflate data."""
    size = _HEADER_BYTES + len(deflated) + _TRAILER_BYTES
    header = _HEADER_STRUCT.pack(
        GZIP_MAGIC + bytes([8, _FLG_FEXTRA | _FLG_FHCRC]),
        0,  # MTIME: none, so that files are reproducible
        0,
        _OS_UNKNOWN,
        8,  # XLEN: one subfield of 2 + 2 + 4 bytes
        _SUBFIELD_ID,
        4,
        size,
    )
    header_crc = struct.pack("<H", zlib.crc32(header) & 0xFFFF)
    trailer = struct.pack("<II", crc, isize & 0xFFFFFFFF)
    return b"".join((header, header_crc, deflated, trailer))


class MemberBuilder:
    """Compresses lines into the member being built; `take` ends it (private to the writer)."""

    def __init__(self, level: int = GZIP_LEVEL) -> None:
        self._level = level
        self._start()

    def _start(self) -> None:
        self._lines: list[bytes] = []
        self.n_bytes_in = 0  # uncompressed bytes in the member so far

    def add(self, data: bytes) -> None:
        """Add ``data`` (whole lines) to the current member."""
        self._lines.append(data)
        self.n_bytes_in += len(data)

    def take(self) -> bytes:
        """The finished member (b"" when nothing was added); the next `add` starts another.

        The member is compressed here, in one call: zlib then works on ≈ 64 KiB without
        holding the GIL (a call per line took it back a thousand times a member), and nothing
        reaches the OS before `take` anyway.
        """
        if not self.n_bytes_in:
            return b""
        data = b"".join(self._lines)
        compressor = zlib.compressobj(self._level, zlib.DEFLATED, _RAW_DEFLATE_WBITS)
        deflated = compressor.compress(data) + compressor.flush(zlib.Z_FINISH)
        member = _member(deflated, zlib.crc32(data), len(data))
        self._start()
        return member


def _end_member() -> bytes:
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, _RAW_DEFLATE_WBITS)
    return _member(compressor.flush(zlib.Z_FINISH), 0, 0)


END_MEMBER: Final = _end_member()


# --- Reading ---------------------------------------------------------------------------------


def member_size(header: bytes) -> int | None:
    """The size a member header written by `MemberBuilder` declares; None for any other
    header, or one whose CRC-16 does not check out."""
    if len(header) < _HEADER_BYTES:
        return None
    magic_flags, _, _, _, xlen, subfield, length, size = _HEADER_STRUCT.unpack_from(header)
    if (
        magic_flags != GZIP_MAGIC + bytes([8, _FLG_FEXTRA | _FLG_FHCRC])
        or (xlen, subfield, length) != (8, _SUBFIELD_ID, 4)
        or struct.unpack_from("<H", header, _HEADER_STRUCT.size)[0]
        != zlib.crc32(header[: _HEADER_STRUCT.size]) & 0xFFFF
        or size < _HEADER_BYTES + _TRAILER_BYTES
    ):
        return None
    return int(size)


@dataclass(frozen=True, slots=True)
class Damage:
    """Compressed bytes skipped because they did not check out (yielded by `GzipChunks`).

    ``to_end``: nothing readable follows up to the end of the file.
    """

    n_bytes: int
    to_end: bool


class _Input:
    """The unread bytes of a file, read in chunks as needed; ``buf[0]`` is at ``offset``."""

    def __init__(self, file: IO[bytes], offset: int) -> None:
        self._file = file
        self.buf = bytearray()
        self.at_eof = False
        self.offset = offset  # in the file, of buf[0]

    def fill(self, n: int) -> bool:
        """Read until ``buf`` holds ``n`` bytes; False when the file ends first."""
        while len(self.buf) < n and not self.at_eof:
            chunk = self._file.read(max(_READ_CHUNK_BYTES, n - len(self.buf)))
            if chunk:
                self.buf += chunk
            else:
                self.at_eof = True
        return len(self.buf) >= n

    def drop(self, n: int) -> None:
        self.offset += min(n, len(self.buf))
        del self.buf[:n]

    def exhausted(self) -> bool:
        return not self.fill(1)


class _Outcome(enum.Enum):
    """What trying a member at the start of the input gave."""

    GOOD = enum.auto()  # checked out: its bytes consumed, its output released
    DAMAGED = enum.auto()  # skip its declared size, or search on for the next member
    CUT = enum.auto()  # the file ends inside it (its output kept only if the header is ours)


class GzipChunks:
    """Output of a gzip recording, member by member (module docstring): `bytes` to use, or a
    `Damage` where bytes were skipped.

    Attributes, final once iteration ended: ``cut`` (the file ends without the writer's end
    marker or inside a member, as after a crash), ``trailing_garbage`` (unreadable data after
    the end), ``in_unverified_tail`` (the output now comes from a member that could not be
    checked), ``members`` (the file is in members with the ``PB`` field).

    While iterating, ``member_offset`` is the file offset of the member whose output was
    yielded last, when that member checked out (None for any other output): a reader may
    later start there (``start_offset``, with ``resumed=True``: the file's first member, and
    so the check whether the file is in members, was read before).
    """

    def __init__(self, file: IO[bytes], *, start_offset: int = 0, resumed: bool = False) -> None:
        self._input = _Input(file, start_offset)
        self._file = file
        self._resumed = resumed
        self.member_offset: int | None = None
        self.cut = False
        self.trailing_garbage = False
        self.in_unverified_tail = False
        self.members = False
        self.damaged_from_start = False  # the first member does not check out
        # An old single-stream file whose CRC fails: the damage cannot be located.
        self.unlocated_damage = False

    def __iter__(self) -> Iterator[bytes | Damage]:
        self._input.fill(_HEADER_BYTES)
        header = bytes(self._input.buf[:_HEADER_BYTES])
        self.members = self._resumed or member_size(header) is not None
        if self.members:
            return self._members()
        return self._legacy()

    # -- files of members --

    def _members(self) -> Iterator[bytes | Damage]:
        src = self._input
        damaged_bytes = 0
        ended = False  # an end marker was the last thing read
        ended_before_damage = False  # ... before the damaged bytes now being skipped
        first = not self._resumed
        while True:
            n_zeros = self._skip_zeros()
            if src.exhausted():
                break
            start = src.offset
            outcome, consumed, output = self._try_member()
            if outcome == _Outcome.GOOD:
                if damaged_bytes:
                    self.member_offset = None
                    yield Damage(damaged_bytes, to_end=False)
                    damaged_bytes = 0
                src.drop(consumed)
                ended = not output
                first = False
                if output:
                    self.member_offset = start
                    yield output
                continue
            if outcome == _Outcome.CUT:
                self.member_offset = None
                if damaged_bytes:
                    yield Damage(damaged_bytes, to_end=False)
                    damaged_bytes = 0
                self.cut = True
                self.in_unverified_tail = True
                src.drop(len(src.buf))
                if output:
                    yield output
                break
            if first:  # the header line is lost: nothing to read the rest against
                self.damaged_from_start = True
                return
            # Damaged: skip what its intact header says it spans, else look for the next
            # member start that checks out.
            if not damaged_bytes:
                ended_before_damage = ended
            damaged_bytes += n_zeros + (
                self._skip(consumed) if consumed else self._skip_to_next_member()
            )
            ended = False
        if damaged_bytes:
            # At most an end marker's worth of bytes cannot have held a line: the end marker
            # itself was damaged, or a little garbage follows; either way nothing was lost.
            if ended_before_damage or damaged_bytes <= len(END_MEMBER):
                self.trailing_garbage = True
            else:
                self.cut = True
                self.member_offset = None
                yield Damage(damaged_bytes, to_end=True)
        elif not ended:
            self.cut = True

    def _skip_zeros(self) -> int:
        """Drop zero padding (``gzip`` skips it after a member too); how many bytes."""
        src = self._input
        n = 0
        while src.fill(1):
            stripped = len(src.buf) - len(src.buf.lstrip(b"\x00"))
            if not stripped:
                break
            src.drop(stripped)
            n += stripped
        return n

    def _skip(self, n: int) -> int:
        """Drop ``n`` bytes (fewer at the end of the file), a chunk at a time; how many."""
        src = self._input
        skipped = 0
        while skipped < n and src.fill(1):
            step = min(n - skipped, len(src.buf))
            src.drop(step)
            skipped += step
        return skipped

    def _skip_to_next_member(self) -> int:
        """Drop bytes up to the next candidate member start (or the end); how many."""
        src = self._input
        n = 0
        src.drop(1)
        n += 1
        while True:
            at = src.buf.find(_MEMBER_MAGIC)
            if at >= 0:
                src.drop(at)
                return n + at
            if src.at_eof:
                n += len(src.buf)
                src.drop(len(src.buf))
                return n
            keep = len(_MEMBER_MAGIC) - 1  # a magic split across reads
            dropped = max(0, len(src.buf) - keep)
            src.drop(dropped)
            n += dropped
            src.fill(len(src.buf) + _READ_CHUNK_BYTES)

    def _try_member(self) -> tuple[_Outcome, int, bytes]:
        """Inflate the member at the start of the input: (outcome, bytes, output)."""
        src = self._input
        src.fill(_HEADER_BYTES)
        if not src.buf.startswith(_MEMBER_MAGIC):
            if src.at_eof and _MEMBER_MAGIC.startswith(src.buf):  # cut inside the magic
                return _Outcome.CUT, len(src.buf), b""
            return _Outcome.DAMAGED, 0, b""
        size = member_size(bytes(src.buf[:_HEADER_BYTES]))
        decompressor = zlib.decompressobj(wbits=_GZIP_WBITS)
        out: list[bytes] = []
        n_out = 0
        fed = 0
        try:
            while not decompressor.eof:
                end = len(src.buf) if size is None else min(size, len(src.buf))
                if fed >= end:
                    if size is not None and fed >= size:
                        break  # all it declared, and no end: damaged
                    if fed > MEMBER_HOLD_LIMIT_BYTES or not src.fill(len(src.buf) + 1):
                        break  # the file ends inside the member (or it is absurdly long)
                    continue
                piece = bytes(src.buf[fed : min(end, fed + _READ_CHUNK_BYTES)])
                fed += len(piece)
                while not decompressor.eof:
                    chunk = decompressor.decompress(piece, _INFLATE_PIECE_BYTES)
                    out.append(chunk)
                    n_out += len(chunk)
                    if n_out > MEMBER_HOLD_LIMIT_BYTES:
                        return _Outcome.DAMAGED, size or 0, b""
                    piece = decompressor.unconsumed_tail
                    if not piece and len(chunk) < _INFLATE_PIECE_BYTES:  # else more pending
                        break
        except zlib.error as exc:
            logger.debug("damaged gzip member: %s", exc)
            return _Outcome.DAMAGED, size or 0, b""
        if decompressor.eof:
            return _Outcome.GOOD, fed - len(decompressor.unused_data), b"".join(out)
        if src.at_eof and fed >= len(src.buf) and (size is None or size > len(src.buf)):
            # A crash while the member was being written: only its lines are left to keep,
            # if its header shows that our writer wrote it.
            return _Outcome.CUT, len(src.buf), b"".join(out) if size is not None else b""
        return _Outcome.DAMAGED, size or 0, b""

    # -- one stream with sync points (format v1 as first written) --

    def _legacy(self) -> Iterator[bytes | Damage]:
        self.unlocated_damage = not _stream_checks_out(self._file)
        self._file.seek(0)
        member: LegacyMember | None = None  # None between gzip members
        member_done = False
        data = b""
        while True:
            if not data:
                data = self._file.read(_READ_CHUNK_BYTES)
                if not data:
                    break
            if member is None:
                data = data.lstrip(b"\x00")  # zero padding after a member: gzip skips it too
                if not data:
                    continue
                member = LegacyMember()
            try:
                yield from member.inflate(data)
            except zlib.error as exc:
                logger.debug("compressed data unreadable: %s", exc)
                if member_done and not member.produced:
                    self.trailing_garbage = True
                    return
                self.in_unverified_tail = True
                yield member.unverified_tail(damaged=True)
                # zlib checks the CRC-32 and length after the last data: then nothing was
                # left out unless held output was dropped (the checksum note says the rest).
                checks_only = "incorrect data check" in str(exc) or "incorrect length" in str(exc)
                if not checks_only or member.dropped:
                    self.cut = True
                    yield Damage(0, to_end=True)
                return
            if member.eof:  # another gzip member may follow (concatenated files)
                member_done = True
                data = member.unused_data
                member = None
            else:
                data = b""
        if member is not None:
            self.cut = True
            self.in_unverified_tail = True
            yield member.unverified_tail(damaged=False)


class LegacyMember:
    """One gzip member with ``Z_SYNC_FLUSH`` points; output after the last one is held back.

    The first writer ended every flush with ``Z_SYNC_FLUSH``, i.e. the byte-aligned marker
    `_SYNC_MARKER`, always after a complete line. Input is fed up to each marker, so the
    output up to it is complete once the marker has been inflated; that output is then
    released, and so is the rest at the member's verified end. When the member ends
    without its end, `unverified_tail` decides about the output held since the last sync
    point: inflating zero bytes or garbage can produce plausible lines, even copies of
    earlier ones, so it is dropped after damaged data or a zero-filled end, and kept after
    a plain cut (a crash), whose output is genuine. A member without sync points has
    nothing better to go back to: its output is kept, and released at least every
    `_LEGACY_HOLD_LIMIT_BYTES`.
    """

    def __init__(self) -> None:
        self._decompressor = zlib.decompressobj(wbits=_GZIP_WBITS)
        self._carry = b""  # the last bytes fed, to find a marker split across reads
        self._zero_run = 0  # zero bytes at the end of the input fed so far
        self._held: list[bytes] = []  # output since the last sync point
        self._n_held = 0
        self.synced = False  # a sync point has been passed
        self.produced = False  # the member has produced output
        self.eof = False  # the member ended, its trailer verified
        self.unused_data = b""  # input after the member's end
        self.dropped = False  # `unverified_tail` dropped held output

    def inflate(self, data: bytes) -> Iterator[bytes]:
        """Inflate ``data`` and yield the output now trusted.

        Raises ``zlib.error`` at damaged data, keeping what came before it in
        `unverified_tail`.
        """
        while data:
            combined = self._carry + data
            at = combined.find(_SYNC_MARKER)
            end = at + len(_SYNC_MARKER) - len(self._carry) if at >= 0 else len(data)
            piece, data = data[:end], data[end:]
            self._carry = combined[: len(self._carry) + end][-(len(_SYNC_MARKER) - 1) :]
            nonzero = piece.rstrip(b"\x00")
            self._zero_run = len(piece) - len(nonzero) + (0 if nonzero else self._zero_run)
            self._inflate_piece(piece)
            if self.eof:
                self.unused_data = self._decompressor.unused_data + data
                yield self._release()
                return
            if at >= 0:
                self.synced = True
            if at >= 0 or self._n_held > _LEGACY_HOLD_LIMIT_BYTES:
                yield self._release()

    def unverified_tail(self, *, damaged: bool) -> bytes:
        """The held output to keep after the member ended early (cut, or ``damaged``)."""
        held = self._release()
        zero_filled = self._zero_run >= _ZERO_FILL_MIN_BYTES  # a power cut's, not a plain cut
        if self.synced and (damaged or zero_filled):
            self.dropped = bool(held)
            return b""
        return held

    def _inflate_piece(self, piece: bytes) -> None:
        decompressor = self._decompressor
        while True:
            before = decompressor.copy()
            try:
                out = decompressor.decompress(piece, _INFLATE_PIECE_BYTES)
            except zlib.error:
                # Everything the failed call had inflated is lost: redo it byte by byte.
                self._hold(_inflate_until_damage(before, piece))
                raise
            self._hold(out)
            piece = decompressor.unconsumed_tail
            if decompressor.eof:
                self.eof = True
                return
            if not piece and len(out) < _INFLATE_PIECE_BYTES:  # else more may be pending
                return

    def _hold(self, out: bytes) -> None:
        if out:
            self._held.append(out)
            self._n_held += len(out)
            self.produced = True

    def _release(self) -> bytes:
        out = b"".join(self._held)
        self._held = []
        self._n_held = 0
        return out


def _stream_checks_out(file: IO[bytes]) -> bool:
    """Whether the gzip members of ``file`` inflate and their CRCs check out (a member that is
    merely cut, as after a crash, and garbage after a complete member do not count).

    Reads the whole file once, keeping no output: a single-stream file has one CRC at its
    end, so this is the only way to know before using its data whether any of it is damaged.
    """
    file.seek(0)
    decompressor: zlib._Decompress | None = None
    n_members_done = 0
    data = b""
    while True:
        if not data:
            data = file.read(_READ_CHUNK_BYTES)
            if not data:
                return True
        if decompressor is None:
            data = data.lstrip(b"\x00")
            if not data:
                continue
            decompressor = zlib.decompressobj(wbits=_GZIP_WBITS)
            produced = False
        try:
            while data and not decompressor.eof:
                produced = bool(decompressor.decompress(data, _INFLATE_PIECE_BYTES)) or produced
                data = decompressor.unconsumed_tail
            while not decompressor.eof and decompressor.decompress(b"", _INFLATE_PIECE_BYTES):
                produced = True
        except zlib.error:
            return n_members_done > 0 and not produced  # garbage after the end is no damage
        if decompressor.eof:
            data = decompressor.unused_data
            decompressor = None
            n_members_done += 1


def _inflate_until_damage(decompressor: zlib._Decompress, data: bytes) -> bytes:
    """What ``decompressor`` inflates from ``data`` before the byte where it fails."""
    out: list[bytes] = []
    for i in range(len(data)):
        try:
            out.append(decompressor.decompress(data[i : i + 1]))
        except zlib.error:
            break
        if decompressor.eof:
            break
    return b"".join(out)
