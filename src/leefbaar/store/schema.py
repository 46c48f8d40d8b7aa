"""The canonical model of the store (DuckDB). Every row that comes from a file carries its ``source_id``.

Geometries are stored as WKB: ``geom_rd`` in RD New (EPSG:28992), ``geom_wgs84`` in WGS84 (EPSG:4326) for the
web. Observations are long: one row per area, year and indicator, with a status of ``ok``, ``rounded``
(published rounded, for example CBS counts to 5), ``suppressed`` or ``missing``; value is NULL unless the
status is ``ok`` or ``rounded``. They are stored integer-keyed (``obs_values``: an area id, the year, an
indicator id, the value and a status id, with small dimension tables ``obs_areas``, ``obs_indicators`` and
``obs_statuses``) and read through the view ``observations`` (``OBSERVATIONS_VIEW``), whose columns are those of
the long table: inserting the text keys of 150 million rows cost DuckDB three times the CPU of inserting ids.
"""

SCHEMA_VERSION = "2"
UPGRADABLE = ("1",)  # versions a writable open converts (version 1: ``observations`` a table of text keys)

DDL = [
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE IF NOT EXISTS sources (
        source_id INTEGER PRIMARY KEY, family VARCHAR NOT NULL, file VARCHAR NOT NULL, sha256 VARCHAR NOT NULL,
        bytes BIGINT, publisher VARCHAR, licence VARCHAR, ingested_at TIMESTAMP, rows_read BIGINT,
        observations BIGINT)""",
    """CREATE TABLE IF NOT EXISTS areas (
        code VARCHAR NOT NULL, level VARCHAR NOT NULL, vintage INTEGER NOT NULL, name VARCHAR,
        gemeente_code VARCHAR, wijk_code VARCHAR, provincie_code VARCHAR, area_type VARCHAR, source_id INTEGER,
        PRIMARY KEY (code, level, vintage))""",
    """CREATE TABLE IF NOT EXISTS geometries (
        code VARCHAR NOT NULL, level VARCHAR NOT NULL, vintage INTEGER NOT NULL, geom_rd BLOB NOT NULL,
        geom_wgs84 BLOB NOT NULL, area_m2 DOUBLE, source_id INTEGER, PRIMARY KEY (code, level, vintage))""",
    """CREATE TABLE IF NOT EXISTS indicators (
        id VARCHAR PRIMARY KEY, label_nl VARCHAR, label_en VARCHAR, unit VARCHAR, theme VARCHAR,
        direction INTEGER, sensitive BOOLEAN, description VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS indicator_columns (
        family VARCHAR, column_name VARCHAR, indicator VARCHAR, years VARCHAR, rounded BOOLEAN)""",
    "CREATE TABLE IF NOT EXISTS obs_areas (area INTEGER NOT NULL, level VARCHAR NOT NULL, code VARCHAR NOT NULL)",
    "CREATE TABLE IF NOT EXISTS obs_indicators (indicator SMALLINT NOT NULL, name VARCHAR NOT NULL)",
    "CREATE TABLE IF NOT EXISTS obs_statuses (status TINYINT NOT NULL, name VARCHAR NOT NULL)",
    """CREATE TABLE IF NOT EXISTS obs_values (
        area INTEGER NOT NULL, vintage INTEGER NOT NULL, year INTEGER NOT NULL, indicator SMALLINT NOT NULL,
        value DOUBLE, status TINYINT NOT NULL, source_id INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS area_groups (
        group_id VARCHAR NOT NULL, code VARCHAR NOT NULL, level VARCHAR NOT NULL, vintage INTEGER,
        label VARCHAR, confidence VARCHAR, partial BOOLEAN, source_id INTEGER)""",
    """CREATE TABLE IF NOT EXISTS policy_lists (
        list_id VARCHAR NOT NULL, gemeente VARCHAR, gm_code VARCHAR, name_as_listed VARCHAR, note VARCHAR,
        source_url VARCHAR, partial BOOLEAN, extra VARCHAR, source_id INTEGER)""",
    """CREATE TABLE IF NOT EXISTS lbm2_class_boundaries (
        boundary VARCHAR, between VARCHAR, max_abs_score_class_k DOUBLE, min_abs_score_class_k1 DOUBLE,
        inferred_threshold DOUBLE, source_id INTEGER)""",
    """CREATE TABLE IF NOT EXISTS lbm2_class_ranges (
        year DOUBLE, klasse DOUBLE, label_nl VARCHAR, n_pc4 DOUBLE, rel_min DOUBLE, rel_max DOUBLE,
        national_mean_used DOUBLE, abs_min DOUBLE, abs_max DOUBLE, source_id INTEGER)""",
    """CREATE TABLE IF NOT EXISTS crosswalks (
        from_level VARCHAR NOT NULL, from_vintage INTEGER NOT NULL, from_code VARCHAR NOT NULL,
        to_level VARCHAR NOT NULL, to_vintage INTEGER NOT NULL, to_code VARCHAR NOT NULL,
        weight DOUBLE NOT NULL, method VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS runs (
        run_id INTEGER PRIMARY KEY, command VARCHAR, params VARCHAR, data_hashes VARCHAR, version VARCHAR,
        started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR, message VARCHAR)""",
]

OBSERVATIONS_VIEW = (
    "CREATE OR REPLACE VIEW observations AS SELECT a.code, a.level, v.vintage, v.year, i.name AS indicator, v.value, "
    "s.name AS status, v.source_id FROM obs_values v JOIN obs_areas a ON v.area = a.area "
    "JOIN obs_indicators i ON v.indicator = i.indicator JOIN obs_statuses s ON v.status = s.status")
"""``observations`` as readers see it (code, level, vintage, year, indicator, value, status, source_id)."""

# Ids of the dimension tables of ``obs_values``: table -> (id column, its Arrow type, key columns).
OBS_DIMENSIONS = {"obs_areas": ("area", "int32", ("level", "code")),
                  "obs_indicators": ("indicator", "int16", ("name",)),
                  "obs_statuses": ("status", "int8", ("name",))}

# Tables whose rows belong to one source file; a changed file replaces its own rows.
SOURCED_TABLES = ("obs_values", "geometries", "area_groups", "policy_lists", "lbm2_class_boundaries",
                  "lbm2_class_ranges")

# Survey disclosure control (analysis/disclosure.py, written by analysis/survey.py): the respondents of every
# survey group ever published, as keyed hashes (of the respondent id, if any, and of the row) and a weight,
# never an answer. Rows are kept when a survey is replaced: a figure once published stays published.
DDL.append("""CREATE TABLE IF NOT EXISTS survey_fingerprints (
    run_id INTEGER NOT NULL, survey_id VARCHAR NOT NULL, level VARCHAR NOT NULL, code VARCHAR NOT NULL,
    year INTEGER NOT NULL, item VARCHAR NOT NULL, respondent VARCHAR, row_key VARCHAR NOT NULL,
    weight DOUBLE NOT NULL)""")
