"""The ui layer: notebook detection and the choice of observers, the dashboards (one base, a sweep view
and a bench view), the live chart, the Stop channel, text progress lines and HTML displays.

Layer rule: ``ui`` may import every layer below it (``core``, ``tune``, ``store``, ``bench``, ``io``)
but never the facade (``kernelbench._kernel``) or the magic. It is the only layer that imports
IPython, ipywidgets or plotly at module level.
"""
