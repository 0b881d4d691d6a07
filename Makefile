# Quick start: `make demo` (train + sample + eval a small VAE) and `make test`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
TORCH   := torch==2.13.0
DEMO    := runs/demo
# pip extras of `make dev`/`make test`; .ci/run adds `track` (tracking backends) and `report` (selenium)
EXTRAS  ?= dev

.PHONY: venv install dev demo test test-cuda lint data browser clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch is installed first, pinned, so that no other requirement can pull a CUDA build.
install: $(BIN)/python
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e .

# torchcfm without its dependencies (they pull torchvision and a CUDA torch); tests compare with its MLP.
dev: install
	$(BIN)/pip install -q $(TORCH) -e ".[$(EXTRAS)]"
	$(BIN)/pip install -q --no-deps torchcfm

demo: install
	$(BIN)/genlab train vae-digits --out $(DEMO) --overwrite
	$(BIN)/genlab sample $(DEMO) -n 64 -o $(DEMO)/samples.png
	$(BIN)/genlab eval $(DEMO)
	@echo "demo outputs: $(DEMO)/samples.png $(DEMO)/loss.png $(DEMO)/eval.json"

test: dev
	$(BIN)/python -m pytest -q

# The CUDA path (AMP, channels_last, compile, fused Adam, EMA, sampling/eval on the GPU, torchrun+NCCL).
test-cuda: dev
	$(BIN)/python -m pytest -q -m cuda tests/cuda

lint: dev
	$(BIN)/ruff check src tests benchmarks

# Fashion-MNIST for benchmarks (Debian package; tests never need it).
data:
	apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist

# Chromium and its driver for the `genlab compare` browser test (Debian packages; the test skips
# without them, and without selenium: `make test EXTRAS=dev,report`). .ci/run installs both.
browser:
	apt-get update -qq && apt-get install -y -qq chromium chromium-driver

clean:
	rm -rf $(VENV) runs build *.egg-info src/*.egg-info
