"""Helion kernels for the GPU suite, written as a %%kernel cell would be (here with @kernelbench.kernel)."""
