"""Recording format v1 (design.md §4; docs/recording-format.md): a crash-safe writer and a
reader that survives damage.

A recording is JSON Lines in UTF-8, one object per line, optionally gzip-compressed
(``.jsonl.gz``). Line 1 is the header::

    {"format": "pet-biofeedback-recording", "version": 1,
     "started_at": "2026-05-01T09:30:00.000+02:00",
     "device": {...}, "settings": {...}, "app_version": "0.1.0"}

Every later line is one event, ``{"t": 12.345, "type": "rr", ...}``. The on-disk keys are
frozen; `._events_json` is the one place that maps them to the unit-suffixed field names of
`pet_biofeedback.events` (style.md §2.2):

=========  ===================  ==================================================
type       event                keys (→ field)
=========  ===================  ==================================================
``rr``     `RRIntervals`        ``rr_ms`` (list) → ``rr_ms``
``hr``     `HeartRate`          ``bpm`` → ``hr_bpm``
``ecg``    `EcgFrame`           ``fs`` → ``fs_hz``, ``uv`` (list) → ``ecg_uv``
``acc``    `AccFrame`           ``fs`` → ``fs_hz``, ``mg`` (list of [x, y, z]) → ``acc_mg``
``contact`` `Contact`           ``ok``
``link``   `Link`               ``state`` (a `LinkState` value), ``detail``
``battery`` `Battery`           ``percent`` → ``battery_pct``
``raw``    `RawNotification`    ``char`` → ``characteristic``, ``hex`` → ``payload``
``pacer``  `PacerPhase`         ``bpm`` → ``breaths_per_min``, ``inhale_s``, ``exhale_s``
``marker`` `Marker`             ``text``
``rating`` `Rating`             ``kind``, ``value``
``gap``    `Gap`                ``seconds``, ``reason``
=========  ===================  ==================================================

Every event line also has ``t`` (s since session start, see `pet_biofeedback.events`). Readers
ignore keys they do not know and skip event types they do not know (later minor versions may
add both); a different major ``version`` is rejected with `UnsupportedVersionError`. Numbers
must be finite and within ±1e9, sample rates (``fs``) within 1 Hz–10 kHz: the writer refuses
other values and the reader treats a line holding them as malformed.

How a compressed recording lies on disk. Every flush of the writer (at least once a second,
and after every 64 KiB of lines) ends one gzip member, a complete little gzip file of whole
lines with its own CRC-32 and length, as in BGZF (htslib). The members simply follow one
another, so ``gzip -t``, ``zcat`` and Python's gzip module read the file whole. Each member's
header holds an extra field ``PB`` with the member's size in bytes, protected by the header's
own checksum; closing the recording appends an empty member that marks its proper end. See
`._gzip_members`.

What the reader recovers:

* A damaged member (a flipped bit, a bad sector) fails its CRC and is left out whole: the
  reader finds the next member by the size in the damaged one's header or, if that header is
  damaged too, by searching for the next gzip header that checks out. Values from a member
  are used only once its CRC has checked out, so damage never reads as data. What was lost
  is reported as `DamagedSpan`s (``"2.1 s of data between 12:03.4 and 12:05.5 was damaged
  and left out"``, times of the last good event before and the first one after).
* The one exception is the last member of a crashed recording, cut off while it was being
  written: its complete lines are kept as a truncated tail. A file without the end marker
  is reported as cut off (``truncated``); data after the end marker are ignored as
  trailing garbage.
* A malformed line (not JSON, blank, NaN, a wrong type, a missing key, a number out of
  range) with good lines after it is skipped, counted and named by line number in one
  warning; ``strict=True`` refuses it instead (`RecordingFormatError`). Lines that are not
  JSON up to the end (a partial last line, the zero bytes a power cut leaves) are a
  truncated tail; blank lines at the end are ignored.
* Files written before members existed (one gzip stream with ``Z_SYNC_FLUSH`` points, such
  as the samples in ``recordings/``) are read as before: everything up to the last sync
  point before damage or a cut, and the rest of a plainly cut stream.
* `RecordingReader.iter_resumable` also yields a `ResumePoint` at each gzip member; a reader
  made with ``resume=point`` starts there and reads on exactly as one that read the file from
  its start (what `replay` seeks with).

Crash safety: the writer hands its data to the operating system at least every
`FLUSH_INTERVAL_S` and fsyncs at least every `FSYNC_INTERVAL_S` and on close, so a crash or
power cut loses at most the last seconds. A failed write (disk full) cuts the file back to
its last complete flush and raises one `RecordingWriteError` saying what was saved.

This package imports only the standard library, numpy (`._frame_lines` parses the sample
lists of ECG and ACC frame lines with it, many lines at a time), `pet_biofeedback.errors`
and `pet_biofeedback.events` (design.md §2).
"""

from __future__ import annotations

from pet_biofeedback.recording._events_json import read_back
from pet_biofeedback.recording._format import (
    FILE_MODE,
    FLUSH_INTERVAL_S,
    FORMAT_NAME,
    FORMAT_VERSION,
    FSYNC_INTERVAL_S,
)
from pet_biofeedback.recording._header import RecordingHeader
from pet_biofeedback.recording.reader import (
    MAX_LINE_BYTES,
    DamagedSpan,
    Recording,
    RecordingReader,
    ResumePoint,
    iter_events,
    read_recording,
)
from pet_biofeedback.recording.writer import MEMBER_INPUT_BYTES, RecordingWriter

__all__ = [
    "FILE_MODE",
    "FLUSH_INTERVAL_S",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FSYNC_INTERVAL_S",
    "MAX_LINE_BYTES",
    "MEMBER_INPUT_BYTES",
    "DamagedSpan",
    "Recording",
    "RecordingHeader",
    "RecordingReader",
    "RecordingWriter",
    "ResumePoint",
    "iter_events",
    "read_back",
    "read_recording",
]
