"""Programmes as data, and their effects against matched reference areas.

Modules, one concept each:

- ``registry``: the programme registry (``catalogue/programmes.yaml``), validated on load:
  ``load_programmes()`` -> ``Registry`` (``.get(id)``, ``.frame(lang)`` for the timeline, ``.to_json()``);
  ``programmes_for_area(store, level, code)`` lists the programmes whose resolved areas include an area.
- ``resolve``: listed names (Vogelaar wijken, NPRZ focuswijken, ...) to wijk/buurt codes and PC4 shares, with a
  reviewable match table and reviewed decisions (``catalogue/area_matches.csv``).
- ``panel``: outcome panels of treated, buffer and reference PC4.
- ``matching``: nearest-neighbour matching (Mahalanobis or propensity score) and balance tables.
- ``did``: difference-in-differences with matched references, clustered and permutation inference.
- ``event_study``: stacked event study with a pre-trend test (pyfixest).
- ``synth``: synthetic control per treated area and pooled, with placebo inference (pysyncon).
- ``staggered``: group-time effects for staggered adoption (Callaway and Sant'Anna).
- ``investment``: descriptive budget arithmetic from the registry (never effects).
- ``report``: ``evaluate(store, programme_id, EvaluationConfig(...))`` and ``write_report(...)``.
"""
