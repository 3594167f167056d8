# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# On a machine with no GPU we pin torch's CPU build (an unpinned torch pulls GBs of CUDA packages).
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.kernelbench-installed

.PHONY: demo test lint env clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

env: $(STAMP)

demo: $(STAMP)
	$(PY) -m kernelbench.demo --out demo-output

# tests/ (the browser test included), then every notebook run top to bottom by nbval in the venv's
# own kernel; lax mode: only the outputs of cells marked # NBVAL_CHECK_OUTPUT are compared. The
# notebooks tune into a fresh run store (kept in test-artifacts/), never the user's ~/.cache.
test: $(STAMP)
	rm -rf test-artifacts/kernelbench-home
	KERNELBENCH_HOME=$(CURDIR)/test-artifacts/kernelbench-home \
	  $(PY) -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env tests notebooks

lint: $(STAMP)
	$(VENV)/bin/ruff check kernelbench tests benchmarks

clean:
	rm -rf $(VENV) demo-output test-artifacts
