"""The seek index of a replay: where a seek can start reading, and the replay's state there.

`ReplaySource.seek` would otherwise read the recording from its start up to the target (a
24-h H10 recording: ~15 s). While a recording written in gzip members is read, the reader
hands over a `ResumePoint` before each member (recording.reader); at most every
`INDEX_SPACING_S` of recording time a `SeekIndex` keeps one together with copies of the
replay's state there: the raw decoder (`RawDecoder`: the beat clock, the PMD clocks and
settings), the lost-beat chain over recorded beats, the largest ``t`` made so far (the
re-ordering window's) and the count of lost-beat gaps. All of it is a deterministic function of
the file up to the point, so a seek reading on from a point with that state plays what a read
from the start plays, provided every event made before the point has ``t`` below the target
(the point chosen is the last one whose ``max_t_before`` is).

The index of a file is shared by every source of it (`shared_index`, keyed by the file's
identity and the replay settings; the last `INDEX_CACHE_FILES` files are kept): the replay
view makes a new source for every jump. `index_recording` builds it in a pass that reads the
file anyway (the view's opening scan). Files without members (older single-stream gzip, another
tool's gzip, plain text) give no points: a seek reads from the start, as before.

This module imports `pet_biofeedback.events`, `recording` and the decoders next to it.
"""

from __future__ import annotations

import copy
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from pet_biofeedback.events import (
    Contact,
    Event,
    Gap,
    HeartRate,
    Link,
    RawNotification,
    RRIntervals,
)
from pet_biofeedback.firmware_bridge.beat_clock import RrBeatClock
from pet_biofeedback.firmware_bridge.replay_decoding import RawDecoder, StreamInventory
from pet_biofeedback.recording import RecordingHeader, RecordingReader, ResumePoint

__all__ = [
    "EXPANDED_TYPES",
    "INDEX_CACHE_FILES",
    "INDEX_SPACING_S",
    "IndexPoint",
    "SeekIndex",
    "expand_event",
    "file_identity",
    "index_recording",
    "shared_index",
]

# Seek index: a point at most this often (recording time). A seek reads from the last point
# before its target, so this bounds the events decoded for nothing (30 s of an H10 recording
# with ECG and ACC: ~300 events, ~5 ms); a point costs a copy of the decoders' state.
INDEX_SPACING_S: Final = 30.0


@dataclass(frozen=True, slots=True)
class IndexPoint:
    """A place a seek can read from: a resume point of the file and the source's state there,
    exactly as a read from the start of the file had it (copies: they are never played on)."""

    point: ResumePoint
    max_t_before: float  # largest t of every event made before it (the re-ordering window's)
    decoder: RawDecoder | None
    rr_chain: RrBeatClock
    n_lost_beat_gaps: int


@dataclass(slots=True, eq=False)
class SeekIndex:
    """The index points of one file (for one ``strict``/``decode_raw``/``find_lost_beats``
    setting: a strict read must stop at a malformed line, not jump over it), and the raw
    decoder as made for it (so that a later source needs no pass over the file)."""

    points: list[IndexPoint] = field(default_factory=list)  # in file order
    max_t: list[float] = field(default_factory=list)  # their max_t_before, non-decreasing
    fresh_decoder: RawDecoder | None = None
    # The opening scan (a worker thread) and a playing source may add at the same time.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(
        self,
        point: ResumePoint,
        max_t_before: float,
        decoder: RawDecoder | None,
        rr_chain: RrBeatClock,
        n_lost_beat_gaps: int,
    ) -> None:
        """Add a point after the last one (and `INDEX_SPACING_S` on); the state is copied."""
        with self._lock:
            if self.points:
                last = self.points[-1].point
                if point.offset <= last.offset or point.last_t is None:
                    return  # known already (read again after a seek)
                if last.last_t is not None and point.last_t < last.last_t + INDEX_SPACING_S:
                    return
            self.points.append(
                IndexPoint(
                    point,
                    max_t_before,
                    copy.deepcopy(decoder),
                    copy.deepcopy(rr_chain),
                    n_lost_beat_gaps,
                )
            )
            self.max_t.append(max_t_before)


INDEX_CACHE_FILES: Final = 4  # files whose seek index is kept for the next source of the file
_index_cache: OrderedDict[tuple[object, ...], SeekIndex] = OrderedDict()
_index_cache_lock = threading.Lock()


def shared_index(key: tuple[object, ...]) -> SeekIndex:
    """The seek index of a file (``key``: its identity and the replay settings), made empty
    the first time; the `INDEX_CACHE_FILES` used last are kept."""
    with _index_cache_lock:
        index = _index_cache.pop(key, None)
        if index is None:
            index = SeekIndex()
        _index_cache[key] = index
        while len(_index_cache) > INDEX_CACHE_FILES:
            _index_cache.popitem(last=False)
        return index


def expand_event(
    ev: Event,
    decoder: RawDecoder | None,
    rr_chain: RrBeatClock,
    find_lost_beats: bool,
    decode_raw: bool,
) -> list[Event]:
    """``ev`` and what comes of it, in the order played: a lost-beat `Gap` before recorded
    beats, the events decoded from a raw notification after it (the chain and the decoder go
    on from their state; ``decoder`` is made before the first raw notification)."""
    out: list[Event] = []
    if isinstance(ev, RRIntervals) and ev.rr_ms and find_lost_beats:
        # Recorded beats go through the live strap's lost-beat rule too (issue 6), so an
        # old recording without those gaps gets them; a recorded gap resets the chain.
        gap = rr_chain.check(ev.t, ev.rr_ms)
        if gap is not None:
            out.append(gap)
    out.append(ev)
    if isinstance(ev, RawNotification) and decode_raw:
        assert decoder is not None
        out.extend(decoder.decode(ev))
    elif isinstance(ev, Gap | Link) or (
        (isinstance(ev, Contact) and not ev.ok) or (isinstance(ev, HeartRate) and ev.hr_bpm == 0)
    ):
        # The chain of beats is broken, as the live strap treats it.
        rr_chain.reset()
        if decoder is not None and isinstance(ev, Gap):
            decoder.gap()
    return out


# What `expand_event` may do more with than pass on (any other event is played as it is).
EXPANDED_TYPES: Final = (RRIntervals, RawNotification, Gap, Link, Contact, HeartRate)


def file_identity(path: str) -> tuple[object, ...] | None:
    """What tells a file from another, or from itself changed (None: cannot be seen)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def index_recording(
    path: str | os.PathLike[str], *, decode_raw: bool = True, find_lost_beats: bool = True
) -> Iterator[Event]:
    """The events of a recording, as `RecordingReader` gives them, while the seek index of
    the file is built (shared by every `ReplaySource` of it with the same ``decode_raw`` and
    ``find_lost_beats``): a pass that scans the file anyway (the replay view's opening scan)
    makes every later seek, anywhere, read from a point at most ~`INDEX_SPACING_S` before
    its target instead of the file's start.

    Blocking (a worker thread); a generator: the errors of `RecordingReader` are raised when
    iteration starts or reaches them.
    """
    name = os.fspath(path)
    identity = file_identity(name)
    with RecordingReader(name) as reader:
        if identity is None:
            yield from reader
            return
        index = shared_index((*identity, False, decode_raw, find_lost_beats))  # not strict
        decoder: RawDecoder | None = None
        rr_chain = RrBeatClock()
        n_gaps = 0
        max_t = -math.inf
        for item in reader.iter_resumable():
            if isinstance(item, ResumePoint):
                index.add(item, max_t, decoder, rr_chain, n_gaps)
                continue
            if not isinstance(item, EXPANDED_TYPES):  # most of them: ECG and ACC frames
                if item.t > max_t:
                    max_t = item.t
                yield item
                continue
            if decoder is None and decode_raw and isinstance(item, RawNotification):
                decoder = _made_decoder(index, name, reader.header)
            for event in expand_event(item, decoder, rr_chain, find_lost_beats, decode_raw):
                if event is not item and isinstance(event, Gap):
                    n_gaps += 1
                max_t = max(max_t, event.t)
            yield item


def _made_decoder(index: SeekIndex, path: str, header: RecordingHeader) -> RawDecoder:
    """The raw decoder of a file as `ReplaySource` makes it (one more pass, the first time)."""
    if index.fresh_decoder is None:
        with RecordingReader(path) as reader:
            index.fresh_decoder = RawDecoder(StreamInventory(reader), header.settings)
    return copy.deepcopy(index.fresh_decoder)
