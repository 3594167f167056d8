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

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests

lint: $(STAMP)
	$(VENV)/bin/ruff check kernelbench tests benchmarks

clean:
	rm -rf $(VENV) demo-output test-artifacts
