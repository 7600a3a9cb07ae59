"""Figures the weekly reports compute (groundwork of issue 7), in one place so that the page, the CSV and
the JSON say the same.

- Percentiles use the nearest-rank method: the value at rank ceil(p x n) of the sorted values. It always
  answers a duration that was observed (no interpolated "median of 3 h and 5 h is 4 h"), and the median
  of an even count is the lower middle value.
- SLA compliance is met / (met + breached) in percent, rounded to one decimal (DESIGN.md); cancelled and
  running clocks are not counted. With nothing decided it is None ("no data"), never 100 % or 0 %.
"""
import math


def percentile(values, fraction):
    """The nearest-rank percentile (`fraction` in (0, 1]) of `values`, or None when there are none."""
    if not 0 < fraction <= 1:
        raise ValueError("fraction must be in (0, 1]")
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1]


def median(values):
    return percentile(values, 0.5)


def compliance(met, breached):
    """Percent of decided clocks that met their deadline, or None when none was decided."""
    decided = met + breached
    if decided == 0:
        return None
    return round(100 * met / decided, 1)
