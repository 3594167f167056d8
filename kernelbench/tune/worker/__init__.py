"""Worker processes for sweeps: a candidate that hangs, crashes or corrupts the GPU cannot take the
notebook down with it, and on a GPU host candidates compile in parallel ahead of the one being timed.

* ``wire``: the message format (JSON headers, raw tensor buffers; nothing pickled);
* ``recipe``: how a worker re-creates the kernel from its source and the globals it reads, and
  the reference where it can be rebuilt by name;
* ``entry``: the worker process's loop (``python -m kernelbench.tune.worker FD``);
* ``pool``: the parent's side: processes, time limits, warm workers, and the ``Isolated`` executor.

Workers are started with ``python -m`` (not multiprocessing's spawn, which re-imports the user's
``__main__``). A worker process loads ``core`` and this package only: no store, bench, io or ui —
except ``kernelbench.io.problem`` (imported by name, from a reference recipe) in a worker that
computes a KernelBench problem's references itself.
"""
