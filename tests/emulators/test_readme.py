from __future__ import annotations

from datetime import datetime, timedelta, timezone

from emulators.command import format_goodput
from emulators.dpu import COUNTER_NAMES
from emulators.faults.catalog import CATALOG
from emulators.faults.scenario import load_scenario
from emulators.run import build_emulator
from emulators.topology import load_topology
from pipeline import topics
from tests.emulators.harness import PROJECT_ROOT, run

README = (PROJECT_ROOT / "emulators" / "README.md").read_text(encoding="utf-8")


def test_readme_lists_every_fault_kind() -> None:
    for name, kind in CATALOG.items():
        assert f"| `{name}` | {kind.scope} | {kind.onset} |" in README


def test_readme_lists_every_published_field() -> None:
    result = run(seconds=3)
    gpu_fields = set(result.values(topics.GPU, 2)[0]["gpus"][0])
    cooling_fields = set(result.values(topics.COOLING, 2)[0]) - {"schema_version", "time", "cluster", "rack", "cdu"}
    for name in sorted(gpu_fields | cooling_fields | set(COUNTER_NAMES)):
        assert f"`{name}`" in README


def test_readme_example_output_matches() -> None:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    emulator = build_emulator(
        load_topology(PROJECT_ROOT / "emulators" / "topologies" / "small.yaml"),
        seed=0,
        scenario=load_scenario(PROJECT_ROOT / "emulators" / "scenarios" / "all-faults.yaml"),
    )
    for second in range(3750):
        emulator.sample(start + timedelta(seconds=second))
    printed = format_goodput(emulator.job.goodput_value(start + timedelta(seconds=3749)))
    assert f"```text\n{printed}\n```" in README
