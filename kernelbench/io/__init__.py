"""The io layer: what leaves kernelbench or comes back: correctness cases (safetensors), configs
(Helion's JSON) and kernels exported as standalone ``.py`` modules.

Layer rule: ``io`` imports only ``_errors``, ``_settings``, ``core``, ``tune``, ``store``, ``bench`` and
itself. Nothing read here is unpickled; nothing written can carry code.
"""
