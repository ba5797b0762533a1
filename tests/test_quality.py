"""Static checks that are part of the test command: lint, types, layer rules (design.md §2)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def _tool(name: str) -> str:
    exe = Path(sys.executable).with_name(name)
    found = str(exe) if exe.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; install the test extra: pip install -e '.[test]'")
    return found


def test_ruff_lint_is_clean() -> None:
    result = _run(_tool("ruff"), "check", "pet_biofeedback", "tests", "benchmarks", "recordings")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    """One run over the package, tests, benchmarks and recordings/ (pyproject's ``files``)."""
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_docstring_examples_hold() -> None:
    """The Examples of the core's docstrings run (two had printed wrong numbers for weeks).

    The GUI and the Bumble-backed modules are left out: their examples would need a display
    or the optional extra, and they have none.
    """
    packages = ["signal", "session", "recording", "firmware_bridge"]
    paths = [str(ROOT / "pet_biofeedback" / name) for name in packages]
    result = _run(
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--doctest-modules",
        "--ignore-glob=*emulated*",
        "--ignore-glob=*_bumble*",
        *paths,
        str(ROOT / "pet_biofeedback" / "events.py"),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_import_layers_hold() -> None:
    result = _run(_tool("lint-imports"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_signal_core_imports_only_numpy_scipy_and_errors() -> None:
    """The import-linter contracts cover our own packages; this covers third-party ones."""
    code = (
        "import sys, importlib\n"
        "for m in ('artifacts','timedomain','spectral','nonlinear','rsa','ecg','respiration',"
        "'live','batch','resonance'):\n"
        "    importlib.import_module('pet_biofeedback.signal.' + m)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('pandas','matplotlib','neurokit2','PySide6','pyqtgraph','bleak','qasync','bumble')]\n"
        "print(','.join(bad))\n"
    )
    result = _run(sys.executable, "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


# The modules allowed to import bleak and bumble, exactly as the import-linter contracts of
# pyproject.toml list them (design.md §2, style.md §2.1).
BLEAK_MODULES: frozenset[str] = frozenset(
    {
        "firmware_bridge/ble.py",
        "firmware_bridge/ble_device_info.py",
        "firmware_bridge/ble_messages.py",
        "firmware_bridge/ble_pmd.py",
        "firmware_bridge/ble_scan.py",
        "firmware_bridge/_bumble_backend.py",
    }
)
BUMBLE_MODULES: frozenset[str] = frozenset(
    {
        "firmware_bridge/emulated_h10.py",
        "firmware_bridge/emulated_straps.py",
        "firmware_bridge/emulated_world.py",
        "firmware_bridge/_bumble_backend.py",
    }
)


def test_third_party_device_and_gui_libraries_stay_in_their_modules() -> None:
    """bleak only in the BLE modules (and the Bumble backend), bumble only in the emulated
    straps, Qt only under gui/ (design.md §2, style.md §2.1)."""
    import re

    allowed = {
        "bleak": tuple(BLEAK_MODULES),
        "bumble": tuple(BUMBLE_MODULES),
        "PySide6": ("gui/",),
        "pyqtgraph": ("gui/",),
        "qasync": ("gui/",),
    }
    pattern = re.compile(r"^\s*(?:from|import)\s+(bleak|bumble|PySide6|pyqtgraph|qasync)\b", re.M)
    offenders = []
    for path in (ROOT / "pet_biofeedback").rglob("*.py"):
        rel = path.relative_to(ROOT / "pet_biofeedback").as_posix()
        for lib in set(pattern.findall(path.read_text(encoding="utf-8"))):
            if not any(rel.startswith(a) for a in allowed[lib]):
                offenders.append(f"{rel} imports {lib}")
    assert offenders == []


def test_the_bleak_and_bumble_lists_match_the_import_contracts() -> None:
    """The lists above and the import-linter contracts name the same modules."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]

    def ignored(library: str) -> set[str]:
        (contract,) = [c for c in contracts if c.get("forbidden_modules") == [library]]
        modules = {line.split(" -> ")[0] for line in contract["ignore_imports"]}
        return {m.removeprefix("pet_biofeedback.").replace(".", "/") + ".py" for m in modules}

    assert ignored("bleak") == BLEAK_MODULES
    assert ignored("bumble") == BUMBLE_MODULES


# Issue 9 ("A house others can pick up"): one idea per file, no product module over 1,000 lines.
MAX_MODULE_LINES = 1000


def test_no_module_is_over_a_thousand_lines() -> None:
    too_long = {}
    for path in sorted((ROOT / "pet_biofeedback").rglob("*.py")):
        rel = path.relative_to(ROOT / "pet_biofeedback").as_posix()
        n_lines = len(path.read_text(encoding="utf-8").splitlines())
        if n_lines > MAX_MODULE_LINES:
            too_long[rel] = n_lines
    assert too_long == {}


# --- Citations of the project's own documents ------------------------------------------------
#
# Code, tests and benchmarks cite the documents in docs/ as ``NAME.md §N.M`` (or
# ``docs/NAME.md §N.M``), lists like ``§4.9, §4.10`` and ranges like ``§4.3–§4.4`` / ``§1-§6``.
# Every named document must exist in the repository and every cited section must be a numbered
# heading (``## 4. …`` / ``### 4.9 …``) of it. Sections cited without a document name (a bare
# ``§2.3`` under a module docstring that names the document) are not checked here.

_CITING_ROOTS: tuple[str, ...] = ("pet_biofeedback", "tests", "benchmarks", "recordings")
_CITING_FILES: tuple[str, ...] = ("pyproject.toml", "README.md")
_CITING_SUFFIXES: frozenset[str] = frozenset({".py", ".md", ".toml", ".txt"})
# Documents of the Polar BLE SDK (polarofficial/polar-ble-sdk, folder documentation/) that the
# device code cites as its sources; they are upstream files, not ours.
_UPSTREAM_DOCS: frozenset[str] = frozenset(
    {"PPIData.md", "KnownIssues.md", "TimeSystemExplained.md", "products/PolarH10.md"}
)
_DOC_RE = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.md)\b")
_SECTION_RE = r"(\d+(?:\.\d+)*)"
_FIRST_SECTION_RE = re.compile(r"\s*§§?\s?" + _SECTION_RE)
# A further section of the same citation: ", §4.10", " and §5", "–§4.4", "-4.4".
_MORE_SECTION_RE = re.compile(r"\s*(?:(?:,|and|or)\s*§|[–-]\s*§?)\s?" + _SECTION_RE)
_HEADING_RE = re.compile(r"^#{1,6}\s+" + _SECTION_RE + r"\.?\s", re.M)


def _citations(text: str) -> list[tuple[int, str, tuple[str, ...]]]:
    """``(line number, document, cited sections)`` for every document named in `text`."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in _DOC_RE.finditer(line):
            sections: list[str] = []
            first = _FIRST_SECTION_RE.match(line, match.end())
            if first is not None:
                sections.append(first.group(1))
                pos = first.end()
                while (more := _MORE_SECTION_RE.match(line, pos)) is not None:
                    sections.append(more.group(1))
                    pos = more.end()
            found.append((number, match.group(1), tuple(sections)))
    return found


def _resolve_doc(name: str) -> Path | None:
    """The repository file a cited document name means, or None when there is none."""
    name = name.removeprefix("./").removeprefix("docs/")
    for candidate in (ROOT / "docs" / name, ROOT / name):
        if candidate.is_file():
            return candidate
    return None


def _bad_citations(sources: list[tuple[str, str]]) -> list[str]:
    """Every citation in ``(file name, text)`` pairs whose document or section is missing."""
    headings: dict[Path, set[str]] = {}
    bad = []
    for rel, text in sources:
        for number, name, sections in _citations(text):
            if name in _UPSTREAM_DOCS:
                continue
            doc = _resolve_doc(name)
            if doc is None:
                bad.append(f"{rel}:{number}: {name} is not in docs/ or the repository")
                continue
            if doc not in headings:
                headings[doc] = set(_HEADING_RE.findall(doc.read_text(encoding="utf-8")))
            bad.extend(
                f"{rel}:{number}: {name} has no section {section}"
                for section in sections
                if section not in headings[doc]
            )
    return bad


def _citing_sources() -> list[tuple[str, str]]:
    files = [ROOT / name for name in _CITING_FILES if (ROOT / name).is_file()]
    for root in _CITING_ROOTS:
        files.extend(
            p
            for p in sorted((ROOT / root).rglob("*"))
            if p.is_file() and p.suffix in _CITING_SUFFIXES and ".venv" not in p.parts
        )
    this_file = Path(__file__).resolve()  # its examples of bad citations are deliberate
    return [
        (p.relative_to(ROOT).as_posix(), p.read_text(encoding="utf-8", errors="replace"))
        for p in files
        if p.resolve() != this_file
    ]


def test_citation_parser_reads_lists_and_ranges() -> None:
    line = "x (hrv-methods.md §5.1 step 4; ble-protocol.md §4.3–4.4, §4.9 and §4.10; design.md)"
    assert _citations(line) == [
        (1, "hrv-methods.md", ("5.1",)),
        (1, "ble-protocol.md", ("4.3", "4.4", "4.9", "4.10")),
        (1, "design.md", ()),
    ]
    assert _citations("docs/style.md §2.8, reference-data.md §1-§6.") == [
        (1, "docs/style.md", ("2.8",)),
        (1, "reference-data.md", ("1", "6")),
    ]


def test_citation_check_reports_missing_documents_and_sections() -> None:
    missing = "nowhere" + ".md"  # spelt apart: tools that scan for citations skip it
    text = f"ok: hrv-methods.md §5.1\nsee {missing} §1 and docs/hrv-methods.md §99.9\n"
    assert _bad_citations([("a.py", text)]) == [
        f"a.py:2: {missing} is not in docs/ or the repository",
        "a.py:2: docs/hrv-methods.md has no section 99.9",
    ]


def test_every_cited_document_and_section_exists() -> None:
    """Issue 9: every ``NAME.md §N`` in code, tests and benchmarks names a file in docs/ (or
    the repository's README files) and a numbered heading in it."""
    bad = _bad_citations(_citing_sources())
    assert bad == [], "citations of documents or sections that do not exist:\n" + "\n".join(bad)
