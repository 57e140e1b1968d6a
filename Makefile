# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo lint venv clean bench

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test,postgres]"
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest -q

demo: $(STAMP)
	$(PY) scripts/demo.py

# every benchmark in bench/ (results tabled in bench/README.md); about 8 minutes on 2 cores
bench: $(STAMP)
	$(PY) bench/drain_client.py
	$(PY) bench/content_fetch.py
	$(PY) bench/pull_memory.py
	$(PY) bench/budget_drain.py
	$(PY) bench/emulator_drain.py
	$(PY) bench/emulator_feed.py
	$(PY) bench/sql_load.py

clean:
	rm -rf $(VENV) .demo .pytest_cache .ruff_cache *.egg-info
