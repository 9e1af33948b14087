# Two commands matter: `make run` starts the assistant, `make test` runs every test.
SHELL := /bin/bash
# Rasa's telemetry and its Sentry error reports would reach the internet.
export RASA_TELEMETRY_ENABLED := false
VENV := .venv
PY := $(VENV)/bin/python
# Rasa 3.6 needs Python 3.10; pyenv's shim may hide it, so look in the usual places.
PYTHON310 ?= $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && echo $$p && break; done)

.PHONY: run test eval venv train chromium clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.lock
	@test -n "$(PYTHON310)" || { echo "Python 3.10 not found: install it (e.g. pyenv install 3.10.13)"; exit 1; }
	test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.lock
	touch $@

# The socket.io client that the product serves to the web chat widget, and
# axe-core for the accessibility test, both pinned in package-lock.json.
NODE_DEPS := node_modules/.package-lock.json

$(NODE_DEPS): package-lock.json
	npm ci --no-audit --no-fund
	touch $@

train: venv
	$(PY) -m bot.runner --train-only

run: venv $(NODE_DEPS)
	$(PY) -m bot.runner

test: venv $(NODE_DEPS) train
	$(PY) -m bot.rasa_ext.cli data validate --fail-on-warnings --quiet
	$(PY) -m bot.rasa_ext.cli test core --stories tests/conversations --model models/hpsm.tar.gz \
		--fail-on-prediction-errors --out var/test-results --quiet
	$(PY) -m pytest -q

eval: venv train
	start=$$(date +%s); \
	$(PY) -m bot.rasa_ext.cli test nlu --nlu data/nlu --cross-validation --folds 3 \
		--out var/nlu-eval --quiet && \
	$(PY) -m bot.eval_report var/nlu-eval docs/nlu-evaluation.md \
		--cv-seconds $$(( $$(date +%s) - start ))
	$(PY) -m bot.readability --report
	$(PY) -m bot.safety --report
	$(PY) -m bench.turn_time --report docs/performance.md
	$(PY) -m bench.queue_bench --report docs/workspace-performance.md

# The browser tests drive Debian's Chromium (/usr/bin/chromium) through Playwright;
# Playwright's own browser download is not used.
chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

clean:
	rm -rf var/test-results var/nlu-eval models
