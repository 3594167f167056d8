# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# On a machine with no GPU we pin torch's CPU build (an unpinned torch pulls GBs of CUDA packages).
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.kernelbench-installed

.PHONY: demo test lint env clean extension lab

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev,ray]"
	touch $@

env: $(STAMP)

demo: $(STAMP)
	$(PY) -m kernelbench.demo --out demo-output

# The "Kernel runs" JupyterLab panel: extensions/kernel-runs (TypeScript), built into
# kernelbench/labextension, which is committed so that users need no Node.js. `make extension`
# rebuilds it with npm (`npm ci` from package-lock.json, then tsc and JupyterLab's builder from the
# venv); `make test` rebuilds it first when npm is on PATH and a source is newer than the build
# (a fresh `npm ci` alone does not: webpack's chunk names differ from machine to machine), and
# otherwise tests the committed build.
EXT     := extensions/kernel-runs
EXT_OUT := kernelbench/labextension/package.json
NPM     := $(shell command -v npm 2>/dev/null)

$(EXT)/node_modules/.package-lock.json: $(EXT)/package-lock.json
	cd $(EXT) && npm ci --no-audit --no-fund

$(EXT_OUT): $(EXT)/package.json $(EXT)/tsconfig.json $(wildcard $(EXT)/src/*.ts $(EXT)/style/*) \
            | $(STAMP) $(EXT)/node_modules/.package-lock.json
	cd $(EXT) && PATH="$(abspath $(VENV))/bin:$$PATH" npm run build
	touch $@

extension: $(EXT)/node_modules/.package-lock.json | $(STAMP)
	cd $(EXT) && PATH="$(abspath $(VENV))/bin:$$PATH" npm run build

# JupyterLab on notebooks/, with the "Kernel runs" panel: an editable install carries no data files,
# so the prebuilt extension and the server extension's config are linked into the venv as a wheel
# install would put them.
lab: $(STAMP)
	mkdir -p $(VENV)/share/jupyter/labextensions $(VENV)/etc/jupyter/jupyter_server_config.d
	ln -sfn $(CURDIR)/kernelbench/labextension $(VENV)/share/jupyter/labextensions/kernelbench
	cp jupyter-config/jupyter_server_config.d/kernelbench.json $(VENV)/etc/jupyter/jupyter_server_config.d/
	$(PY) -m jupyter lab --notebook-dir=notebooks

# tests/ (the browser test included), then every notebook run top to bottom by nbval in the venv's
# own kernel; lax mode: only the outputs of cells marked # NBVAL_CHECK_OUTPUT are compared. The
# notebooks tune into a fresh run store (kept in test-artifacts/), never the user's ~/.cache.
test: $(STAMP) $(if $(NPM),$(EXT_OUT))
	rm -rf test-artifacts/kernelbench-home
	KERNELBENCH_HOME=$(CURDIR)/test-artifacts/kernelbench-home \
	  $(PY) -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env tests notebooks

lint: $(STAMP)
	$(VENV)/bin/ruff check kernelbench tests benchmarks

clean:
	rm -rf $(VENV) demo-output test-artifacts
