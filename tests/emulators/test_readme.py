from __future__ import annotations

from emulators.dpu import COUNTER_NAMES
from emulators.faults.catalog import CATALOG
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
