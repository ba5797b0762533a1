"""Live breathing from chest ACC: the causal decimation, the numpy-only estimate, and their
agreement with the offline `breathing_from_acc` (issue 7)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import signal as sps

from pet_biofeedback.errors import SignalInputError
from pet_biofeedback.signal import respiration_live as rl
from pet_biofeedback.signal._typing import FloatArray
from pet_biofeedback.signal.respiration import breathing_from_acc
from pet_biofeedback.signal.respiration_live import AccBreathingWindow, live_breathing_rate
from tests.unit.signal.test_respiration import synthetic_acc


def stream(
    window: AccBreathingWindow, t_s: FloatArray, acc_mg: FloatArray, frame: int = 36
) -> None:
    """Push ``t_s``/``acc_mg`` in frames of ``frame`` samples, as a strap sends them."""
    for start in range(0, t_s.size, frame):
        window.push(t_s[start : start + frame], acc_mg[start : start + frame])


class TestFilters:
    def test_band_pass_gain_is_scipys_zero_phase_response(self) -> None:
        nfft = 1024
        sos = sps.butter(2, (0.05, 0.7), btype="bandpass", fs=4.0, output="sos")
        freqs_hz = np.fft.rfftfreq(nfft, d=0.25)
        _, h = sps.sosfreqz(sos, worN=freqs_hz, fs=4.0)
        assert_allclose(rl._bandpass_gain(nfft, 4.0), np.abs(h) ** 2, atol=1e-12)

    def test_band_pass_matches_sosfiltfilt_away_from_the_edges(self) -> None:
        # The FFT filter continues the signal by its end values; scipy's forward-backward
        # filter starts from steady states. They differ only near the ends (module notes).
        rng = np.random.default_rng(3)
        t_s = np.arange(241) / 4.0
        x = np.sin(2 * np.pi * 0.1 * t_s) + 0.3 * rng.normal(size=t_s.size) + 0.01 * t_s
        sos = sps.butter(2, (0.05, 0.7), btype="bandpass", fs=4.0, output="sos")
        ours, scipys = rl._bandpassed(x), sps.sosfiltfilt(sos, x)
        middle = slice(60, -60)
        assert np.max(np.abs(ours - scipys)[middle]) < 0.05 * np.max(np.abs(scipys))
        assert np.corrcoef(ours, scipys)[0, 1] > 0.99

    @pytest.mark.parametrize("fs_hz", [25.0, 26.0, 10.0, 5.0])
    def test_lowpass_passes_breathing_and_stops_what_would_alias(self, fs_hz: float) -> None:
        taps = rl._lowpass_taps(fs_hz)
        assert taps.size % 2 == 1
        assert_allclose(taps, taps[::-1])  # linear phase: the centre tap is the delay
        assert_allclose(taps.sum(), 1.0)

        def gain(f_hz: FloatArray) -> FloatArray:
            k = np.arange(taps.size)
            response: FloatArray = np.abs(np.exp(-2j * np.pi * np.outer(f_hz, k) / fs_hz) @ taps)
            return response

        assert np.all(gain(np.linspace(0.0, 0.7, 50)) > 0.91)
        assert_allclose(gain(np.array([1.0])), 0.5, atol=0.01)
        assert np.max(gain(np.linspace(1.5, fs_hz / 2, 500))) < 10 ** (-44 / 20)


class TestPeakSearch:
    def test_zoomed_search_finds_the_full_fft_argmax(self) -> None:
        rng = np.random.default_rng(11)
        for _ in range(200):
            n = int(rng.integers(81, 242))
            t_s = np.arange(n) / 4.0
            f_hz = rng.uniform(0.05, 0.7)
            wave = np.sin(2 * np.pi * f_hz * t_s + rng.uniform(0, 6)) + 0.3 * rng.normal(size=n)
            wave *= np.hanning(n)
            nfft = max(8192, 1 << math.ceil(math.log2(8 * n)))
            band = rl._band_bins(nfft, 4.0)
            power = np.abs(np.fft.rfft(wave, n=nfft)[band]) ** 2
            assert rl._peak_bin(wave, nfft) == band.start + int(np.argmax(power))

    def test_precomputed_maps_are_the_band_pass_window_and_periodogram(self) -> None:
        rng = np.random.default_rng(12)
        for n in (81, 160, 240, 241):
            x = np.sin(2 * np.pi * 0.11 * np.arange(n) / 4.0) + rng.normal(size=n)
            plan = rl._spectral_plan(n)
            wave = rl._bandpassed(x)
            wave = (wave - wave.mean()) * np.hanning(n)
            assert_allclose(plan.to_wave @ x, wave, atol=1e-12 * np.max(np.abs(wave)))
            coarse = np.fft.rfft(wave, n=plan.nfft // rl.ZOOM_FACTOR)
            k = plan.to_coarse.shape[0] // 2
            ours = plan.to_coarse @ x
            first = plan.first_coarse
            assert_allclose(ours[:k], coarse.real[first : first + k], atol=1e-9)
            assert_allclose(ours[k:], -coarse.imag[first : first + k], atol=1e-9)

    def test_no_power_in_the_band_gives_no_peak(self) -> None:
        assert rl._peak_bin(np.zeros(200), 8192) == -1


class TestLiveBreathingRate:
    @pytest.mark.parametrize("rate_breaths_per_min", [4.5, 6.0, 10.0, 15.0, 30.0])
    def test_agrees_with_the_offline_estimate(self, rate_breaths_per_min: float) -> None:
        # The same low-passed samples: ours on ~5 Hz kept samples, the offline estimator on
        # the raw 200-Hz window.
        fs_hz = 200.0
        t_s, acc = synthetic_acc(fs_hz, rate_breaths_per_min / 60.0, duration_s=90.0, seed=4)
        window = AccBreathingWindow(fs_hz)
        stream(window, t_s + 50.0, acc)
        live = window.rate()
        kept_t, _ = window.contents()
        raw = (t_s + 50.0 >= kept_t[0]) & (t_s + 50.0 <= kept_t[-1])
        offline = breathing_from_acc(acc[raw], fs_hz, t_s=t_s[raw] + 50.0)
        assert live.rate_breaths_per_min == pytest.approx(rate_breaths_per_min, abs=0.1)
        assert live.rate_breaths_per_min == pytest.approx(offline.rate_breaths_per_min, abs=0.06)
        assert live.explained_variance == pytest.approx(offline.explained_variance, abs=0.01)
        assert live.t_end_s == kept_t[-1]
        assert live.n_samples == kept_t.size

    def test_timestamps_beat_nominal_rate(self) -> None:
        # A "200 Hz" strap really at 204.3 Hz (reference-data.md §6): the times decide.
        t_s, acc = synthetic_acc(204.3, 5.8 / 60.0)
        window = AccBreathingWindow(200.0)
        stream(window, t_s, acc)
        assert window.rate().rate_breaths_per_min == pytest.approx(5.8, abs=0.1)

    def test_short_or_flat_windows_give_nan(self) -> None:
        t_s = np.arange(0.0, 19.0, 0.2)
        short = live_breathing_rate(np.ones((t_s.size, 3)), t_s)
        assert math.isnan(short.rate_breaths_per_min)
        assert math.isnan(short.explained_variance)
        assert short.n_samples == t_s.size
        t_s = np.arange(0.0, 40.0, 0.2)
        flat = live_breathing_rate(np.full((t_s.size, 3), 1000.0), t_s)
        assert math.isnan(flat.rate_breaths_per_min)
        empty = live_breathing_rate(np.empty((0, 3)), np.empty(0))
        assert empty.n_samples == 0
        assert math.isnan(empty.t_start_s)

    @pytest.mark.parametrize(
        ("acc_mg", "t_s", "message"),
        [
            (np.ones((10, 2)), np.arange(10.0), "shape"),
            (np.full((10, 3), np.nan), np.arange(10.0), "finite"),
            (np.ones((10, 3)), np.arange(9.0), "one time per"),
            (np.ones((3, 3)), np.array([0.0, 2.0, 1.0]), "increasing"),
        ],
    )
    def test_bad_input_raises(self, acc_mg: FloatArray, t_s: FloatArray, message: str) -> None:
        with pytest.raises(SignalInputError, match=message):
            live_breathing_rate(acc_mg, t_s)


class TestAccBreathingWindow:
    def test_kept_samples_do_not_depend_on_how_the_stream_is_cut(self) -> None:
        t_s, acc = synthetic_acc(200.0, 0.1, duration_s=80.0)
        whole = AccBreathingWindow(200.0)
        whole.push(t_s, acc)
        rng = np.random.default_rng(5)
        cuts = np.sort(rng.choice(np.arange(1, t_s.size), size=400, replace=False))
        pieces = AccBreathingWindow(200.0)
        for t_piece, acc_piece in zip(np.split(t_s, cuts), np.split(acc, cuts), strict=True):
            pieces.push(t_piece, acc_piece)
        for a, b in zip(whole.contents(), pieces.contents(), strict=True):
            assert_allclose(a, b, rtol=0, atol=1e-9)

    def test_window_keeps_the_last_minute_at_the_kept_rate_stamped_at_the_centre_tap(
        self,
    ) -> None:
        fs_hz = 200.0
        window = AccBreathingWindow(fs_hz)
        assert window.kept_fs_hz == 5.0
        t_s = np.arange(int(100 * fs_hz)) / fs_hz
        acc = np.column_stack([t_s, 2 * t_s, np.full(t_s.size, 1000.0)])  # a ramp: FIR-exact
        stream(window, t_s, acc)
        kept_t, kept_mg = window.contents()
        assert kept_t.size == 300
        assert_allclose(np.diff(kept_t), 0.2)
        # Blocks of 8 at 200 Hz end 8 samples apart; the last output's centre is 41 blocks
        # (half of 83 taps) before the last full block: 1.64 s + a block.
        assert kept_t[-1] == pytest.approx(t_s[-1] - 41 * 8 / fs_hz - 3.5 / fs_hz, abs=0.2)
        # A linear-phase FIR with unit gain passes a ramp unchanged at its centre.
        assert_allclose(kept_mg[:, 0], kept_t, atol=1e-9)
        assert_allclose(kept_mg[:, 1], 2 * kept_t, atol=1e-9)
        assert window.span_s == pytest.approx(59.8)

    def test_first_samples_start_without_a_transient(self) -> None:
        window = AccBreathingWindow(100.0)
        t_s = np.arange(1000) / 100.0
        window.push(t_s, np.tile([10.0, -20.0, 1000.0], (t_s.size, 1)))
        kept_t, kept_mg = window.contents()
        assert kept_t[0] == pytest.approx(t_s[:4].mean())  # the first block, the first output
        assert_allclose(kept_mg, np.tile([10.0, -20.0, 1000.0], (kept_t.size, 1)))

    def test_a_bad_sample_costs_seconds_not_the_window(self) -> None:
        t_s, acc = synthetic_acc(200.0, 0.1, duration_s=90.0)
        acc[12_000] = np.nan  # at 60 s
        window = AccBreathingWindow(200.0)
        stream(window, t_s, acc)
        _, kept_mg = window.contents()
        n_bad = int(np.sum(~np.isfinite(kept_mg).all(axis=1)))
        assert 0 < n_bad <= 20  # 83 taps of 25 Hz, every 5th kept: ≤ 17
        assert window.rate().rate_breaths_per_min == pytest.approx(6.0, abs=0.1)

    def test_times_that_step_back_are_left_out(self) -> None:
        t_s, acc = synthetic_acc(200.0, 0.1, duration_s=90.0)
        t_s = t_s.copy()
        t_s[9000:] -= 0.5  # the stream's clock stepped back half a second
        window = AccBreathingWindow(200.0)
        stream(window, t_s, acc)
        assert window.rate().rate_breaths_per_min == pytest.approx(6.0, abs=0.15)

    @pytest.mark.parametrize("fs_hz", [25.0, 50.0, 52.0, 100.0, 130.0])
    def test_every_strap_rate(self, fs_hz: float) -> None:
        t_s, acc = synthetic_acc(fs_hz, 7.0 / 60.0)
        window = AccBreathingWindow(fs_hz)
        stream(window, t_s, acc)
        assert 4.0 <= window.kept_fs_hz <= 6.5
        assert window.rate().rate_breaths_per_min == pytest.approx(7.0, abs=0.1)

    def test_empty_window(self) -> None:
        window = AccBreathingWindow(200.0)
        assert window.span_s == 0.0
        window.push(np.empty(0), np.empty((0, 3)))
        assert window.contents()[0].size == 0
        assert math.isnan(window.rate().rate_breaths_per_min)

    @pytest.mark.parametrize(("fs_hz", "window_s"), [(4.0, 60.0), (math.nan, 60.0), (200.0, 10.0)])
    def test_bad_settings_raise(self, fs_hz: float, window_s: float) -> None:
        with pytest.raises(SignalInputError):
            AccBreathingWindow(fs_hz, window_s=window_s)

    def test_push_checks_shapes(self) -> None:
        with pytest.raises(SignalInputError, match="push needs"):
            AccBreathingWindow(200.0).push(np.arange(3.0), np.ones((4, 3)))


def test_does_not_import_scipy_signal() -> None:
    code = (
        "import sys, pet_biofeedback.signal.respiration_live; "
        "sys.exit(3 if 'scipy.signal' in sys.modules else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
