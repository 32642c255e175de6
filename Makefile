# The two commands of the quick start.
PYTHON ?= python3

.PHONY: demo test install install-test

install:
	$(PYTHON) -m pip install -q -e .

install-test:
	bash scripts/install-system-deps.sh
	$(PYTHON) -m pip install -q -e '.[test]'

## make demo: install, serve the bundled demo portal, crawl it, print the findings
## (sitecheck exits 1 when it finds faults, as it must on the demo; 2 or more is a real error)
demo: install
	sitecheck demo run || [ $$? -eq 1 ]

## make test: install (system packages too, when root) and run the whole test suite
test: install-test
	$(PYTHON) -m pytest
