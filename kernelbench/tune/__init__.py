"""The tuning layer: sweeps over Helion's config space, their strategies, events, results, and the
evaluators that run candidates in this process or in worker processes (:mod:`kernelbench.tune.worker`).

Layer rule: ``tune`` imports only ``_errors``, ``_settings``, ``core`` and itself. It knows nothing of
the run store, benches, files or widgets: those are observers of its events, or its callers.
"""
