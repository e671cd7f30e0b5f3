"""``make load``'s report: which emulator operation slows down, and whether it works more or
waits more (from the emulator's counters sampled during the run)."""

from __future__ import annotations

from chalicelib.local.load import Sample, emulator_growth


def _sample(at: float, query: tuple[int, float, float], put: tuple[int, float, float]) -> Sample:
    return Sample(
        at,
        requests=int(at * 10),
        rss=None,
        emulator={"DynamoDB_20120810.Query": query, "DynamoDB_20120810.PutItem": put},
    )


def test_the_report_compares_each_operations_time_and_cpu_in_the_first_and_last_interval() -> None:
    samples = [
        _sample(0, (0, 0.0, 0.0), (0, 0.0, 0.0)),
        _sample(30, (100, 0.2, 0.15), (50, 0.05, 0.05)),  # Query 2 ms (1.5 CPU), Put 1 ms
        _sample(60, (200, 0.5, 0.40), (100, 0.10, 0.10)),
        _sample(90, (300, 1.0, 0.60), (150, 0.15, 0.15)),  # Query 5 ms, of it 2 ms CPU
    ]

    growth = emulator_growth(samples)

    assert list(growth) == ["DynamoDB_20120810.Query", "DynamoDB_20120810.PutItem"]  # busiest first
    assert growth["DynamoDB_20120810.Query"] == {
        "first_ms": 2.0,
        "last_ms": 5.0,
        "first_cpu_ms": 1.5,
        "last_cpu_ms": 2.0,
        "total_s": 1.0,
        "requests": 300,
    }
    assert growth["DynamoDB_20120810.PutItem"]["first_ms"] == 1.0
    assert growth["DynamoDB_20120810.PutItem"]["last_cpu_ms"] == 1.0
