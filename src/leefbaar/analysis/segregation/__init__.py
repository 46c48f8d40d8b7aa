"""Segregation and the undivided city: how groups (income, tenure, age; migration background only on request)
are spread over the areas of a gemeente, and whether that is changing.

Modules: ``indices`` (the index formulas, vectorised over draws), ``definition`` (the catalogue
``catalogue/segregation.yaml`` and counts from shares), ``inference`` (random allocation, bootstrap intervals,
change and its decomposition), ``monitor`` (the ``Segregation`` estimator per gemeente and nationally),
``summary`` (the answer in words) and ``view`` (``segregation_view`` for the facts layer and dashboard).
"""

from leefbaar.analysis.segregation.definition import load_catalogue
from leefbaar.analysis.segregation.monitor import Segregation
from leefbaar.analysis.segregation.view import resolve_gemeente, segregation_view

__all__ = ["Segregation", "load_catalogue", "resolve_gemeente", "segregation_view"]
