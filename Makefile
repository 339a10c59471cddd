# Two commands on a new machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSTEM_PACKAGES := ffmpeg libmysofa1 fluid-soundfont-gm fluidsynth espeak-ng chromium
DEMO_OUT ?= out/demo
# Free disk a new .venv needs (it takes 8.2 GiB).
INSTALL_GIB := 10

.PHONY: install system-deps demo test bench spaces clean

# Resemblyzer goes in without its dependencies: the GE2E encoder reads only its weight file.
# hearvalidator too: it requires TensorFlow, which it needs only for TensorFlow modules (the
# tests check SARL's own HEAR modules, torch modules, with it).
# The Spaces' browser tests drive Debian's chromium through Playwright (its Python package
# carries its own driver; no browser is downloaded: never run `playwright install`).
$(STAMP): setup.cfg pyproject.toml constraints.txt
	@test -d $(VENV) || scripts/check_disk.sh . $(INSTALL_GIB)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,space,browser]'
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt resemblyzer hearvalidator
	touch $@

install: $(STAMP)

system-deps:
	@scripts/system_deps.sh $(SYSTEM_PACKAGES)

demo: install system-deps
	HF_HUB_OFFLINE=1 $(BIN)/sarl bench --out $(DEMO_OUT) --scenes 200 --duration 2.0 \
		--formats binaural --sources auto --sensitivity-anchors 6 --multisource-scenes 100 \
		--device cpu

test: install system-deps
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

# Each Space as the Hub builds it, in out/spaces/<name>/ (sarl publish space NAME uploads it).
spaces: install
	HF_HUB_OFFLINE=1 $(BIN)/sarl publish space sarl_explorer --dry-run --out out/spaces
	HF_HUB_OFFLINE=1 $(BIN)/sarl publish space sarl_probe --dry-run --out out/spaces

bench: install system-deps
	$(BIN)/python benchmarks/bench_simulate.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_dataset.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_sources.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_embed.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_probe.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_probe_small.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_audio_codec.py

clean:
	rm -rf $(VENV) out .pytest_cache
