# The README's Quick start uses exactly two targets: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEMO_ARGS ?= dataset=digits mode=health trials=8 max_epochs=5 seed=42

export KERAS_HOME ?= $(CURDIR)/.hpo_home/keras
export MPLCONFIGDIR ?= $(CURDIR)/.hpo_home/matplotlib
export TF_CPP_MIN_LOG_LEVEL ?= 2

OPTUNA_PREVIOUS_MAJOR ?= 4.9.0
OPTUNA_PREVIOUS_DIR := .hpo_home/optuna-$(OPTUNA_PREVIOUS_MAJOR)

.PHONY: demo test install lint typecheck imports unit schemas dashboards k8s-monitoring optuna-compat lock clean images images-quick

LOCK := requirements/dev.lock

# grafana-client pulls urllib3-future: built from source with URLLIB3_NO_OVERRIDE=1 it leaves urllib3 alone.
$(INSTALLED): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	URLLIB3_NO_OVERRIDE=1 $(BIN)/pip install --quiet --no-binary urllib3-future -c $(LOCK) -e '.[dev]'
	touch $(INSTALLED)

## Re-resolve every dependency (after changing pyproject.toml) into the lock that installs use.
lock: $(INSTALLED)
	$(BIN)/pip-compile --quiet --upgrade --extra dev --strip-extras --allow-unsafe --no-emit-index-url \
		--no-emit-find-links --output-file $(LOCK) pyproject.toml
	$(BIN)/python requirements/strip_self.py $(LOCK)

install: $(INSTALLED)

## A real optimization, offline, on the bundled digits data.
demo: $(INSTALLED)
	$(BIN)/hpo optimize $(DEMO_ARGS)

## Everything CI checks: lint, types, architecture boundaries, the whole test suite.
test: $(INSTALLED) lint typecheck imports
	$(BIN)/pytest -q --durations=15
	$(MAKE) --no-print-directory optuna-compat

## The scheduler's Optuna suites once more on the previous Optuna major (the installed one is the current major).
optuna-compat: $(INSTALLED)
	test -d $(OPTUNA_PREVIOUS_DIR) || $(BIN)/pip install --quiet --no-deps --target $(OPTUNA_PREVIOUS_DIR) optuna==$(OPTUNA_PREVIOUS_MAJOR)
	PYTHONPATH=$(OPTUNA_PREVIOUS_DIR) $(BIN)/python -c "import optuna; assert optuna.__version__ == '$(OPTUNA_PREVIOUS_MAJOR)', optuna.__version__"
	PYTHONPATH=$(OPTUNA_PREVIOUS_DIR) $(BIN)/pytest -q tests/contract/optuna_record tests/unit/scheduler -m "not slow"

lint: $(INSTALLED)
	$(BIN)/ruff check contracts services dashboards tests benchmarks
	$(BIN)/ruff format --check contracts services dashboards tests benchmarks

typecheck: $(INSTALLED)
	$(BIN)/mypy

imports: $(INSTALLED)
	$(BIN)/lint-imports

schemas: $(INSTALLED)
	$(BIN)/python -m contracts.schema_export

## Regenerate the Grafana dashboards' JSON (and dashboards/METRICS.md) from the code in dashboards/.
dashboards: $(INSTALLED)
	$(BIN)/python -m dashboards.generate
	$(MAKE) --no-print-directory k8s-monitoring

MONITORING_FILES := k8s/components/monitoring/files
## Copy deploy/prometheus, deploy/grafana and the dashboards' JSON into the k8s monitoring component
## (kustomize reads only below a kustomization; tests/deploy checks the copies are the same).
k8s-monitoring:
	rm -rf $(MONITORING_FILES)
	mkdir -p $(MONITORING_FILES)/prometheus/rules $(MONITORING_FILES)/grafana $(MONITORING_FILES)/dashboards
	cp deploy/prometheus/prometheus.yml $(MONITORING_FILES)/prometheus/
	cp deploy/prometheus/rules/*.yml $(MONITORING_FILES)/prometheus/rules/
	cp -r deploy/grafana/datasources deploy/grafana/dashboards $(MONITORING_FILES)/grafana/
	cp dashboards/*.json $(MONITORING_FILES)/dashboards/

## Container images (docker_build_script.sh): every layer anew, or only the code layer on cached dependencies.
images:
	./docker_build_script.sh full

images-quick:
	./docker_build_script.sh quick

clean:
	rm -rf $(VENV) .hpo_home .mypy_cache .ruff_cache
