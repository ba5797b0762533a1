"""The session engine: a source's events in; feedback out; everything recorded.

`SessionEngine` wraps any `EventSource` (strap, emulated, simulated, replay) and is an
`EventSource` itself: the recorder writes what it yields — the source's events unchanged, plus
the engine's own `PacerPhase`, `Marker` and `Rating` events at the session times they happen —
so a recording holds everything needed to re-create the session, and a replay of it through a
new engine reproduces every snapshot (docs/design.md §6).

Per event the engine does O(1) work, per beat what `LiveAnalyzer` does (incremental), plus a
breathing estimate from the last minute of chest acceleration (else of ECG, `ecg_breathing`)
every few seconds. It never
reads a clock: session time is the events' ``t``. The pacer's breath onsets between two beats
go to the analyzer (RSA per breath, phase synchrony) before the beat does, so the result does
not depend on how fast the source delivers — ×1 and as-fast-as-possible give the same
snapshots.

The engine publishes one `FeedbackSnapshot` per beat to its subscribers (the Qt window through
its bridge, the terminal view, tests). Views call `pacer_state(t_s)` at display rate; nothing
at display rate goes through events or the recording.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Literal, Self, get_args

import numpy as np

from pet_biofeedback.errors import ConfigError, SignalInputError
from pet_biofeedback.events import (
    AccFrame,
    Battery,
    Contact,
    EcgFrame,
    Event,
    EventSource,
    Gap,
    HeartRate,
    Link,
    Marker,
    PacerPhase,
    Rating,
    RRIntervals,
)
from pet_biofeedback.recording.frame_arrays import acc_mg_array, frame_n_samples
from pet_biofeedback.session.ecg_breathing import EcgBreathingWindow
from pet_biofeedback.session.feedback import (
    DEFAULT_LEVELS,
    FeedbackLevels,
    FeedbackSnapshot,
    QualityMonitor,
    level_of,
)
from pet_biofeedback.session.pacer import Pacer, PacerSettings, PacerShape, PacerState
from pet_biofeedback.session.read_ahead import ReadAhead
from pet_biofeedback.signal.live import LiveAnalyzer, LiveSettings, LiveUpdate
from pet_biofeedback.signal.respiration_live import AccBreathingWindow

__all__ = [
    "BREATHING_EVERY_S",
    "BREATHING_WINDOW_S",
    "Protocol",
    "SessionEngine",
    "SessionPlan",
    "settings_from_event",
]

logger = logging.getLogger(__name__)

Protocol = Literal["practice", "baseline", "assessment"]

PRACTICE_MINUTES: Final = (2.0, 60.0)  # issue #7: 2 min is valid, short sessions start habits
BASELINE_MINUTES: Final = (2.0, 5.0)
ASSESSMENT_MINUTES: Final = (5.0, 60.0)
BREATHING_WINDOW_S: Final = 60.0  # measured breathing from the last minute of chest ACC
BREATHING_EVERY_S: Final = 5.0  # …refreshed this often (a breath at 6/min lasts 10 s)
_READ_AHEAD_EVENTS: Final = 256  # events read ahead of the engine (bounded memory)
# Chest ACC frames wait until this many samples (≈ 10 s at 200 Hz) or an estimate (every 5 s)
# needs them.
_ACC_BATCH_SAMPLES: Final = 2048
# Measured breathing "matches" the pacer within this many breaths/min: the ACC rate's
# periodogram resolution over 60 s is about 1 breath/min (docs/hrv-methods.md §8.1).
PACER_AGREEMENT_BREATHS_PER_MIN: Final = 1.0
MIN_PC1_SHARE: Final = 0.5  # below this the chest-tilt model does not hold (motion, §8.1)
# Where the shown breathing rate comes from (`FeedbackSnapshot.breathing_source`), in the words
# of `analyze`'s ``breathing_source`` (session.analysis): chest movement, the ECG's R-wave
# amplitude, or an estimate from the heart rhythm itself.
FROM_ACC: Final = "acc"
FROM_ECG: Final = "ecg"
ESTIMATED_FROM_RR: Final = "rr-estimate"
# The analysis clock (first beat + the intervals) may drift this far from the packets' times
# before it is corrected: more than a strap's timing jitter and a held-back beat or two.
MAX_BEAT_CLOCK_DRIFT_S: Final = 1.0
_ONSET_LOOKAHEAD_S: Final = 45.0  # > the longest breath (3/min with holds: 20 s)
# The snapshot shows HR, RMSSD, RSA and coherence: the analyzer's Lomb, DFA/SampEn and
# phase measures would be computed per beat for no one (a third of its time). Their values,
# and when they refresh, do not touch the shown ones (signal/live.py).
_SHOWN_MEASURES: Final = LiveSettings(spectrum=False, nonlinear=False, phase_synchrony=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionPlan:
    """What a session will do.

    Parameters
    ----------
    protocol : {"practice", "baseline", "assessment"}
    minutes : float
        Planned length: practice 2–60, baseline 2–5 min.
    pacer : PacerSettings, optional
        The pacer at the start; None for spontaneous breathing (baseline).
    steps : tuple of (float, PacerSettings or None, str)
        Later protocol steps: at session time ``t_s`` switch the pacer to the settings (None
        stops pacing, e.g. a rest) and set a marker with the text.
    profile : str
        Whose session it is.
    """

    protocol: Protocol
    minutes: float
    pacer: PacerSettings | None = None
    steps: tuple[tuple[float, PacerSettings | None, str], ...] = ()
    profile: str = "default"

    def __post_init__(self) -> None:
        if self.protocol not in get_args(Protocol):
            raise ConfigError(
                f"protocol must be one of {', '.join(get_args(Protocol))}, got {self.protocol!r}"
            )
        low, high = {
            "practice": PRACTICE_MINUTES,
            "baseline": BASELINE_MINUTES,
            "assessment": ASSESSMENT_MINUTES,
        }[self.protocol]
        if not (math.isfinite(self.minutes) and low <= self.minutes <= high):
            raise ConfigError(
                f"a {self.protocol} session lasts {low:g}–{high:g} minutes, got {self.minutes:g}"
            )
        if self.protocol == "practice" and self.pacer is None:
            raise ConfigError("a practice session needs pacer settings")
        if self.protocol == "baseline" and (self.pacer is not None or self.steps):
            raise ConfigError("a baseline is spontaneous breathing: no pacer")
        times = [t for t, _, _ in self.steps]
        if times != sorted(times) or any(not math.isfinite(t) or t < 0 for t in times):
            raise ConfigError("protocol steps must be at increasing, non-negative times")

    @property
    def seconds(self) -> float:
        return 60.0 * self.minutes

    def header_settings(self) -> dict[str, object]:
        """What the recording's header says about the session (JSON-serialisable)."""
        settings: dict[str, object] = {
            "protocol": self.protocol,
            "minutes": self.minutes,
            "profile": self.profile,
        }
        if self.pacer is not None:
            settings["pacer"] = _pacer_dict(self.pacer)
        return settings


def _pacer_dict(s: PacerSettings) -> dict[str, object]:
    return {
        "breaths_per_min": s.breaths_per_min,
        "inhale_s": round(s.inhale_s, 6),
        "exhale_s": round(s.exhale_s, 6),
        "hold_after_inhale_s": s.hold_after_inhale_s,
        "hold_after_exhale_s": s.hold_after_exhale_s,
        "shape": s.shape,
    }


class _AccWindow:
    """The last `BREATHING_WINDOW_S` of chest acceleration, decimated as it arrives.

    Frames wait in a list until `_ACC_BATCH_SAMPLES` samples or an estimate need them, then go
    into arrays in one go: converting each 36-sample frame on its own was most of the cost of
    keeping the window (a replay adds 20 000 frames an hour, issue 7). The low-pass,
    decimation and ring are `signal.respiration_live.AccBreathingWindow`'s.
    """

    def __init__(self) -> None:
        self.fs_hz = math.nan  # of the stream; NaN until a frame with samples came
        self._window: AccBreathingWindow | None = None
        self._frames: list[AccFrame] = []
        self._n_waiting = 0  # samples in _frames
        self._t_first_s = math.inf  # the stream's first frame at this rate
        self._t_last_s = -math.inf  # and its latest

    def add(self, frame: AccFrame) -> None:
        n = frame_n_samples(frame)
        if n == 0 or not (math.isfinite(frame.fs_hz) and frame.fs_hz > 0):
            return
        if frame.fs_hz != self.fs_hz:  # a new rate starts a new window
            self.fs_hz = frame.fs_hz
            self._frames, self._n_waiting = [], 0
            self._t_first_s = frame.t
            try:
                self._window = AccBreathingWindow(frame.fs_hz, window_s=BREATHING_WINDOW_S)
            except SignalInputError as exc:  # too slow a stream for breathing
                logger.debug("breathing from ACC off: %s", exc)
                self._window = None
        if self._window is None:
            return
        self._frames.append(frame)
        self._n_waiting += n
        self._t_last_s = frame.t
        if self._n_waiting >= _ACC_BATCH_SAMPLES:
            self._flush()

    def window(self, *, min_span_s: float = 0.0) -> AccBreathingWindow | None:
        """The window with every frame added so far; None without a usable stream or while
        the window spans less than ``min_span_s`` (told from the frames' times first, so that
        a young stream is not converted frame by frame)."""
        if self._t_last_s - self._t_first_s < min_span_s:
            return None
        if self._frames:
            self._flush()
        if self._window is None or self._window.span_s < min_span_s:
            return None
        return self._window

    def _flush(self) -> None:
        """Push the waiting frames' samples, stamped frame by frame (a frame's ``t`` is its
        last sample's time)."""
        assert self._window is not None
        frames, n = self._frames, self._n_waiting
        self._frames, self._n_waiting = [], 0
        # The arrays the frames' producers kept (a replay's reader, the simulator, the BLE
        # decoder): no tuple is converted (issue 7).
        mg = np.concatenate([acc_mg_array(f) for f in frames])
        ends_s = np.fromiter((f.t for f in frames), np.float64, len(frames))
        per_frame = n // len(frames)
        if per_frame * len(frames) == n and all(frame_n_samples(f) == per_frame for f in frames):
            t_s = (ends_s[:, np.newaxis] - _sample_ages_s(per_frame, self.fs_hz)).ravel()
        else:  # frames of several lengths
            lengths = np.fromiter((frame_n_samples(f) for f in frames), np.intp, len(frames))
            samples_after = np.repeat(np.cumsum(lengths), lengths) - 1 - np.arange(n)
            t_s = np.repeat(ends_s, lengths) - samples_after / self.fs_hz
        self._window.push(t_s, mg)


@functools.lru_cache(maxsize=8)
def _sample_ages_s(n_samples: int, fs_hz: float) -> np.ndarray:
    """How long before a frame's last sample each of its ``n_samples`` was taken, s."""
    ages_s = (n_samples - 1 - np.arange(n_samples)) / fs_hz
    ages_s.flags.writeable = False
    return ages_s


class SessionEngine:
    """One session (module docstring).

    Parameters
    ----------
    source : EventSource
        Not yet opened; the engine opens and closes it.
    plan : SessionPlan
    levels : FeedbackLevels, optional
        Thresholds for low / medium / high (default: the starting levels).
    pacer_from_source : bool, default False
        Take the pacer from the source's recorded `PacerPhase` events instead of the plan
        (a replay of a session re-creates its pacer; the plan's pacer is then not emitted).
    ask_after : callable () -> awaitable mapping, optional
        Asked when the session ends (planned end, the source ending, or `request_stop`) for
        the after-ratings (``{"pain_after": 3, …}``), which are recorded before the file closes.

    Notes
    -----
    The session ends at ``plan.minutes`` of session time: the first event after it is not
    taken. Record it with `record(engine, …)` without ``seconds``.
    """

    def __init__(
        self,
        source: EventSource,
        plan: SessionPlan,
        *,
        levels: FeedbackLevels = DEFAULT_LEVELS,
        pacer_from_source: bool = False,
        ask_after: Callable[[], Awaitable[Mapping[str, int]]] | None = None,
    ) -> None:
        self._source = source
        self.plan = plan
        self.levels = levels
        self._pacer_from_source = pacer_from_source
        self._ask_after = ask_after
        self._stop = asyncio.Event()
        self.stopped_early = False
        self._subscribers: list[Callable[[FeedbackSnapshot], None]] = []
        self._pending: list[Event] = []
        self._steps = list(plan.steps)
        self.pacer: Pacer | None = None
        self._paced = False
        self._live: LiveAnalyzer | None = None
        self._quality = QualityMonitor()
        self._acc = _AccWindow()
        self._next_breathing_s = -math.inf
        self._breathing: tuple[float, str] | None = None
        self._ecg = EcgBreathingWindow()
        self._next_ecg_breathing_s = -math.inf
        self._ecg_breathing: float | None = None
        self._battery: int | None = None
        self._t_start_s: float | None = None
        self._t_last_s = 0.0
        self._last_onset_query_s = -math.inf
        # No pacer onset before this time (`_feed_onsets`); -inf: not known, ask the pacer.
        self._next_onset_s = -math.inf
        self._beat_clock_s = 0.0
        self.snapshots_published = 0
        self.last_snapshot: FeedbackSnapshot | None = None
        self._valid_coherence: list[float] = []
        self._valid_rsa: list[float] = []
        self._paused_s = 0.0
        self._last_snapshot_t_s: float | None = None
        self._onsets: list[float] = []
        self._last_coh_t = math.nan
        self._last_rsa_onset = math.nan
        if plan.pacer is not None and not pacer_from_source:
            # Session time starts at 0 (events.py), and so does the pacer, before any event
            # arrives: a simulated person can follow it from the first breath.
            self._apply_pacer(0.0, plan.pacer)

    # ------------------------------------------------------------------ views and intents
    def subscribe(self, callback: Callable[[FeedbackSnapshot], None]) -> None:
        """Call ``callback`` with every snapshot (on the engine's task)."""
        self._subscribers.append(callback)

    def pacer_position(self, t_s: float) -> float:
        """Breath position of the pacer at ``t_s`` — what a simulated person follows.

        Before any pacer (a baseline) the position advances at 6 breaths/min, which a
        simulated person given its own spontaneous rate never asks for.
        """
        if self.pacer is None:
            return t_s / 10.0
        return self.pacer.position_at(t_s)

    def pacer_state(self, t_s: float) -> PacerState | None:
        """The guide at session time ``t_s``, for a display; None when not pacing."""
        if self.pacer is None or not self._paced:
            return None
        return self.pacer.state_at(t_s)

    def change_pacer(self, settings: PacerSettings | None) -> None:
        """Switch the pacer now (the time of the last event); recorded as a `PacerPhase`."""
        self._apply_pacer(self._t_last_s, settings)

    def mark(self, text: str) -> None:
        """Set a marker now; recorded."""
        self._pending.append(Marker(self._t_last_s, text))

    def rate(self, kind: str, value: int) -> None:
        """Record a rating (e.g. ``pain_before``, 0–10) now."""
        if not (0 <= value <= 10):
            raise ConfigError(f"ratings are 0–10, got {value}")
        self._pending.append(Rating(self._t_last_s, kind, value))

    @property
    def elapsed_s(self) -> float:
        return 0.0 if self._t_start_s is None else self._t_last_s - self._t_start_s

    # ------------------------------------------------------------------ EventSource
    async def __aenter__(self) -> Self:
        await self._source.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._source.__aexit__(exc_type, exc, tb)

    @property
    def device_info(self) -> object:
        return getattr(self._source, "device_info", None)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        # The source is read by its own task into a small read-ahead buffer, so that a stop
        # request ends the session even while a quiet strap sends nothing; the events waiting
        # are taken in one go (a replay at --speed max hands over hundreds per task switch).
        ahead = ReadAhead(_READ_AHEAD_EVENTS)
        reader = asyncio.create_task(self._read_source(ahead))
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            ended = False
            while not ended:
                if not ahead.ready.is_set():
                    ready = asyncio.ensure_future(ahead.ready.wait())
                    await asyncio.wait((ready, stop), return_when=asyncio.FIRST_COMPLETED)
                    if not ready.done():  # stopped while the source was quiet
                        ready.cancel()
                        self.stopped_early = True
                        break
                batch = ahead.take()
                if not batch and ahead.ended:
                    if ahead.error is not None:
                        raise ahead.error
                    break
                for event in batch:
                    if self._t_start_s is None:
                        self._start(event.t)
                    if event.t > self.plan.seconds + (self._t_start_s or 0.0):
                        ended = True  # the planned time is over
                        break
                    self._due_steps(event.t)
                    for own in self._drain():
                        yield own
                    self._handle(event)
                    if isinstance(event, PacerPhase) and not self._pacer_from_source:
                        continue  # a replayed session's old pacer: this session has its own
                    yield event
                    for own in self._drain():  # what subscribers asked for while handling
                        yield own
                    if self._stop.is_set():
                        self.stopped_early = True
                        ended = True
                        break
        finally:
            stop.cancel()
            reader.cancel()
            await asyncio.gather(stop, reader, return_exceptions=True)
        for own in await self._finish():
            yield own

    async def _read_source(self, ahead: ReadAhead) -> None:
        await ahead.fill(self._source)

    def request_stop(self) -> None:
        """End the session early (Ctrl-C, a Stop button): the after-ratings are still asked."""
        self._stop.set()

    async def _finish(self) -> list[Event]:
        """The session's last events: the after-ratings (asked now) and the end marker."""
        t_end = self._t_last_s
        events = self._drain()
        if self._ask_after is not None:
            try:
                answers = await self._ask_after()
            except (EOFError, OSError) as exc:  # no one to ask: the session still ends well
                logger.info("after-ratings not asked: %s", exc)
                answers = {}
            events += [Rating(t_end, kind, value) for kind, value in answers.items()]
        how = "stopped early" if self.stopped_early else "completed"
        events.append(Marker(t_end, f"session end: {how}"))
        return events

    # ------------------------------------------------------------------ summary
    def live_summary(self) -> dict[str, float | int | None]:
        """Session means of what was shown as valid (coherence, RSA) and paused time, s."""
        coh = self._valid_coherence
        rsa = self._valid_rsa
        return {
            "coherence": float(np.mean(coh)) if coh else None,
            "rsa_bpm": float(np.mean(rsa)) if rsa else None,
            "feedback_paused_s": round(self._paused_s, 3),
            "snapshots": self.snapshots_published,
        }

    # ------------------------------------------------------------------ internals
    def _drain(self) -> list[Event]:
        out, self._pending = self._pending, []
        return out

    def _start(self, t_s: float) -> None:
        self._t_start_s = min(t_s, 0.0)
        self._t_last_s = self._t_start_s
        self._pending.insert(0, Marker(self._t_start_s, f"session start: {self.plan.protocol}"))

    def _due_steps(self, t_s: float) -> None:
        assert self._t_start_s is not None
        while self._steps and self._t_start_s + self._steps[0][0] <= t_s:
            at_s, settings, text = self._steps.pop(0)
            t_step = self._t_start_s + at_s
            self._pending.append(Marker(t_step, text))
            if not self._pacer_from_source:
                self._apply_pacer(t_step, settings)

    def _apply_pacer(
        self, t_s: float, settings: PacerSettings | None, *, position: float | None = None
    ) -> None:
        """Pacer off (None) or on with ``settings`` from ``t_s``; a recorded ``position`` wins."""
        self._feed_onsets(t_s)  # the old pacer's onsets up to the change
        self._next_onset_s = -math.inf  # the next onset moves with the change
        if settings is None:
            self._paced = False
            if not self._pacer_from_source:
                self._pending.append(PacerPhase(t_s, 0.0, 0.0, 0.0))
            return
        if self.pacer is None or not self._paced:
            # (re)starting: a fresh breath, or where the recording says the pacer was
            fraction = 0.0 if position is None else position % 1.0
            self.pacer = Pacer(settings, t_start_s=t_s - fraction * settings.period_s)
            change_position = self.pacer.position_at(t_s)
        else:
            change_position = self.pacer.change(t_s, settings, position=position).position
        self._paced = True
        if not self._pacer_from_source:
            self._pending.append(
                PacerPhase(
                    t_s,
                    settings.breaths_per_min,
                    settings.inhale_s,
                    settings.exhale_s,
                    hold_after_inhale_s=settings.hold_after_inhale_s,
                    position=change_position,
                    shape=settings.shape,
                )
            )

    def _feed_onsets(self, t_s: float) -> None:
        """Give the analyzer the pacer's breath onsets up to ``t_s`` (before the beat at t_s)."""
        if self.pacer is None or not self._paced or self._live is None:
            self._last_onset_query_s = max(self._last_onset_query_s, t_s)
            return
        start = self._last_onset_query_s
        if t_s <= start:
            return
        if t_s < self._next_onset_s:  # no onset in (start, t_s]: most beats end here
            self._last_onset_query_s = t_s
            return
        inhale_s = self.pacer.settings.inhale_s
        for onset in self.pacer.breath_starts(start, t_s):
            self._live.push_breath_start(float(onset), inhale_s=inhale_s)
            self._onsets = [*self._onsets[-2:], float(onset)]
        self._last_onset_query_s = t_s
        # The same arithmetic as the next query's, so the same time: a breath of up to 20 s
        # (3 breaths/min) has its onset within the look-ahead, or none comes before its end.
        ahead = self.pacer.breath_starts(t_s, t_s + _ONSET_LOOKAHEAD_S)
        self._next_onset_s = float(ahead[0]) if ahead.size else t_s + _ONSET_LOOKAHEAD_S

    def _handle(self, event: Event) -> None:
        self._t_last_s = max(self._t_last_s, event.t)
        match event:
            case RRIntervals():
                self._beats(event)
            case Gap():
                seconds = event.seconds if math.isfinite(event.seconds) else 0.0
                self._note_gap(event.t, max(seconds, 0.0))
            case Contact():
                self._quality.contact(event.t, event.ok)
            case Link():
                self._quality.link(event.t, event.state)
            case Battery():
                self._battery = event.battery_pct
            case AccFrame():
                self._acc.add(event)
                self._maybe_breathing(event.t)
            case EcgFrame() if math.isnan(self._acc.fs_hz):  # no chest movement streaming
                self._ecg.add(event)
                self._maybe_ecg_breathing(event.t)
            case PacerPhase() if self._pacer_from_source:
                self._apply_pacer(event.t, settings_from_event(event), position=event.position)
            case HeartRate() | Marker() | Rating():
                pass
            case _:
                pass

    def _beats(self, event: RRIntervals) -> None:
        rr = np.asarray(event.rr_ms, dtype=np.float64)
        rr = rr[np.isfinite(rr) & (rr > 0)]
        if rr.size == 0:
            return
        ends_s = event.t - (np.sum(rr) - np.cumsum(rr)) / 1000.0
        for end_s, rr_ms in zip(ends_s.tolist(), rr.tolist(), strict=True):
            if self._live is None:
                self._restart_analysis(end_s - rr_ms / 1000.0)
            assert self._live is not None
            self._beat_clock_s += rr_ms / 1000.0
            drift_s = end_s - self._beat_clock_s
            if drift_s > MAX_BEAT_CLOCK_DRIFT_S:
                # time passed that no interval covers: beats were lost without a gap event
                self._beat_clock_s -= rr_ms / 1000.0
                self._note_gap(end_s, drift_s)
                self._beat_clock_s += rr_ms / 1000.0
            elif drift_s < -MAX_BEAT_CLOCK_DRIFT_S:
                # the intervals add up to more time than passed: they are not real beats;
                # start the analysis again from here rather than show numbers from them
                self._quality.gap(end_s, 0.0)
                self._restart_analysis(end_s)
                continue
            self._feed_onsets(end_s)
            for update in self._live.push(rr_ms):
                self._publish(update)

    def _note_gap(self, t_s: float, seconds: float) -> None:
        """Beats were lost before ``t_s``: what the analyzer held is shown, then a new stretch."""
        if self._live is not None:
            for update in self._live.note_gap(seconds):  # beats before the gap, still good
                self._publish(update)
            self._beat_clock_s += seconds
        self._quality.gap(t_s, seconds)

    def _restart_analysis(self, t_first_s: float) -> None:
        self._live = LiveAnalyzer(_SHOWN_MEASURES, t_first_s=t_first_s)
        self._beat_clock_s = t_first_s
        self._last_onset_query_s = t_first_s
        self._next_onset_s = -math.inf  # the new analyzer gets the onsets since t_first_s
        self._onsets = []

    def _maybe_breathing(self, t_s: float) -> None:
        if t_s < self._next_breathing_s:
            return
        window = self._acc.window(min_span_s=BREATHING_WINDOW_S / 3)
        if window is None:
            return
        self._next_breathing_s = t_s + BREATHING_EVERY_S
        est = window.rate()
        ok = math.isfinite(est.rate_breaths_per_min) and est.explained_variance >= MIN_PC1_SHARE
        self._breathing = (est.rate_breaths_per_min, FROM_ACC) if ok else None

    def _maybe_ecg_breathing(self, t_s: float) -> None:
        if t_s < self._next_ecg_breathing_s:
            return
        self._next_ecg_breathing_s = t_s + BREATHING_EVERY_S
        self._ecg_breathing = self._ecg.breaths_per_min()

    def _publish(self, u: LiveUpdate) -> None:
        assert self._t_start_s is not None
        assert self._live is not None
        self._quality.beat(u.t_s, u.corrected)
        t_s = u.t_s
        quality = self._quality.quality(t_s)
        clean = quality.clean_since_s
        coherence: float | None = None
        if (
            quality.ok
            and math.isfinite(u.coherence_ratio)
            and u.coherence_t_s - self._live.settings.coherence_window_s >= clean
        ):
            coherence = u.coherence_ratio
        rsa: float | None = None
        if quality.ok and math.isfinite(u.rsa_last_breath_bpm) and len(self._onsets) >= 3:
            # the value describes the last breath whose beats are all final: one of the two
            # before the latest onset; both must be clean
            if self._quality.breath_is_clean(self._onsets[-3], self._onsets[-1]):
                rsa = u.rsa_last_breath_bpm
        breathing = self._breathing
        if breathing is None and self._ecg_breathing is not None:
            breathing = (self._ecg_breathing, FROM_ECG)
        if breathing is None and math.isfinite(u.coherence_peak_hz) and quality.ok:
            # RSA-based (docs/hrv-methods.md §8.3): the fed-back signal itself, so it is
            # marked as estimated and never compared with the pacer
            breathing = (60.0 * u.coherence_peak_hz, ESTIMATED_FROM_RR)
        pacer_rate = self.pacer.settings.breaths_per_min if self.pacer and self._paced else None
        matches: bool | None = None
        if breathing is not None and pacer_rate is not None and breathing[1] != ESTIMATED_FROM_RR:
            matches = abs(breathing[0] - pacer_rate) <= PACER_AGREEMENT_BREATHS_PER_MIN
        elapsed = t_s - self._t_start_s
        if self._last_snapshot_t_s is not None and not quality.ok:
            self._paused_s += max(t_s - self._last_snapshot_t_s, 0.0)
        self._last_snapshot_t_s = t_s
        if coherence is not None and u.coherence_t_s != self._last_coh_t:
            self._valid_coherence.append(coherence)
            self._last_coh_t = u.coherence_t_s
        if rsa is not None and self._onsets[-1] != self._last_rsa_onset:
            self._valid_rsa.append(rsa)
            self._last_rsa_onset = self._onsets[-1]
        levels = self.levels
        snapshot = FeedbackSnapshot(
            t_s=t_s,
            elapsed_s=elapsed,
            remaining_s=max(self.plan.seconds - elapsed, 0.0),
            n_beats=u.n_total_beats,
            nn_ms=u.nn_ms,
            hr_bpm=60_000.0 / u.nn_ms,
            rmssd_ms=u.time.rmssd_ms if quality.ok and math.isfinite(u.time.rmssd_ms) else None,
            rsa_bpm=rsa,
            rsa_level=level_of(rsa, levels.rsa_bpm),
            coherence=coherence,
            coherence_level=level_of(coherence, levels.coherence),
            breathing_breaths_per_min=None if breathing is None else breathing[0],
            breathing_source=None if breathing is None else breathing[1],
            pacer_breaths_per_min=pacer_rate,
            breathing_matches_pacer=matches,
            quality=quality,
            link=quality.link,
            battery_pct=self._battery,
            levels=levels,
        )
        self.snapshots_published += 1
        self.last_snapshot = snapshot
        for callback in self._subscribers:
            callback(snapshot)


def settings_from_event(event: PacerPhase) -> PacerSettings | None:
    """The pacer settings a recorded `PacerPhase` describes; None for "pacer off"."""
    if event.breaths_per_min <= 0:
        return None
    period_s = 60.0 / event.breaths_per_min
    hold_out_s = max(period_s - event.inhale_s - event.exhale_s - event.hold_after_inhale_s, 0.0)
    shape: PacerShape = "linear" if event.shape == "linear" else "sine"
    return PacerSettings.from_seconds(
        event.inhale_s,
        event.exhale_s,
        hold_after_inhale_s=event.hold_after_inhale_s,
        hold_after_exhale_s=hold_out_s,
        shape=shape,
    )
