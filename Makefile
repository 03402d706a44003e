# Two entry points for a fresh Debian machine (root, Python 3.11 with venv, gcc):
#   make demo   install bgpcore into .venv and run its demo
#   make test   install .[test] and the peer daemons, then run the whole test suite

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST := $(PY) -m pytest -ra -q

# Codec tests run a second time on the pure-Python path (BGPCORE_NO_EXTENSIONS=1), so both
# the Cython extension and its fallback are exercised in one CI run. CI also sets
# BGPCORE_REQUIRE_EXTENSIONS=1 so that an extension that failed to build fails the first pass.
CODEC_TESTS ?= tests/unit/wire tests/vectors tests/property

.PHONY: demo test test-all test-pure-python test-deps bench typecheck fuzz clean

demo: $(VENV)/.installed
	$(PY) -m bgpcore demo

test: test-deps $(VENV)/.installed-test
	$(PYTEST)
	$(MAKE) test-pure-python

test-pure-python: $(VENV)/.installed-test
	@dirs="$(wildcard $(CODEC_TESTS))"; \
	files="$${dirs:+$$(find $$dirs -name 'test_*.py')}"; \
	if [ -n "$$files" ]; then \
		echo "== codec tests again on the pure-Python path =="; \
		BGPCORE_NO_EXTENSIONS=1 BGPCORE_REQUIRE_EXTENSIONS= $(PY) -m pytest -q $$dirs; \
	else \
		echo "no codec tests under $(CODEC_TESTS): pure-Python pass skipped"; \
	fi

test-deps:
	bash scripts/install-test-deps.sh

# Long fuzz of a live route reflector (tests/fuzz): mutated OPEN/UPDATE streams until
# BGPCORE_FUZZ_MESSAGES were sent (or BGPCORE_FUZZ_EXAMPLES batches, or BGPCORE_FUZZ_SECONDS if
# set); the normal test run does 200 batches.
BGPCORE_FUZZ_MESSAGES ?= 1000000
BGPCORE_FUZZ_EXAMPLES ?= 10000000
fuzz: $(VENV)/.installed-test
	BGPCORE_FUZZ_MESSAGES=$(BGPCORE_FUZZ_MESSAGES) BGPCORE_FUZZ_EXAMPLES=$(BGPCORE_FUZZ_EXAMPLES) \
		BGPCORE_FUZZ_SECONDS=$(BGPCORE_FUZZ_SECONDS) \
		$(PY) -m pytest -q -s -p no:cacheprovider -p no:logging tests/fuzz

typecheck: $(VENV)/.installed-test
	$(PY) -m mypy

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_codec.py

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Editable installs build the optional extension in place, so tests run from the tree use it.
$(VENV)/.installed: $(VENV)/bin/python pyproject.toml $(wildcard setup.py)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/bin/python pyproject.toml $(wildcard setup.py)
	$(PY) -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) build dist *.egg-info
