# assetplan: two commands on a fresh machine.
#   make run   - create .venv, install, run the national baseline on the shipped demo data
#   make test  - install with dev extras, run ruff, mypy and the whole test suite
SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench serve notebooks vendor catalogue clean

$(BIN)/python:
	@echo "==> Creating the Python environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "==> Installing assetplan and its dependencies (OR-Tools, GeoPandas, ...) from PyPI:"
	@echo "    2 to 3 minutes the first time; each package is listed as it comes"
	set -o pipefail; $(BIN)/python -m pip install --disable-pip-version-check \
		--progress-bar off -e . | { grep --line-buffered -E '^(Collecting|Successfully)' || true; }
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	@echo "==> Installing assetplan with its test tools from PyPI:"
	@echo "    2 to 3 minutes the first time; each package is listed as it comes"
	set -o pipefail; $(BIN)/python -m pip install --disable-pip-version-check \
		--progress-bar off -e '.[dev]' | { grep --line-buffered -E '^(Collecting|Successfully)' || true; }
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	@echo "==> The national geography, then the national baseline on the SYNTHETIC demo inventory"
	$(BIN)/assetplan summary
	$(BIN)/assetplan run scenarios/national-baseline.yaml --force

lint: $(VENV)/.installed-dev
	@echo "==> Lint (ruff) and types (mypy)"
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	@echo "==> The test suite (about 25 minutes on 2 cores)"
	$(BIN)/python -m pytest

# The one catalogue of interface text: new messages into the template, merged into each
# language's catalogue (fill in the new msgstr; a test fails while one is empty).
catalogue: $(VENV)/.installed-dev
	$(BIN)/pybabel extract -F babel.cfg -k NC_:1c,2 --no-location --sort-output \
		--project assetplan \
		-o planner/locale/assetplan.pot geodata optimization planner api
	$(BIN)/pybabel update -i planner/locale/assetplan.pot -d planner/locale \
		-D assetplan --no-fuzzy-matching --ignore-obsolete -w 100

bench: $(VENV)/.installed-dev
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/bench_geodata.py

serve: $(VENV)/.installed
	$(BIN)/python -m api serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

notebooks: $(VENV)/.installed-dev
	$(BIN)/python notebooks/run.py --full --out notebooks/out

# Leaflet from the npm registry, shipped in the package (planner/vendor/leaflet): the run map
# (map.html) inlines it and the dashboard serves it; nothing loads from the internet at run time.
vendor: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	rm -rf planner/vendor/leaflet
	mkdir -p planner/vendor/leaflet
	cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css node_modules/leaflet/LICENSE planner/vendor/leaflet/
	cp -r node_modules/leaflet/dist/images planner/vendor/leaflet/images
	node -p "require('./node_modules/leaflet/package.json').version" > planner/vendor/leaflet/VERSION

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
