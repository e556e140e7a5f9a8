"""Figures the benchmarks share (importable before Django is set up)."""


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of `values`; `fraction` from 0 (the least) to 1 (the most)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]
