# Two entry points: `make run` and `make test`. Each creates or refreshes .venv from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck pytest bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# node-pop3 (npm, pinned) for tests/e2e/test_clients_libraries.py, installed into .venv/node
NODE_POP3 := node-pop3@0.11.0

$(VENV)/.test: pyproject.toml scripts/ensure-system-packages Makefile | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	bash scripts/ensure-system-packages
	npm install --silent --prefix $(VENV)/node --no-audit --no-fund --no-save $(NODE_POP3)
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/pop3srv serve --seed-welcome

test: $(VENV)/.test
	$(BIN)/ruff check pop3srv admin tests bench
	$(BIN)/ruff format --check pop3srv admin tests bench
	$(BIN)/mypy
	@$(BIN)/python -m pytest; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests; failing" >&2; fi; \
	  exit $$rc

bench: $(VENV)/.test
	$(BIN)/python -m bench.retr

# requirements.lock: the image's dependencies with hashes, resolved for this Python (keep it the
# Dockerfile's, 3.11); tests/test_lock.py fails when pyproject.toml changes without it
lock: $(VENV)/.test
	$(BIN)/python -m pip install --quiet 'pip-tools>=7.4,<8'
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
	  --build-deps-for=wheel --no-emit-find-links --no-emit-index-url --no-emit-trusted-host \
	  --annotation-style=line --output-file=requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache
