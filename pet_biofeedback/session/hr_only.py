"""The plain words for a recording that holds heart rate only (an optical sensor's).

`analyze` refuses such a file, `replay` and `session` still show its heart rate: all three
say the same thing about why no HRV comes out of it (issue #9).
"""

from __future__ import annotations

__all__ = ["heart_rate_only_text"]


def heart_rate_only_text(mean_hr_bpm: float, n_readings: int) -> str:
    """Why a recording with heart-rate readings but no intervals and no ECG gives no HRV.

    Parameters
    ----------
    mean_hr_bpm : float
        Mean of the strap's non-zero heart-rate readings, beats/min.
    n_readings : int
        How many such readings the recording holds.

    Returns
    -------
    str
        A clause to follow "holds" (``"heart rate only (mean 58 bpm over 60 readings) and
        …"``): what the file holds, why HRV needs more, and what to record with instead.
    """
    return (
        f"heart rate only (mean {mean_hr_bpm:.0f} bpm over {n_readings} readings) and no RR "
        "intervals or ECG: this sensor reports heart rate only, not beat-to-beat intervals, "
        "and HRV needs the time between beats; record with a chest strap that reports RR "
        "intervals (e.g. a Polar H10)"
    )
