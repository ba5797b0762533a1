"""The recording's bulk paths for ECG/ACC frames (issue 7, replay speed) spell and read lines
exactly as the general, per-number paths do.

The writer formats frames of integral samples with one %-format, and the reader checks sample
lists with C-level passes; both must agree byte for byte (writer) and value for value, error
for error (reader) with the general code they shortcut.
"""

from __future__ import annotations

import json
import math
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pet_biofeedback.events import AccFrame, EcgFrame
from pet_biofeedback.recording import _events_json
from pet_biofeedback.recording._events_json import BadLine, Fields, decode_event, event_line
from pet_biofeedback.recording._gzip_members import MemberBuilder


def _general_line(event: EcgFrame | AccFrame) -> bytes:
    """`event_line` with the bulk path switched off (the per-number reference)."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(_events_json, "_frame_line", lambda _event: None)
        return event_line(event)


def _outcome(make_line: object) -> bytes | str:
    try:
        return make_line()  # type: ignore[operator, no-any-return]
    except ValueError as exc:
        return f"ValueError: {exc}"


# Samples as a strap sends them (integral floats), and everything the bulk path must hand back
# to the general one: fractions, -0.0, ints, bools, NaN, infinities, values beyond ±1e9.
_SAMPLES = st.one_of(
    st.integers(-40_000, 40_000).map(float),
    st.sampled_from([-0.0, 0.5, -1.25, 1e9, -1e9, 1e9 + 1, 2.0**53, math.nan, math.inf]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-1000, 1000),
    st.booleans(),
)
_T = st.one_of(st.floats(0, 1e5), st.sampled_from([0.0, 1e9, 2e9, math.nan]), st.integers(0, 9))
_FS = st.one_of(st.sampled_from([130.0, 200.0, 0.5, 20_000.0, math.inf]), st.just(130))


class TestWriterBulkPath:
    @settings(max_examples=300, deadline=None)
    @given(t=_T, fs=_FS, samples=st.lists(_SAMPLES, max_size=12))
    def test_ecg_line_equals_the_general_path(
        self, t: float, fs: float, samples: list[float]
    ) -> None:
        event = EcgFrame(t, fs, tuple(samples))
        assert _outcome(lambda: event_line(event)) == _outcome(lambda: _general_line(event))

    @settings(max_examples=300, deadline=None)
    @given(t=_T, fs=_FS, samples=st.lists(st.tuples(_SAMPLES, _SAMPLES, _SAMPLES), max_size=8))
    def test_acc_line_equals_the_general_path(
        self,
        t: float,
        fs: float,
        samples: list[tuple[float, float, float]],
    ) -> None:
        event = AccFrame(t, fs, tuple(samples))
        assert _outcome(lambda: event_line(event)) == _outcome(lambda: _general_line(event))

    def test_h10_frames_take_the_bulk_path_and_read_back_equal(self) -> None:
        ecg = EcgFrame(12.345, 130.0, (-52.0, -0.0, 1234.0, -1e9))
        acc = AccFrame(12.4, 200.0, ((426.0, -449.0, 782.0), (0.0, 1e9, -3.0)))
        for event in (ecg, acc):
            line = _events_json._frame_line(event)
            assert line is not None
            fields = Fields(json.loads(line), line_number=2)
            assert decode_event(fields) == event
        assert _events_json._frame_line(ecg) == b'{"t":12.345,"type":"ecg","fs":130.0,' + (
            b'"uv":[-52,0,1234,-1000000000]}\n'
        )

    def test_frames_of_many_lengths_keep_the_format_cache_bounded(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(_events_json, "_FRAME_FORMATS", {})
        for n in range(1, 3000, 7):  # a crafted source: a new frame length every frame
            ecg = EcgFrame(1.0, 130.0, (5.0,) * n)
            acc = AccFrame(1.0, 200.0, ((1.0, 2.0, 3.0),) * n)
            assert event_line(ecg) == _general_line(ecg)
            assert event_line(acc) == _general_line(acc)
        assert len(_events_json._FRAME_FORMATS) <= 64

    def test_acc_triples_of_another_length_get_the_general_error(self) -> None:
        event = AccFrame(1.0, 200.0, ((1.0, 2.0),))  # type: ignore[arg-type]  # on purpose
        with pytest.raises(ValueError, match="values to unpack"):
            event_line(event)


class TestReaderBulkChecks:
    @pytest.mark.parametrize(
        "mg",
        [
            [[1, 2]],
            [[1, 2, 3, 4]],
            [[1, 2, 3], [1, 2]],
            [[1, 2, True]],
            [[1, 2, "3"]],
            [[1, 2, None]],
            [[1, 2, [3]]],
            [(1, 2, 3)],  # a tuple is not a JSON list
            [[1, 2, 1e10]],
            [[1, 2, 10**400]],
            "123",
            [1, 2, 3],
        ],
    )
    def test_bad_acc_samples_are_bad_lines(self, mg: object) -> None:
        fields = Fields({"t": 1.0, "type": "acc", "fs": 200.0, "mg": mg}, line_number=5)
        with pytest.raises(BadLine, match="'mg' must be a list of"):
            decode_event(fields)

    @pytest.mark.parametrize("uv", [[1, True], [1, "2"], [1e10], [None], [[1]], {"a": 1}])
    def test_bad_ecg_samples_are_bad_lines(self, uv: object) -> None:
        fields = Fields({"t": 1.0, "type": "ecg", "fs": 130.0, "uv": uv}, line_number=5)
        with pytest.raises(BadLine, match="'uv' must be a list of"):
            decode_event(fields)

    def test_good_samples_read_as_float_tuples(self) -> None:
        acc = Fields(
            {"t": 1, "type": "acc", "fs": 200, "mg": [[1, -2.5, 3], [0, 1e9, -1e9]]},
            line_number=2,
        )
        assert decode_event(acc) == AccFrame(1.0, 200.0, ((1.0, -2.5, 3.0), (0.0, 1e9, -1e9)))
        empty = Fields({"t": 1, "type": "acc", "fs": 200, "mg": []}, line_number=3)
        assert decode_event(empty) == AccFrame(1.0, 200.0, ())


class TestMemberBuilder:
    def test_a_member_inflates_to_the_lines_added_and_checks_out(self) -> None:
        builder = MemberBuilder()
        lines = [f'{{"t":{k},"type":"hr","bpm":60}}\n'.encode() for k in range(3000)]
        for line in lines:
            builder.add(line)
        assert builder.n_bytes_in == sum(map(len, lines))
        member = builder.take()
        decompressor = zlib.decompressobj(wbits=31)  # gzip: CRC-32 and length are checked
        assert decompressor.decompress(member) == b"".join(lines)
        assert decompressor.eof and not decompressor.unused_data
        assert builder.take() == b"" and builder.n_bytes_in == 0
