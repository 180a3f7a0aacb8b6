# poseforge: set-up, tests and the quick start. Every target reuses .venv when it exists.
#
#   make quickstart   generate synthetic hands, train the light CPM on the CPU, evaluate;
#                     prints the total time and each step's share at the end
#   make test         the whole test suite
#   make bench        the standard benchmark table (tools/benchmark.py); with
#                     MMPOSE_PYTHON=/path/to/python (an env from tools/make_mmpose_env.sh)
#                     mmpose is measured side by side in the same run
#
# CONSTRAINTS pins torch to the CPU wheel this machine ships; with your own (CUDA) torch already
# installed in .venv, run `make CONSTRAINTS= ...` so pip leaves it alone.

PYTHON      ?= $(shell command -v python3.11 || command -v python3)
VENV        ?= .venv
CONSTRAINTS ?= constraints.txt
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.poseforge-installed
# --no-compile: pip does not byte-compile every module of torch & co. at install (about 40% of
# the venv set-up here); Python compiles what is imported, once, into __pycache__.
PIP_FLAGS   := --disable-pip-version-check -q --no-compile $(if $(CONSTRAINTS),-c $(CONSTRAINTS))
# ...which needs bytecode caching on: an inherited PYTHONDONTWRITEBYTECODE would make every
# process (each tool, each test subprocess) compile poseforge and torch's imports again.
unexport PYTHONDONTWRITEBYTECODE

MMPOSE_PYTHON ?=
QS_DATA     ?= data/synth_hands
QS_CONFIG   ?= configs/quickstart/cpm-light_onecycle-14e_synth-hands-128.py
QS_WORK     ?= work_dirs/quickstart
# The quick start renders the generator's earlier look, on which the README's figures were
# measured; `make QS_LOOK= quickstart` uses the realistic default instead. 176 px views: the
# 128 px crop of a hand (box x1.25) is then about its native size, and no depth maps (the 2D
# model reads none): 2x faster to generate and to decode than 256 px with depth.
QS_LOOK     ?= --scene legacy --grasp-prob 0
QS_GEN      ?= --num 2000 --views 2 --seed 0 --size 176 --no-depth

.PHONY: venv test quickstart bench clean-quickstart

venv: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) -e '.[dev,deploy]'
	touch $@

test: $(STAMP)
	$(PY) -m pytest -q

# Each step's start and end (s) go to $(QS_WORK)/steps.tsv; the total and every step's share
# are printed at the end (the figures the README quotes). A step already done counts ~0 s.
quickstart:
	@mkdir -p $(QS_WORK); : > $(QS_WORK)/steps.tsv
	@t=$$(date +%s); $(MAKE) --no-print-directory venv && \
		echo "venv $$t $$(date +%s)" >> $(QS_WORK)/steps.tsv
	@t=$$(date +%s); (test -f $(QS_DATA)/annotations/test.json || \
		$(PY) tools/generate_dataset.py --out $(QS_DATA) $(QS_GEN) $(QS_LOOK)) && \
		echo "generation $$t $$(date +%s)" >> $(QS_WORK)/steps.tsv
	@t=$$(date +%s); $(PY) tools/train.py $(QS_CONFIG) --work-dir $(QS_WORK) --resume && \
		echo "training $$t $$(date +%s)" >> $(QS_WORK)/steps.tsv
	@t=$$(date +%s); $(PY) tools/eval.py $(QS_CONFIG) "$$(cat $(QS_WORK)/last_checkpoint)" \
		--work-dir $(QS_WORK) --out $(QS_WORK)/metrics.json --vis 16 && \
		echo "evaluation $$t $$(date +%s)" >> $(QS_WORK)/steps.tsv
	@echo "training curves: $(QS_WORK)/curves.png"
	@$(PY) tools/quickstart_summary.py $(QS_WORK)/steps.tsv

bench: $(STAMP)
	$(PY) tools/benchmark.py standard --out docs/benchmarks.md $(BENCH_FLAGS) \
		$(if $(MMPOSE_PYTHON),--vs-mmpose --mmpose-python $(MMPOSE_PYTHON))

clean-quickstart:
	rm -rf $(QS_DATA) $(QS_WORK)
