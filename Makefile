# LVScarSeg: `make demo` and `make test` set everything up on a fresh machine (Python 3.9+).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Slicer 5.8 ships Python 3.9: the engine is also tested there when a python3.9 exists.
PY39 ?= $(shell PYENV_VERSION=3.9.18 command -v python3.9 >/dev/null 2>&1 && echo python3.9)
VENV39 ?= .venv39

.PHONY: demo test test-py39 stress bench bench-batch benchmark-phantoms benchmark-emidec benchmark-deep classifier-models deep-models clean

# torch is pinned to the CPU build this machine's wheel cache holds (an unpinned torch pulls a
# multi-GB CUDA build); GPU users install their own torch first, then `pip install -e ".[dl]"`.
TORCH ?= torch==2.13.0

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test,dl]"
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
	@echo "test-py39: the engine without PyTorch (no torch wheel for Python 3.9 here): Testing/test_deep*.py and the"
	@echo "test-py39: tests named deep_learning are left out; no PySide6 for 3.9 here: ui_loads is left out, and no slicer-core: test_slicer_mrml.py skips (all run on 3.11)"
	$(VENV39)/bin/python -m pytest -q -p no:cacheprovider Testing --ignore=Testing/test_deep.py --ignore=Testing/test_deep_training.py \
	  -k "not large_field and not 2d_stack and not deep_learning and not ui_loads"
endif

bench: $(STAMP)
	$(BIN)/python benchmarks/speed.py

# The long versions of the reliability tests (hostile inputs x200, SIGKILL at 12 moments) and the
# memory-against-size measurement (400x400x200 included): minutes.
stress: $(STAMP)
	LVSCARSEG_STRESS=1 $(BIN)/python -m pytest -q Testing/test_reliability.py
	$(BIN)/python benchmarks/memory.py

# lvscarseg batch --jobs 2 against --jobs 1 on 20 phantom cases (fully automatic)
bench-batch: $(STAMP)
	$(BIN)/python benchmarks/batch_speed.py

# The scar-method comparison table of the README (minutes): 16 phantom cases, true and observer walls.
benchmark-phantoms: $(STAMP)
	$(BIN)/lvscarseg --quiet phantom build/bench-phantoms --cases 16 --seed 500
	$(BIN)/lvscarseg benchmark build/bench-phantoms --myocardium truth -o benchmarks/results
	$(BIN)/lvscarseg benchmark build/bench-phantoms --myocardium observer -o benchmarks/results

# The same methods on the real EMIDEC slices (needs ../shared/data/emidec-png; CC BY-NC-SA data).
EMIDEC ?= ../shared/data/emidec-png
# The classical methods only: the -emidec networks were trained on most of these 100 exams
# (their held-out figures: benchmark --split test, Deep learning in the README).
benchmark-emidec: $(STAMP)
	mkdir -p benchmarks/results/emidec
	$(BIN)/lvscarseg benchmark $(EMIDEC) --myocardium truth --methods classical -o benchmarks/results/emidec

# Re-creates the shipped classifier models from phantoms (seed 9000, never used for benchmarks).
classifier-models: $(STAMP)
	$(BIN)/lvscarseg --quiet phantom build/train-phantoms --cases 16 --seed 9000
	for m in svm knn random-forest mlp; do \
	  $(BIN)/lvscarseg train-classifier build/train-phantoms --method $$m --license BSD-3-Clause \
	    -o Resources/Models/scar-$$m.safetensors || exit 1; done

# The deep-learning models of Resources/Models (a GPU machine: ~9 minutes on one H200 with 16 CPU
# cores; all tasks train in parallel). EMIDEC only for the *-emidec variants (CC BY-NC-SA).
deep-models: $(STAMP)
	$(BIN)/python benchmarks/train_models.py --out build/deep-models --time-limit 300 --emidec $(EMIDEC)
	@echo "models in build/deep-models; copy the wanted *.safetensors/.json/.md into Resources/Models"

# Held-out phantoms (seed 7000, never used in training) and EMIDEC's held-out exams.
benchmark-deep: $(STAMP)
	mkdir -p benchmarks/results/deep
	$(BIN)/lvscarseg --quiet phantom build/deep-bench --cases 10 --seed 7000
	$(BIN)/lvscarseg benchmark build/deep-bench --methods cnn,unet,cmpunet,gan,random-forest --myocardium truth \
	  --models permissive -o benchmarks/results/deep
	$(BIN)/lvscarseg benchmark build/deep-bench --methods cmpunet,random-forest --myocardium observer \
	  --models permissive -o benchmarks/results/deep
	for m in cmpunet unet gan; do $(BIN)/lvscarseg benchmark build/deep-bench --methods cmpunet,random-forest \
	  --myocardium auto --myocardium-method $$m --models permissive -o benchmarks/results/deep || exit 1; done
	$(BIN)/lvscarseg benchmark build/deep-bench --methods cmpunet --myocardium auto -o benchmarks/results/deep
	$(BIN)/lvscarseg benchmark $(EMIDEC) --split test --methods cmpunet --myocardium auto --models permissive \
	  -o benchmarks/results/deep/emidec
	$(BIN)/lvscarseg benchmark $(EMIDEC) --split test --methods cmpunet --myocardium auto \
	  -o benchmarks/results/deep/emidec-variant
	$(BIN)/lvscarseg benchmark $(EMIDEC) --split test --methods cmpunet,otsu --myocardium truth \
	  -o benchmarks/results/deep/emidec-variant
	$(BIN)/python benchmarks/sparse_stack_speed.py
	$(BIN)/python benchmarks/deep_speed.py --device auto

clean:
	rm -rf $(VENV) $(VENV39) demo_output .pytest_cache
