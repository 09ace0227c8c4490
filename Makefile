# Two commands do all set-up on a fresh machine:  make demo   and   make test
# Everything installs into .venv in the project root, pinned by requirements.lock.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo serve test test-fast bench lock clean

install: $(STAMP)

# Re-runs only when the pins or the package metadata change: `make install` is a no-op otherwise.
# torch is pinned to 2.13.0 in the same install as everything else, or pip pulls the CUDA build
# (several GB); on a CUDA machine install the CUDA build of torch 2.13.0 first (see README).
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check -r requirements.lock
	$(PIP) install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: install
	$(VENV)/bin/paperlens ingest paperlens/sample/
	$(VENV)/bin/paperlens serve

serve: install
	$(VENV)/bin/paperlens serve

test: install
	$(PY) -m pytest -q -p no:cacheprovider

# Everything but the slow end-to-end tests.
test-fast: install
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow"

bench: install
	$(PY) bench/ingest_bench.py
	$(PY) bench/search_bench.py

# Refresh the pins from the current .venv (after adding a dependency to pyproject.toml).
lock:
	$(PIP) freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu/torch==\1/' > requirements.lock

clean:
	rm -rf $(VENV) data
