# assetplan: two commands on a fresh machine.
#   make run   - create .venv, install, run the national baseline on the shipped demo data
#   make test  - install with dev extras, run ruff, mypy and the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench serve notebooks vendor clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/assetplan summary
	$(BIN)/assetplan run scenarios/national-baseline.yaml --force

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest

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
