# The README's two commands: `make site` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# torch first, pinned, so pip does not pull a multi-GB CUDA build as a dependency of diffusers
TORCH  ?= torch==2.13.0
export HF_HUB_OFFLINE := 1

.PHONY: site test test-packages precompute build bench narration model clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[precompute,test]"
	# an editable install has no bytecode; where PYTHONDONTWRITEBYTECODE is set, every run would compile
	$(BIN)/python -m compileall -q unsmudge
	touch $@

## make site: install, precompute the frames that are missing, build site/
site: $(VENV)/.installed
	$(BIN)/unsmudge precompute
	$(BIN)/unsmudge build

precompute: $(VENV)/.installed
	$(BIN)/unsmudge precompute

build: $(VENV)/.installed
	$(BIN)/unsmudge build

## make test: the whole suite (unit, golden-site, invalid input, precompute, model, browser).
## First the Debian packages it uses: chromium for the browser tests (Playwright drives Debian's, it
## downloads no browser), the emoji font and CLDR annotations for the embedded model's training pictures.
TEST_PACKAGES := chromium fonts-noto-color-emoji unicode-cldr-core
test: test-packages $(VENV)/.installed
	$(BIN)/python -m pytest -q

test-packages:
	bash scripts/debian-packages.sh $(TEST_PACKAGES)

## make bench: the benchmark scripts (see docs/benchmarks.md)
bench: $(VENV)/.installed
	$(BIN)/python benchmarks/precompute_overhead.py
	$(BIN)/python benchmarks/embedded_quality.py
	$(BIN)/python benchmarks/build_speed.py  # last: it stops when MkDocs (not a dependency) is missing

## make narration: the flagship lesson's audio from its transcript (needs Debian's espeak-ng)
narration: $(VENV)/.installed
	$(BIN)/python scripts/narrate.py

## make model: retrain the embedded model from nothing (hours on a CPU, minutes on a GPU)
model: $(VENV)/.installed
	$(BIN)/python -m models.train

clean:
	rm -rf site site.zip .pytest_cache
