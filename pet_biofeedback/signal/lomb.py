"""Lomb–Scargle periodogram of RR intervals: one-shot (`lomb_psd`) and sliding (`IncrementalLomb`).

hrv-methods.md §2.3. Frequencies are in Hz (never angular); exp(iωt) comes from a complex
recurrence on uniform grids. No ``scipy.signal``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal._spectral_constants import (
    _LOMB_CHUNK_ELEMS,
    _LOMB_UNIFORM_RTOL,
    HF_BAND_HZ,
    LOMB_FREQ_STEP_HZ,
)
from pet_biofeedback.signal._spectral_kernels import _block_ids, _mean_detrend_blocks
from pet_biofeedback.signal._typing import FloatArray, IntArray
from pet_biofeedback.signal._validate import as_1d_float

__all__ = ["IncrementalLomb", "default_lomb_freqs_hz", "lomb_psd"]


@dataclass(frozen=True, slots=True)
class _FreqPlan:
    """A Lomb frequency grid prepared for exp(iωt) evaluation."""

    freqs_hz: FloatArray
    uniform: bool
    f0_hz: float
    df_hz: float


def _freq_plan(freqs_hz: FloatArray) -> _FreqPlan:
    """Detect a uniform grid (to 1e-9 relative), which allows the complex recurrence."""
    f = freqs_hz
    if f.size >= 2:
        df = (f[-1] - f[0]) / (f.size - 1)
        uniform = bool(df > 0 and np.all(np.abs(np.diff(f) - df) <= _LOMB_UNIFORM_RTOL * df))
        return _FreqPlan(f, uniform, float(f[0]), float(df))
    return _FreqPlan(f, False, float(f[0]) if f.size else 0.0, 0.0)


def _exp_iwt(t_s: FloatArray, plan: _FreqPlan) -> npt.NDArray[np.complex128]:
    """exp(2πi·f·t) as an (n_freqs, n) array; float64 t, validated plan.

    On a uniform grid f_m = f_0 + m·Δf this is exp(2πi f_0 t) · exp(2πi Δf t)^m: two complex
    exponentials per time instead of n_freqs. Rows are filled by doubling (rows [k, 2k) =
    rows [0, k) · exp(2πi Δf t)^k), so ⌈log2 n_freqs⌉ vectorised products; error ≈ m·ε.
    """
    nf = plan.freqs_hz.size
    if plan.uniform:
        out = np.empty((nf, t_s.size), dtype=np.complex128)
        out[0] = np.exp(2j * np.pi * plan.f0_hz * t_s)
        step = np.exp(2j * np.pi * plan.df_hz * t_s)
        filled = 1
        while filled < nf:  # log2(n_freqs) passes
            k = min(filled, nf - filled)
            np.multiply(out[:k], step, out=out[filled : filled + k])
            filled += k
            if filled < nf:
                step = step * step
        return out
    return np.asarray(
        np.exp(2j * np.pi * plan.freqs_hz[:, None] * t_s[None, :]), dtype=np.complex128
    )


def _exp_iwt_into(t_s: float, plan: _FreqPlan, out: npt.NDArray[np.complex128]) -> None:
    """`_exp_iwt` of one time into the contiguous row ``out``, with the same operations.

    The same values as the column `_exp_iwt` gives (a direct exp differs from the recurrence
    by up to ≈ 3e-10 relative where the PSD is small, and the batch `lomb_psd` uses the
    recurrence); a contiguous row saves the strided column and the transposed copy.
    """
    t = np.array([t_s])
    if plan.uniform:
        out[0] = np.exp(2j * np.pi * plan.f0_hz * t)[0]
        step = np.exp(2j * np.pi * plan.df_hz * t)[0]
        nf = out.size
        filled = 1
        while filled < nf:
            k = min(filled, nf - filled)
            np.multiply(out[:k], step, out=out[filled : filled + k])
            filled += k
            if filled < nf:
                step = step * step
    else:
        out[:] = _exp_iwt(t, plan)[:, 0]


def _lomb_from_sums(
    n: FloatArray,
    span_s: FloatArray,
    s2: npt.NDArray[np.complex128],
    sx: npt.NDArray[np.complex128],
) -> FloatArray:
    """PSD (ms²/Hz) from Lomb sums; rows = windows, columns = frequencies.

    ``n`` beats and first-to-last ``span_s`` per row; ``s2`` = Σ exp(2iωt); ``sx`` =
    Σ (x − x̄) exp(iωt). With 2ωτ = arg s2 (Scargle 1982):
    Σx̃cos ω(t−τ) + iΣx̃sin ω(t−τ) = sx·e^{−iωτ}, Σcos² = (N + |s2|)/2, Σsin² = (N − |s2|)/2,
    P = ½[(Σx̃cos)²/Σcos² + (Σx̃sin)²/Σsin²], PSD = 2P/f̄ with f̄ = (N − 1)/span (§2.3).
    """
    nn = n[:, None]
    mag = np.abs(s2)
    rot = np.ones_like(s2)
    np.divide(s2, mag, out=rot, where=mag > 0)
    z = sx * np.conj(np.sqrt(rot))
    cc = 0.5 * (nn + mag)
    ss = 0.5 * (nn - mag)
    tiny = 1e-12 * nn
    yc = z.real
    ys = z.imag
    p = 0.5 * (
        np.divide(yc * yc, cc, out=np.zeros_like(yc), where=cc > tiny)
        + np.divide(ys * ys, ss, out=np.zeros_like(ys), where=ss > tiny)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        fbar = np.where((n >= 2) & (span_s > 0), (n - 1.0) / span_s, np.nan)
    return np.asarray(2.0 * p / fbar[:, None], dtype=np.float64)


def _lomb_from_sums_1d(
    n: float, span_s: float, s2: npt.NDArray[np.complex128], sx: npt.NDArray[np.complex128]
) -> FloatArray:
    """`_lomb_from_sums` of one window (n ≥ 2, span > 0), in place where it can be.

    The same operations in the same order, so the same values, at a third of the calls'
    overhead: the live analyzer evaluates it every beat.
    """
    mag = np.abs(s2)
    rot = np.divide(s2, mag, out=np.ones_like(s2), where=mag > 0)
    np.sqrt(rot, out=rot)
    np.conjugate(rot, out=rot)
    rot *= sx
    # cc = (N + |s2|)/2 ≥ N/2 never falls below the 1e-12·N floor; ss can.
    p = np.square(rot.real)
    p /= 0.5 * (n + mag)
    ss = 0.5 * (n - mag)
    p += np.divide(np.square(rot.imag), ss, out=np.zeros_like(ss), where=ss > 1e-12 * n)
    p *= 0.5
    p *= 2.0
    p /= (n - 1.0) / span_s
    return np.asarray(p, dtype=np.float64)


def _lomb_blocks(t_s: FloatArray, x: FloatArray, xlen: IntArray, plan: _FreqPlan) -> FloatArray:
    """Lomb PSD (ms²/Hz) of every block of (t, x) (lengths ≥ 1); shape (n_blocks, n_freqs).

    The mean of each block is removed here. Work runs over chunks of (block, beat) pairs to
    bound memory at about ``_LOMB_CHUNK_ELEMS`` complex numbers per array — a loop over
    chunks of a fixed size, not over beats or windows; each chunk is fully vectorised.
    """
    nb = xlen.size
    nf = plan.freqs_hz.size
    xid = _block_ids(xlen)
    xt = _mean_detrend_blocks(x, xlen)
    s2 = np.zeros((nb, nf), dtype=np.complex128)
    sx = np.zeros((nb, nf), dtype=np.complex128)
    total = xt.size
    chunk = max(1, _LOMB_CHUNK_ELEMS // max(nf, 1))
    for c0 in range(0, total, chunk):
        c1 = min(c0 + chunk, total)
        e = _exp_iwt(t_s[c0:c1], plan)
        bid = xid[c0:c1]
        cut = np.flatnonzero(np.concatenate(([True], bid[1:] != bid[:-1])))
        ub = bid[cut]
        s2[ub] += np.add.reduceat(e * e, cut, axis=1).T
        # Real × complex through a float view: avoids numpy's slow mixed-type loop.
        e.view(np.float64)[...] *= np.repeat(xt[c0:c1], 2)
        sx[ub] += np.add.reduceat(e, cut, axis=1).T
    xstart = np.cumsum(xlen) - xlen
    span = t_s[xstart + xlen - 1] - t_s[xstart] if nb else np.zeros(0)
    return _lomb_from_sums(xlen.astype(np.float64), span, s2, sx)


def default_lomb_freqs_hz(
    step_hz: float = LOMB_FREQ_STEP_HZ, f_max_hz: float = HF_BAND_HZ[1]
) -> FloatArray:
    """The Lomb grid ``k · step_hz`` for k = 1 … ⌊f_max/step⌋ (Hz), read-only.

    Examples
    --------
    >>> f = default_lomb_freqs_hz()
    >>> f.size, float(f[0]), float(f[-1])
    (400, 0.001, 0.4)
    """
    k = np.arange(1, math.floor(f_max_hz / step_hz + 1e-9) + 1, dtype=np.float64)
    f = k * step_hz
    f.flags.writeable = False
    return f


def lomb_psd(t_s: npt.ArrayLike, x_ms: npt.ArrayLike, freqs_hz: npt.ArrayLike) -> FloatArray:
    """Classical Lomb–Scargle periodogram of unevenly sampled data, scaled to ms²/Hz.

    Parameters
    ----------
    t_s : array_like, shape (n_beats,)
        Sample (beat) times in s, strictly increasing.
    x_ms : array_like, shape (n_beats,)
        Values in ms (RR/NN); the mean is removed here.
    freqs_hz : array_like, shape (n_freqs,)
        Frequencies in Hz (not angular), all > 0.

    Returns
    -------
    ndarray of float64, shape (n_freqs,)
        One-sided PSD in ms²/Hz; NaN everywhere for fewer than 2 beats.

    Raises
    ------
    SignalInputError
        Shape mismatch, non-finite values, non-increasing times or frequencies ≤ 0.

    Notes
    -----
    hrv-methods.md §2.3. P(f) is Scargle's (1982) periodogram of the mean-removed values
    with the time offset τ; the one-sided PSD is 2·P(f)/f̄ with f̄ = (N − 1)/(t_N − t_1)
    beats per second, so that ∫PSD df ≈ variance and a sinusoid of amplitude A gives band
    power A²/2. exp(iωt) comes from a complex recurrence on uniform grids, broadcasting
    otherwise; no ``scipy.signal``.

    Examples
    --------
    >>> t = np.cumsum(np.full(300, 0.85))
    >>> x = 850.0 + 40.0 * np.sin(2 * np.pi * 0.1 * t)
    >>> f = default_lomb_freqs_hz()
    >>> p = lomb_psd(t, x, f)
    >>> round(float(f[np.argmax(p)]), 3)
    0.1
    """
    t = as_1d_float(t_s, "t_s")
    x = as_1d_float(x_ms, "x_ms")
    f = as_1d_float(freqs_hz, "freqs_hz", positive=True)
    if t.shape != x.shape:
        raise SignalInputError(f"t_s and x_ms must have equal length, got {t.size} and {x.size}")
    if t.size >= 2 and np.any(np.diff(t) <= 0):
        raise SignalInputError("t_s must be strictly increasing")
    if t.size < 2:
        return np.full(f.size, np.nan)
    return np.asarray(_lomb_blocks(t, x, np.array([t.size]), _freq_plan(f))[0], dtype=np.float64)


class _Sums:
    """Lomb sums of a set of beats: Σe^{iωt}, Σe^{2iωt}, Σ(x − ref)e^{iωt}, Σ(x − ref).

    ``ref`` (NaN until the first beat) is that beat's value: the sums stay small and exact.
    """

    __slots__ = ("ref", "s1", "s2", "sum_x", "sx")

    def __init__(self, n_freqs: int) -> None:
        self.s1 = np.zeros(n_freqs, dtype=np.complex128)
        self.s2 = np.zeros(n_freqs, dtype=np.complex128)
        self.sx = np.zeros(n_freqs, dtype=np.complex128)
        self.sum_x = 0.0
        self.ref = math.nan

    def clear(self) -> None:
        self.s1[:] = 0.0
        self.s2[:] = 0.0
        self.sx[:] = 0.0
        self.sum_x = 0.0
        self.ref = math.nan

    def add(self, e: npt.NDArray[np.complex128], e2: npt.NDArray[np.complex128], x: float) -> None:
        """Add one beat: its exp(iωt) row ``e``, ``e2`` = e², value ``x``."""
        if math.isnan(self.ref):
            self.ref = x
        xr = x - self.ref
        self.s1 += e
        self.s2 += e2
        self.sx += xr * e
        self.sum_x += xr


class IncrementalLomb:
    """Lomb–Scargle PSD over a sliding window of beats, updated in O(n_freqs) per beat.

    Keeps, on a fixed frequency grid, N, Σ(x − x_ref), Σe^{iωt}, Σ(x − x_ref)e^{iωt} and
    Σe^{2iωt}. Since Σ(x − x̄)e^{iωt} = Σ(x − x_ref)e^{iωt} − (x̄ − x_ref)Σe^{iωt}, the
    mean-removed periodogram is exact, not approximate. Beats leaving the window are
    subtracted with the very exponentials they were added with (kept per beat, n_beats ×
    n_freqs complex numbers). So that rounding cannot drift, a second set of sums collects
    the beats from some point on, by additions only; when every older beat has left, it
    replaces the window's sums (every ``capacity`` pushes for a beat window): O(n_freqs) per
    beat, with no beat paying for a rebuild.

    Parameters
    ----------
    freqs_hz : array_like, shape (n_freqs,)
        Frequency grid in Hz, all > 0 (a uniform grid is fastest).
    window_beats : int, optional
        Keep the last ``window_beats`` beats (≥ 2).
    window_s : float, optional
        Keep the beats with t > t_last − ``window_s``. Give exactly one of the two.

    Raises
    ------
    SignalInputError
        Bad grid, both or neither window given, non-positive window.

    Notes
    -----
    hrv-methods.md §2.3 (≈ 40 µs per beat, ≈ 40 µs per PSD). `psd_ms2_per_hz`
    equals `lomb_psd` of `times_s`, `values_ms` to ≈ 1e-12 relative. No detrending beyond
    the mean (live use, §2.4).

    Examples
    --------
    >>> lomb = IncrementalLomb(default_lomb_freqs_hz(), window_beats=120)
    >>> t = 0.0
    >>> for k in range(200):
    ...     x = 850.0 + 40.0 * np.sin(2 * np.pi * 0.1 * t)
    ...     t += x / 1000.0
    ...     lomb.push(t, x)
    >>> lomb.n_beats, round(float(lomb.freqs_hz[np.argmax(lomb.psd_ms2_per_hz())]), 2)
    (120, 0.1)
    """

    def __init__(
        self,
        freqs_hz: npt.ArrayLike,
        *,
        window_beats: int | None = None,
        window_s: float | None = None,
    ) -> None:
        f = as_1d_float(freqs_hz, "freqs_hz", positive=True)
        if f.size == 0:
            raise SignalInputError("freqs_hz must not be empty")
        if (window_beats is None) == (window_s is None):
            raise SignalInputError("give exactly one of window_beats and window_s")
        if window_beats is not None and window_beats < 2:
            raise SignalInputError(f"window_beats must be ≥ 2, got {window_beats!r}")
        if window_s is not None and not (math.isfinite(window_s) and window_s > 0):
            raise SignalInputError(f"window_s must be positive, got {window_s!r}")
        f = f.copy()
        f.flags.writeable = False
        self.freqs_hz: FloatArray = f
        self.window_beats = window_beats
        self.window_s = window_s
        self._window_s = float(window_s) if window_s is not None else math.inf
        self._plan = _freq_plan(f)
        # Capacity: the beat window, or window_s at 300 bpm; grown by doubling if exceeded.
        if window_beats is not None:
            cap = int(window_beats)
        else:
            cap = math.ceil(self._window_s / 0.2) + 2
        self._cap = max(cap, 2)
        self._t = np.zeros(2 * self._cap)
        self._x = np.zeros(2 * self._cap)
        # exp(iωt) of every beat in the buffer, as added to the sums: a leaving beat is
        # subtracted with its own row instead of recomputing it (half the per-beat work).
        self._e = np.zeros((2 * self._cap, f.size), dtype=np.complex128)
        self._head = 0
        self._tail = 0
        nf = f.size
        self._sums = _Sums(nf)  # of the window
        # Fresh sums of the beats added since ``_shadow_start`` (a beat count): once every
        # older beat has left, they are the window's sums, summed without any subtraction.
        # Swapping them in every ``capacity`` pushes keeps rounding from drifting, at a few
        # vector additions per beat instead of a rebuild over the whole buffer (≈ 0.5–6 ms
        # on the shared VM, one beat in 300).
        self._shadow = _Sums(nf)
        self._shadow_start = 0
        self._n_left = 0  # beats that have left the window so far
        self._since_fresh = 0  # pushes since the window's sums were last fresh

    @property
    def n_beats(self) -> int:
        """Beats currently in the window."""
        return self._tail - self._head

    def times_s(self) -> FloatArray:
        """Beat times (s) in the window, oldest first (a copy)."""
        return self._t[self._head : self._tail].copy()

    def values_ms(self) -> FloatArray:
        """Values (ms) in the window, oldest first (a copy)."""
        return self._x[self._head : self._tail].copy()

    def _drop(self, new_head: int) -> None:
        """Remove buffer beats [head, new_head) from the window's sums."""
        sums = self._sums
        x = self._x[self._head : new_head] - sums.ref
        e = self._e[self._head : new_head]
        sums.s1 -= e.sum(axis=0)
        sums.s2 -= np.einsum("ij,ij->j", e, e)
        sums.sx -= x.astype(np.complex128) @ e  # zgemv, no mixed-type loop
        sums.sum_x -= float(np.sum(x))
        self._n_left += new_head - self._head
        self._head = new_head

    def _rebuild(self) -> None:
        """Sum the window afresh (only when the shadow sums never caught up, see `push`)."""
        sums = self._sums
        sums.clear()
        if self._tail > self._head:
            x = self._x[self._head : self._tail]
            e = self._e[self._head : self._tail]
            sums.ref = float(x[-1])
            sums.s1 += e.sum(axis=0)
            sums.s2 += np.einsum("ij,ij->j", e, e)
            sums.sx += (x - sums.ref).astype(np.complex128) @ e
            sums.sum_x = float(np.sum(x - sums.ref))
        self._restart_shadow()
        self._since_fresh = 0

    def _restart_shadow(self) -> None:
        self._shadow.clear()
        self._shadow_start = self._n_left + self.n_beats

    def push(self, t_s: float, x_ms: float) -> None:
        """Add one beat (time in s, value in ms) and drop the beats that leave the window.

        Raises
        ------
        SignalInputError
            Non-finite values or a time not after the previous beat.
        """
        t_new = float(t_s)
        x_new = float(x_ms)
        if not (math.isfinite(t_new) and math.isfinite(x_new)):
            raise SignalInputError("t_s and x_ms must be finite")
        if self._tail > self._head and t_new <= self._t[self._tail - 1]:
            raise SignalInputError("t_s must increase from beat to beat")
        # Drop: the oldest beat (beat window) or all beats at/before t_new − window_s.
        if self.window_beats is not None:
            new_head = max(self._head, self._tail + 1 - self.window_beats)
        else:
            cut = t_new - self._window_s
            new_head = self._head + int(
                np.searchsorted(self._t[self._head : self._tail], cut, side="right")
            )
        if self._tail == self._t.size:  # one push in ``capacity``: drop, then move the rows
            if new_head > self._head:
                self._drop(new_head)
            self._compact()
            new_head = self._head
        swap = new_head == self._head + 1 and self._tail > new_head
        if new_head > self._head and not swap:
            self._drop(new_head)
        if self._head == self._tail:  # empty window: restart the sums exactly at zero
            self._sums.clear()
            self._restart_shadow()
        k = self._tail
        self._t[k] = t_new
        self._x[k] = x_new
        e_new = self._e[k]
        _exp_iwt_into(t_new, self._plan, e_new)
        e2_new = e_new * e_new
        sums = self._sums
        if swap:
            # The usual step of a full beat window: one beat out, one in, in one pass.
            e_old = self._e[self._head]
            if math.isnan(sums.ref):
                sums.ref = x_new
            x_old = float(self._x[self._head]) - sums.ref
            x_in = x_new - sums.ref
            sums.s1 += e_new - e_old
            sums.s2 += e2_new - e_old * e_old
            sums.sx += x_in * e_new - x_old * e_old
            sums.sum_x += x_in - x_old
            self._n_left += 1
            self._head = new_head
        else:
            sums.add(e_new, e2_new, x_new)
        self._shadow.add(e_new, e2_new, x_new)
        self._tail += 1
        self._since_fresh += 1
        if self._n_left == self._shadow_start:  # the shadow holds exactly the window
            self._sums, self._shadow = self._shadow, self._sums
            self._restart_shadow()
            self._since_fresh = 0
        elif self._n_left > self._shadow_start:  # a time window dropped past its start
            self._restart_shadow()
        if self._since_fresh >= 4 * self._cap:  # time windows that keep dropping past it
            self._rebuild()

    def _compact(self) -> None:
        n = self._tail - self._head
        if n >= self._cap:  # window_s window holds more beats than planned: grow
            self._cap = 2 * n
            t = np.zeros(2 * self._cap)
            x = np.zeros(2 * self._cap)
            e = np.zeros((2 * self._cap, self.freqs_hz.size), dtype=np.complex128)
        else:
            t, x, e = self._t, self._x, self._e
        t[:n] = self._t[self._head : self._tail]
        x[:n] = self._x[self._head : self._tail]
        e[:n] = self._e[self._head : self._tail]
        self._t, self._x, self._e = t, x, e
        self._head, self._tail = 0, n

    def psd_ms2_per_hz(self) -> FloatArray:
        """One-sided Lomb PSD (ms²/Hz) of the current window; NaN with fewer than 2 beats."""
        n = self.n_beats
        span = float(self._t[self._tail - 1] - self._t[self._head]) if n else 0.0
        if n < 2 or not span > 0:
            return np.full(self.freqs_hz.size, np.nan)
        sums = self._sums
        dmean = sums.sum_x / n
        sx = sums.sx - dmean * sums.s1
        return _lomb_from_sums_1d(float(n), span, sums.s2, sx)
