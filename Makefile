# The two commands of README.md, plus a few for development.
#   make report                 execute every notebook (profile cpu), reusing stored runs
#   make report PROFILE=paper   the papers' full recipe (GPU)
#   make report RETRAIN=1       train again even where results exist
#   make report NOTEBOOKS=01    only notebooks whose name starts with 01
#   make lab                    JupyterLab on the notebooks, with this project's kernel
#   make test                   the test suite (no downloaded data needed)
#   make bench                  training throughput against a common-way baseline
#   make campaign PROFILE=paper HOURS=0.15   train the most important unfinished runs for a
#                               time budget, then checkpoint; partial runs go to results/<profile>/partial/
#   make campaign PROFILE=paper STATUS=1     what is done, running, queued, partial or missing, and the cost to go
#   make campaign PROFILE=paper EXECUTOR=slurm CLUSTER="--partition gpu --account abc"
#                               one Slurm job per unfinished run, through submitit (cluster.py)
#   make tables PROFILE=paper   notebooks 05-06's costly analysis tables, on the GPU where there
#                               is one; the notebooks then read them (resnet_lib/tables.py)

PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
PROFILE  ?= cpu
RETRAIN  ?= 0
NOTEBOOKS ?=
PYTEST_ARGS ?=
HOURS    ?=
STATUS   ?= 0
WORKERS  ?=
LAB_ARGS ?=
EXECUTOR ?= local
CLUSTER  ?=

.PHONY: env report lab test bench campaign tables sync clean

env: $(VENV)/.installed

# Rebuilt when pyproject.toml changes. torch/torchvision are pinned there; pip takes them from
# the local disk on this study's machines and from PyPI elsewhere.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

report: env
	$(PY) -m resnet_lib.report --profile $(PROFILE) $(if $(filter 1,$(RETRAIN)),--retrain) $(NOTEBOOKS)

# The server's root is the project (results/ and figures/ in reach); it opens on notebooks/.
# A notebook's kernel is this environment's python, started in notebooks/ as papermill does.
# As root (containers, these study machines) Jupyter refuses to start without --allow-root.
lab: env
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

test: env
	$(PY) -m pytest $(PYTEST_ARGS)

bench: env
	$(PY) -m resnet_lib.bench

campaign: env
	$(PY) -m resnet_lib.campaign --profile $(PROFILE) --executor $(EXECUTOR) \
		$(if $(filter 1,$(STATUS)),--status,$(if $(HOURS),--hours "$(HOURS)")) \
		$(if $(WORKERS),--workers $(WORKERS)) \
		$(if $(MAX_RUN_HOURS),--max-run-hours $(MAX_RUN_HOURS)) $(CLUSTER)

tables: env
	$(PY) -m resnet_lib.tables --profile $(PROFILE)

# After editing a notebook in JupyterLab (or its .py), bring the pair back in step.
sync: env
	$(VENV)/bin/jupytext --sync notebooks/[0-9][0-9]_*.py

clean:
	rm -rf .cache results/smoke figures/smoke .pytest_cache
