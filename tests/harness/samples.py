"""The vendor documents' samples, kept byte for byte under ``tests/fixtures/vendors/<key>/``."""

from __future__ import annotations

from pathlib import Path

VENDOR_SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"


def sample_path(vendor: str, name: str) -> Path:
    return VENDOR_SAMPLES / vendor / name


def sample(vendor: str, name: str) -> bytes:
    """One sample of ``vendor``'s document, as stored (bytes)."""
    return sample_path(vendor, name).read_bytes()


def sample_text(vendor: str, name: str, encoding: str = "utf-8") -> str:
    """One sample as text (the stored files are UTF-8 unless said otherwise)."""
    return sample(vendor, name).decode(encoding)


def sample_names(vendor: str, pattern: str = "*") -> list[str]:
    """The names of ``vendor``'s samples matching ``pattern``, sorted."""
    return sorted(p.name for p in (VENDOR_SAMPLES / vendor).glob(pattern))
