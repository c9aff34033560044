.PHONY: run test bench bench-quick lint
run:
	python3 dev.py run
test:
	python3 dev.py test
bench:
	python3 dev.py bench
bench-quick:
	python3 dev.py bench --quick
lint:
	.venv/bin/ruff check .
