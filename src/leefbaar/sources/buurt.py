"""Readers for the buurt-level families in ``buurt/``: the Leefbaarometer 2024 buurt scores, the Rotterdam
Wijkprofiel 2014-2024 and the CBS KWB 2024 for the Rijnmond buurten."""

from __future__ import annotations

FAMILIES: list = []
