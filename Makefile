# LVScarSeg: `make demo` and `make test` set everything up on a fresh machine (Python 3.9+).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Slicer 5.8 ships Python 3.9: the engine is also tested there when a python3.9 exists.
PY39 ?= $(shell PYENV_VERSION=3.9.18 command -v python3.9 >/dev/null 2>&1 && echo python3.9)
VENV39 ?= .venv39

.PHONY: demo test test-py39 bench benchmark-phantoms benchmark-emidec classifier-models clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lvscarseg demo demo_output

test: $(STAMP)
	$(BIN)/python -m pytest -q Testing
	$(MAKE) --no-print-directory test-py39

test-py39:
ifeq ($(PY39),)
	@echo "test-py39: no python3.9 on this machine; the engine's Python 3.9 check was not run"
else
	PYENV_VERSION=3.9.18 $(PY39) -m venv $(VENV39)
	$(VENV39)/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	$(VENV39)/bin/python -m pytest -q -p no:cacheprovider Testing -k "not large_field and not 2d_stack"
endif

bench: $(STAMP)
	$(BIN)/python benchmarks/speed.py

# The scar-method comparison table of the README (minutes): 16 phantom cases, true and observer walls.
benchmark-phantoms: $(STAMP)
	$(BIN)/lvscarseg --quiet phantom build/bench-phantoms --cases 16 --seed 500
	$(BIN)/lvscarseg benchmark build/bench-phantoms --myocardium truth -o benchmarks/results
	$(BIN)/lvscarseg benchmark build/bench-phantoms --myocardium observer -o benchmarks/results

# The same methods on the real EMIDEC slices (needs ../shared/data/emidec-png; CC BY-NC-SA data).
EMIDEC ?= ../shared/data/emidec-png
benchmark-emidec: $(STAMP)
	mkdir -p benchmarks/results/emidec
	$(BIN)/lvscarseg benchmark $(EMIDEC) --myocardium truth -o benchmarks/results/emidec

# Re-creates the shipped classifier models from phantoms (seed 9000, never used for benchmarks).
classifier-models: $(STAMP)
	$(BIN)/lvscarseg --quiet phantom build/train-phantoms --cases 16 --seed 9000
	for m in svm knn random-forest mlp; do \
	  $(BIN)/lvscarseg train-classifier build/train-phantoms --method $$m --license BSD-3-Clause \
	    -o Resources/Models/scar-$$m.safetensors || exit 1; done

clean:
	rm -rf $(VENV) $(VENV39) demo_output .pytest_cache
