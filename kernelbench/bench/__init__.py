"""The bench layer: latency against problem size, beside baselines and under the device's ceilings.

Layer rule: ``bench`` imports only ``_errors``, ``_settings``, ``core``, ``tune``, ``store`` and itself.
Tuning at a size is injected by the caller (a function of the arguments returning a ``SweepResult``).
"""
