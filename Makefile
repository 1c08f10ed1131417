# ktriage: two commands do all the set-up on a fresh Debian machine.
#   make demo   install, build a sample crash (lkdtm EXEC_KMALLOC in QEMU), analyze it
#   make test   install, build the real-vmcore corpus, run ruff, mypy and pytest
# Heavy downloads and dumps are cached in $(KTRIAGE_CACHE), never in git.

PYTHON ?= python3
KTRIAGE_CACHE ?= /var/cache/ktriage
export KTRIAGE_CACHE
# Debian packages the tests use besides what tests/vmcores/build installs itself.
APT_PACKAGES = bpftool debuginfod rpm makedumpfile iproute2 util-linux dpkg-dev xz-utils zstd time

.PHONY: install deps corpus demo lint test bench clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

install: deps
	$(PYTHON) -m pip install -q -e '.[dev]'

corpus: install
	tests/vmcores/build

demo: install
	tests/vmcores/build --kernel 6.1 --scenario EXEC_KMALLOC --format mkdf-c-d31
	ktriage analyze --debug-dir $(KTRIAGE_CACHE)/kernels \
	  $$(ls -d $(KTRIAGE_CACHE)/vmcores/6.1*/EXEC_KMALLOC/mkdf-c-d31/vmcore.mkdf-c-d31 | head -n1)

lint:
	ruff check src tests bench
	ruff format --check src tests bench
	mypy

test: corpus
	$(MAKE) lint
	$(PYTHON) -m pytest -q

bench: install
	$(PYTHON) bench/run.py

clean:
	rm -rf build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
