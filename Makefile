# Two commands: `make book` builds the HTML book, `make test` runs every check.
# Both create .venv on first use. torch==2.13.0 is the local CPU build on our machines;
# elsewhere set TORCH="torch>=2.2" (or your CUDA build) on the command line.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: book test venv lint unit notebooks clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[book,test,ray]"
	touch $@

venv: $(VENV)/.installed

book: venv
	$(VENV)/bin/jupyter-book build --all -W --keep-going .
	test -f _build/html/index.html
	@echo "book built: open _build/html/index.html"

lint: venv
	$(VENV)/bin/ruff check qtran_lib tests benchmarks

unit: venv
	$(PY) -m pytest tests -q -ra

notebooks: venv
	$(PY) -m pytest --nbval book/ -q
	ATEN_CPU_CAPABILITY=default $(PY) -m pytest --nbval book/ -q

# The second run repeats the notebooks and the reproduction claims on torch's scalar kernels
# (ATEN_CPU_CAPABILITY=default): a "different CPU" on any machine, so that a claim or a stored output
# that holds on one CPU only fails here (CONTRIBUTING.md).
test: venv lint
	$(PY) -m pytest --nbval tests book -q -ra
	ATEN_CPU_CAPABILITY=default QTRAN_REPRO_SEEDS=3 $(PY) -m pytest --nbval book tests/test_reproduction.py -q -ra
	$(MAKE) book

clean:
	rm -rf _build .venv
