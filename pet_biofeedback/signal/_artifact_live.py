"""Live (causal) RR artifact correction (hrv-methods.md §5.2): `CausalArtifactCorrector`.

Each beat is decided two beats late with trailing windows of already-final beats and a
backstop gate; per beat it sorts at most 2 × 91 values in preallocated rings, no recompute.
"""

from __future__ import annotations

from typing import Final, NamedTuple

import numpy as np

from pet_biofeedback.signal._artifact_kernels import (
    ALPHA,
    C1,
    C2,
    LABEL_ECTOPIC,
    LABEL_EXTRA,
    LABEL_LONG_SHORT,
    LABEL_MISSED,
    LABEL_NORMAL,
    MALIK_FRACTION,
    MEDFILT_ORDER,
    MRR_LIMIT,
    QUARTILES,
    RR_MAX_MS,
    RR_MIN_MS,
    TH_FLOOR_MS,
    WINDOW_BEATS,
    sorted_quantile,
)

# --------------------------------------------------------------------------------------------
# Live (causal) correction
# --------------------------------------------------------------------------------------------
# Trailing-median fallback: with fewer finals than this, the reference median also uses the
# pending (not yet decided) beats.
_MIN_FINALS_FOR_MEDIAN: Final = 3
_LOOKAHEAD_BEATS: Final = 2
_Q1_POS: Final = QUARTILES[0] * (WINDOW_BEATS - 1)
_Q3_POS: Final = QUARTILES[1] * (WINDOW_BEATS - 1)

_NORMAL: Final = LABEL_NORMAL
_ECTOPIC: Final = LABEL_ECTOPIC
_LONG_SHORT: Final = LABEL_LONG_SHORT
_MISSED: Final = LABEL_MISSED
_EXTRA: Final = LABEL_EXTRA


class FinalNN(NamedTuple):
    """One NN interval that `CausalArtifactCorrector` will not revise any more.

    Attributes
    ----------
    nn_ms : float
        The NN interval in ms.
    corrected : bool
        True when the value is not the raw RR (interpolated, split, merged or gated).
    """

    nn_ms: float
    corrected: bool


class CausalArtifactCorrector:
    """Live Lipponen & Tarvainen artifact correction, one RR interval at a time.

    Each `push` returns the NN intervals that became final on that push as a tuple of
    `FinalNN` ``(nn_ms, corrected)`` pairs: usually one, delayed by two beats (the S12/S22
    subspaces look two beats ahead); two when a missed beat was split; none while the look-ahead
    fills up and on the push after an extra beat was merged. `flush` finalizes what is pending at
    the end of a stream. Concatenated, the outputs of all pushes and the flush are the NN series
    (length = pushes + missed − extra). Never raises or warns per beat.

    Attributes
    ----------
    n_ectopic, n_long_short, n_missed, n_extra : int
        Beats detected and corrected in each class so far.
    n_gated : int
        Pushed values outside ``RR_MIN_MS`` … ``RR_MAX_MS`` (or non-finite), replaced.
    n_final : int
        NN values finalized so far.

    Notes
    -----
    hrv-methods.md §5.2. The offline rules of §5.1 with trailing instead of centred windows:

    * Th1 = α·QD(|dRR|) and Th2 = α·QD(|mRR|) over the last ``WINDOW_BEATS`` (91) *final* beats,
      so corrected beats, not artifacts, feed the thresholds; medRR is the median of the last
      ``MEDFILT_ORDER`` (11) final beats (with fewer than 3 finals, of the finals and pending
      beats). Both live in preallocated ring buffers; each push sorts at most 2 × 91 values.
    * Floors: until 91 finals exist, Th1 and Th2 are at least the Malik 20 % of medRR
      (``MALIK_FRACTION``) — thresholds from few beats are unreliable; afterwards at least
      ``TH_FLOOR_MS`` (20 ms), which keeps a very regular rhythm (QD → 0) from flagging jitter.
    * A beat is long/short when ``|dRR| > 1`` *or* ``|mRR| > 3`` as in the paper (NeuroKit2 skips
      every beat with ``|dRR| ≤ 1``).
    * Backstop for frequent ectopy, where the QD thresholds adapt upwards (§5.2, MIT-BIH 208):
      a beat the L&T rules pass is still an artifact when it differs from the previous NN by
      more than 20 % (Malik) *and* from medRR by more than 20 %; it is missed (extra) if half of
      it (it plus the next interval) is within 20 % of medRR, else ectopic when short and
      long/short when long.
    * Gate: values outside ``RR_MIN_MS`` … ``RR_MAX_MS`` are counted in ``n_gated``; a
      too-short one that sums with its neighbour (in either order) to within 20 % of medRR is
      an extra beat's fragment and is merged (also counted in ``n_extra``), the rest replaced.
    * Corrections: extra → merged with the next interval; missed → two halves; ectopic,
      long/short and gated → the mean of those of medRR, the previous NN and the next RR
      (medRR when unknown) that lie within 20 % of medRR. A local mean, not a spline: the live
      path has no good beat after the gap yet, and the median keeps a run of artifacts from
      dragging the value. Gated look-ahead beats count as medRR in the subspaces.
    * NaN: a non-finite input is gated like an out-of-range one. Only when nothing valid has
      been seen yet (the stream starts with three or more invalid values) is there nothing to
      estimate from: a finite value is then clipped to the range, a NaN stays NaN (and is kept
      out of the trailing windows).
    * Classes can differ from `detect_artifacts` on the same data: beats are judged against
      the already-corrected previous beat, so e.g. the compensatory pause after a corrected
      premature beat counts as long/short where the offline rules call it ectopic.

    Examples
    --------
    >>> from pet_biofeedback.signal.artifacts import CausalArtifactCorrector
    >>> corrector = CausalArtifactCorrector()
    >>> nn = []
    >>> for rr_ms in [800.0, 810.0, 790.0, 805.0, 1600.0, 800.0, 795.0]:
    ...     nn.extend(corrector.push(rr_ms))
    >>> nn.extend(corrector.flush())
    >>> [round(b.nn_ms) for b in nn], corrector.n_missed
    ([800, 810, 790, 805, 800, 800, 800, 795], 1)
    """

    __slots__ = (
        "_last_drr_ms",
        "_last_nn_ms",
        "_n_history",
        "_nn_buf_ms",
        "_pending_gated",
        "_pending_ms",
        "_qd_buf_ms",
        "n_ectopic",
        "n_extra",
        "n_final",
        "n_gated",
        "n_long_short",
        "n_missed",
    )

    def __init__(self) -> None:
        self._nn_buf_ms = np.zeros(MEDFILT_ORDER)
        self._qd_buf_ms = np.zeros((2, WINDOW_BEATS))  # rows: |dRR|, |mRR| of final beats
        self._n_history = 0  # finals written to the rings (ring slot = count % size)
        self._last_nn_ms = np.nan
        self._last_drr_ms = 0.0
        self._pending_ms: list[float] = []
        self._pending_gated: list[bool] = []
        self.n_ectopic = 0
        self.n_long_short = 0
        self.n_missed = 0
        self.n_extra = 0
        self.n_gated = 0
        self.n_final = 0

    def push(self, rr_ms: float) -> tuple[FinalNN, ...]:
        """Add one RR interval; return the NN values that became final.

        Parameters
        ----------
        rr_ms : float
            The next RR interval in ms. Values outside ``RR_MIN_MS`` … ``RR_MAX_MS`` and
            non-finite values are gated (counted in ``n_gated`` and replaced).

        Returns
        -------
        tuple of FinalNN
            Zero, one or two ``(nn_ms, corrected)`` pairs, oldest first.
        """
        value = float(rr_ms)
        gated = not RR_MIN_MS <= value <= RR_MAX_MS  # NaN fails the comparison: gated
        if gated:
            self.n_gated += 1
        self._pending_ms.append(value)
        self._pending_gated.append(gated)
        if len(self._pending_ms) <= _LOOKAHEAD_BEATS:
            return ()
        return self._decide()

    def flush(self) -> tuple[FinalNN, ...]:
        """Finalize the pending beats at the end of a stream (missing look-ahead = medRR).

        Returns
        -------
        tuple of FinalNN
            The remaining ``(nn_ms, corrected)`` pairs, oldest first.
        """
        out: list[FinalNN] = []
        while self._pending_ms:  # at most _LOOKAHEAD_BEATS iterations
            out.extend(self._decide())
        return tuple(out)

    def note_gap(self) -> tuple[FinalNN, ...]:
        """A data gap (a dropout): finalize the pending beats and start a new stretch.

        The pending beats are decided as at the end of a stream (their look-ahead lies in the
        gap); the first beat after the gap is then not compared with the last one before it
        (no dRR across the gap; issue 6). The trailing median and thresholds are kept: they
        describe the same heart a few seconds earlier.

        Returns
        -------
        tuple of FinalNN
            The beats that were pending, oldest first.
        """
        out = self.flush()
        self._last_nn_ms = float("nan")
        self._last_drr_ms = 0.0
        return out

    # -- internals -------------------------------------------------------------------------
    def _median_ms(self) -> float:
        """Trailing median of the final NN (plus pending beats while few finals exist)."""
        n = min(self._n_history, MEDFILT_ORDER)
        if self._n_history >= _MIN_FINALS_FOR_MEDIAN:
            values = np.sort(self._nn_buf_ms[:n])
        else:
            pending = [
                v for v, g in zip(self._pending_ms, self._pending_gated, strict=True) if not g
            ]
            values = np.sort(np.concatenate((self._nn_buf_ms[:n], pending)))
            if values.size == 0:
                return float("nan")
        mid = values.size // 2
        if values.size % 2:
            return float(values[mid])
        return float((values[mid] + values[mid - 1]) / 2)

    def _thresholds_ms(self, med_ms: float) -> tuple[float, float]:
        """(Th1, Th2) in ms from the trailing |dRR|, |mRR| rings, with the documented floors."""
        n = min(self._n_history - 1, WINDOW_BEATS)  # the first final has no dRR
        if n >= WINDOW_BEATS:
            srt = np.sort(self._qd_buf_ms, axis=1)
            q1_pos, q3_pos = _Q1_POS, _Q3_POS
            floor = TH_FLOOR_MS
        else:
            floor = MALIK_FRACTION * med_ms
            if n < 2:
                return floor, floor
            srt = np.sort(self._qd_buf_ms[:, :n], axis=1)
            q1_pos, q3_pos = QUARTILES[0] * (n - 1), QUARTILES[1] * (n - 1)
        th1 = ALPHA * ((sorted_quantile(srt[0], q3_pos) - sorted_quantile(srt[0], q1_pos)) / 2)
        th2 = ALPHA * ((sorted_quantile(srt[1], q3_pos) - sorted_quantile(srt[1], q1_pos)) / 2)
        return max(th1, floor), max(th2, floor)

    def _classify(self, r0: float, r1: float, r2: float, med: float, th1: float, th2: float) -> int:
        """Class of pending beat ``r0`` given the look-ahead ``r1``, ``r2`` (all ms)."""
        last = self._last_nn_ms
        has_last = last == last
        d0 = (r0 - last) / th1 if has_last else 0.0
        d_prev = self._last_drr_ms / th1
        d1 = (r1 - r0) / th1
        d2 = (r2 - r1) / th1
        m0 = r0 - med
        m0 = (2 * m0 if m0 < 0 else m0) / th2
        if d0 > 1 and max(d_prev, d1) < -C1 * d0 - C2:
            return _ECTOPIC
        if d0 < -1 and min(d_prev, d1) > -C1 * d0 + C2:
            return _ECTOPIC
        is_long = d0 > 1 and min(d1, d2) < -1
        is_short = d0 < -1 and max(d1, d2) > 1
        if is_long or is_short or abs(m0) > MRR_LIMIT:
            if is_short and abs(r0 + r1 - med) < th2:
                return _EXTRA
            if is_long and abs(r0 / 2 - med) < th2:
                return _MISSED
            return _LONG_SHORT
        tol = MALIK_FRACTION * med
        if has_last and abs(r0 - last) > MALIK_FRACTION * last and abs(r0 - med) > tol:
            if r0 > med and abs(r0 / 2 - med) < tol:
                return _MISSED
            if r0 < med and abs(r0 + r1 - med) < tol:
                return _EXTRA
            return _ECTOPIC if r0 < med else _LONG_SHORT
        return _NORMAL

    def _ahead_ms(self, k: int, med: float) -> float:
        """Pending beat ``k`` for the look-ahead; medRR when it is missing or gated."""
        if k < len(self._pending_ms) and not self._pending_gated[k]:
            return self._pending_ms[k]
        return med

    def _decide(self) -> tuple[FinalNN, ...]:
        """Finalize pending beat 0 (look-ahead: pending beats 1 and 2); pop what was consumed."""
        r0 = self._pending_ms[0]
        gated = self._pending_gated[0]
        med = self._median_ms()
        if med != med:  # nothing valid seen yet (r0 is gated): clip it, NaN stays NaN
            med = min(max(r0, RR_MIN_MS), RR_MAX_MS) if r0 == r0 else r0
        r1 = self._ahead_ms(1, med)
        has_next = len(self._pending_ms) > 1
        raw1 = self._pending_ms[1] if has_next else med
        gated1 = has_next and self._pending_gated[1]
        # An extra beat's fragment below RR_MIN_MS merges with its neighbour like an extra.
        frag0 = gated and 0.0 < r0 < RR_MIN_MS
        frag1 = gated1 and 0.0 < raw1 < RR_MIN_MS
        kind = _NORMAL
        if (
            has_next
            and (frag0 or frag1)
            and (frag0 or not gated)
            and (frag1 or not gated1)
            and abs(r0 + raw1 - med) < MALIK_FRACTION * med
        ):
            kind = _EXTRA
        elif not gated:
            th1, th2 = self._thresholds_ms(med)
            kind = self._classify(r0, r1, self._ahead_ms(2, med), med, th1, th2)
            if kind == _EXTRA and (not has_next or gated1):
                kind = _LONG_SHORT  # nothing real to merge with (end of stream or gated)
        del self._pending_ms[0], self._pending_gated[0]
        if kind == _EXTRA:
            self.n_extra += 1
            del self._pending_ms[0], self._pending_gated[0]
            return (self._finalize(r0 + raw1, True, med),)
        if kind == _MISSED:
            self.n_missed += 1
            first = self._finalize(r0 / 2, True, med)
            return (first, self._finalize(r0 / 2, True, med))
        if kind == _NORMAL and not gated:
            return (self._finalize(r0, False, med),)
        if kind == _ECTOPIC:
            self.n_ectopic += 1
        elif kind == _LONG_SHORT:
            self.n_long_short += 1
        # Replacement: mean of medRR, the previous NN and a plausible next RR.
        total, count = 0.0, 0
        for value in (med, self._last_nn_ms, r1):  # three terms
            if value == value and abs(value - med) <= MALIK_FRACTION * med:
                total, count = total + value, count + 1
        return (self._finalize(total / count if count else med, True, med),)

    def _finalize(self, nn_ms: float, corrected: bool, med_ms: float) -> FinalNN:
        """Record a final beat in the trailing rings and return it (NaN is not recorded)."""
        self.n_final += 1
        if nn_ms != nn_ms:
            return FinalNN(nn_ms, corrected)
        last = self._last_nn_ms
        if last == last:
            drr = nn_ms - last
            mrr = nn_ms - med_ms
            slot = (self._n_history - 1) % WINDOW_BEATS
            self._qd_buf_ms[0, slot] = abs(drr)
            self._qd_buf_ms[1, slot] = abs(2 * mrr if mrr < 0 else mrr)
            self._last_drr_ms = drr
        self._nn_buf_ms[self._n_history % MEDFILT_ORDER] = nn_ms
        self._n_history += 1
        self._last_nn_ms = nn_ms
        return FinalNN(nn_ms, corrected)
