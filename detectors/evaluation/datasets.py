"""Readers of the public evaluation data sets: SMD and NAB, from ``../shared/data`` by default.

The data are read in place and never copied into the project. Both readers return numpy
arrays ready for the detectors and the metrics of this package.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# The project root is three levels above this file; the shared data sit beside it.
DEFAULT_DATA_ROOT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@dataclass(frozen=True)
class SmdMachine:
    """One SMD machine: 38 min-max scaled metrics per minute, train and test halves, test labels."""

    name: str
    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class NabSeries:
    """One NAB data file: timestamps, values and labelled windows as inclusive row pairs."""

    name: str
    timestamps: np.ndarray
    values: np.ndarray
    windows: tuple[tuple[int, int], ...]


def smd_root(data_root: Path = DEFAULT_DATA_ROOT) -> Path:
    """Return the folder that contains SMD's ``train``, ``test`` and ``test_label`` folders."""
    return data_root / "smd" / "ServerMachineDataset"


def smd_machines(data_root: Path = DEFAULT_DATA_ROOT) -> list[str]:
    """Return the SMD machines whose train and test values are present, sorted by name.

    Raises:
        FileNotFoundError: The SMD folder is missing.
    """
    root = smd_root(data_root)
    if not (root / "test").is_dir():
        raise FileNotFoundError(f"SMD test values not found in {root / 'test'}; pass the folder that contains smd/ServerMachineDataset")
    names = [path.stem for path in (root / "test").glob("machine-*.txt") if (root / "train" / path.name).is_file()]
    return sorted(names, key=lambda name: tuple(int(part) for part in name.split("-")[1:]))


def load_smd_machine(name: str, data_root: Path = DEFAULT_DATA_ROOT) -> SmdMachine:
    """Read one SMD machine's train values, test values and test labels.

    Raises:
        FileNotFoundError: A file of that machine is missing.
        ValueError: The test values and labels differ in length.
    """
    root = smd_root(data_root)
    files = {part: root / part / f"{name}.txt" for part in ("train", "test", "test_label")}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"SMD machine {name!r} is incomplete; missing {missing}")

    train = np.loadtxt(files["train"], delimiter=",", ndmin=2)
    test = np.loadtxt(files["test"], delimiter=",", ndmin=2)
    labels = np.loadtxt(files["test_label"], delimiter=",", dtype=np.int8, ndmin=1).astype(bool)
    if labels.size != test.shape[0]:
        raise ValueError(f"SMD machine {name!r}: {test.shape[0]} test rows but {labels.size} labels")
    return SmdMachine(name, train, test, labels)


def nab_root(data_root: Path = DEFAULT_DATA_ROOT) -> Path:
    """Return the NAB folder that contains ``data``, ``labels`` and ``config``."""
    return data_root / "nab"


def load_nab_corpus(data_root: Path = DEFAULT_DATA_ROOT, windows_file: str = "combined_windows.json") -> list[NabSeries]:
    """Read every NAB data file named in the windows file, with its windows as row pairs.

    Raises:
        FileNotFoundError: The windows file or a data file is missing.
        ValueError: A window boundary is not one of the file's timestamps.
    """
    root = nab_root(data_root)
    windows_path = root / "labels" / windows_file
    if not windows_path.is_file():
        raise FileNotFoundError(f"NAB windows not found at {windows_path}; pass the folder that contains nab/")
    windows_by_file = json.loads(windows_path.read_text())

    corpus = []
    for name in sorted(windows_by_file):
        path = root / "data" / name
        if not path.is_file():
            raise FileNotFoundError(f"NAB data file {path} is named in {windows_path.name} but missing")
        raw = np.loadtxt(path, delimiter=",", skiprows=1, dtype=str, ndmin=2)
        timestamps = np.array([value.replace(" ", "T") for value in raw[:, 0]], dtype="datetime64[s]")
        rows = {stamp: index for index, stamp in enumerate(timestamps.tolist())}
        windows = []
        for left, right in windows_by_file[name]:
            try:
                windows.append((rows[_parse_time(left)], rows[_parse_time(right)]))
            except KeyError as exc:
                raise ValueError(f"NAB window [{left}, {right}] of {name} is not on a row timestamp") from exc
        corpus.append(NabSeries(name, timestamps, raw[:, 1].astype(float), tuple(windows)))
    return corpus


def _parse_time(value: str) -> object:
    return np.datetime64(value.replace(" ", "T").split(".")[0], "s").tolist()
