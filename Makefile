# One command to run, one to test. Both create and fill .venv on first use.
PYTHON ?= python3
# Where pip finds torch. Empty: the configured index. On a Linux machine whose index would serve the
# multi-GB CUDA build, use TORCH_INDEX=https://download.pytorch.org/whl/cpu.
TORCH_INDEX ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CHROMIUM := /usr/bin/chromium

.PHONY: setup browser run test lint bench screenshots clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch before sentence-transformers, pinned: otherwise pip resolves a CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The console's browser tests drive Debian's chromium; installed here when root may use apt-get, else they skip.
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium for the browser tests (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "no $(CHROMIUM): the browser tests will skip (apt-get install chromium to run them)"; fi; }

run: setup
	$(BIN)/assistant serve

test: setup browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup
	$(BIN)/python -m bench.routing_quality
	$(BIN)/python -m bench.routing_speed

# Screenshots of the console pages for docs/, taken by the browser tests.
screenshots: setup browser
	ASSISTANT_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/test_console_browser.py

clean:
	rm -rf $(VENV) data .pytest_cache
