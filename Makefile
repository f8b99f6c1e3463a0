# One command to run, one to test. Both create and fill .venv on first use.
PYTHON ?= python3
# Where pip finds torch. Empty: the configured index. On a Linux machine whose index would serve the
# multi-GB CUDA build, use TORCH_INDEX=https://download.pytorch.org/whl/cpu.
TORCH_INDEX ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch before sentence-transformers, pinned: otherwise pip resolves a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/assistant serve

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup
	$(BIN)/python -m bench.routing_quality
	$(BIN)/python -m bench.routing_speed

clean:
	rm -rf $(VENV) data .pytest_cache
