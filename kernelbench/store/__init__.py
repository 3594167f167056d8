"""The store layer: every sweep and candidate kept across sessions (SQLite), history as pandas, and
the config book (what a kernel knows of its configs: pinned, tuned, best known, default).

Layer rule: ``store`` imports only ``_errors``, ``_settings``, ``core``, ``tune`` and itself.
"""
