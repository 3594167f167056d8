"""The core layer: everything needed to compile, run, check and time one Helion kernel.

Device choice and the interpreter's shims, the one timer, correctness checks, the config space,
kernel sources, config parsing and signatures, and the one evaluation pipeline
(:mod:`kernelbench.core.evaluate`).

Layer rule: ``core`` imports only ``kernelbench._errors``, ``kernelbench._settings`` and itself.
No IPython, ipywidgets or plotly here (a GPU host has none of them).
"""
