import pytest

from emulators.replay.errors import ReplayInputError
from emulators.replay.pci import parse_pci_address, parse_pci_map

ADDRESSES = [
    ("kernel log", "PCI:0000:3b:00", (0, 0x3B, 0)),
    ("nvidia-smi", "00000000:3B:00.0", (0, 0x3B, 0)),
    ("short", "3b:00.0", (0, 0x3B, 0)),
    ("other domain", "0001:5e:00", (1, 0x5E, 0)),
]


@pytest.mark.parametrize(("text", "expected"), [case[1:] for case in ADDRESSES], ids=[case[0] for case in ADDRESSES])
def test_parse_pci_address(text: str, expected: tuple[int, int, int]) -> None:
    assert parse_pci_address(text) == expected


def test_parse_pci_address_invalid() -> None:
    with pytest.raises(ValueError, match="invalid PCI address 'GPU0'"):
        parse_pci_address("GPU0")


def test_parse_pci_map() -> None:
    assert parse_pci_map("0000:3b:00=0, 00000000:5E:00.0=1") == {(0, 0x3B, 0): 0, (0, 0x5E, 0): 1}


MAP_ERRORS = [
    ("no index", "0000:3b:00", "invalid --pci-map entry '0000:3b:00'"),
    ("index too large", "0000:3b:00=64", "index from 0 to 63"),
    ("repeat", "0000:3b:00=0,3b:00.0=1", "address 3b:00.0 appears twice"),
]


@pytest.mark.parametrize(("text", "message"), [case[1:] for case in MAP_ERRORS], ids=[case[0] for case in MAP_ERRORS])
def test_parse_pci_map_invalid(text: str, message: str) -> None:
    with pytest.raises(ReplayInputError, match=message):
        parse_pci_map(text)
