SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: help up notebook test test-sqlite test-postgres test-docker bench bench-peers loadtest lint format migrations clean

help: ## Show the targets and what they do
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

up: ## Install everything and run Atom (web, workers, watcher) with the demo catalog
	@bin/up

notebook: ## Start JupyterLab on notebooks/ for this project (URL and token printed; ATOM_NOTEBOOK_PORT)
	@bin/notebook

test: ## Install everything and run the whole suite on SQLite, then PostgreSQL + Redis
	@bin/test

test-sqlite: ## Run the suite on the embedded default only
	@ATOM_TEST_LEGS=sqlite bin/test

test-postgres: ## Run the suite on PostgreSQL + Redis only
	@ATOM_TEST_LEGS=postgres bin/test

test-docker: ## Start a local Docker engine if none runs and run the Docker tests against it
	@bin/test-docker

bench: ## Run the benchmark suite; prints each figure beside its target
	@bin/bench

bench-peers: ## The same workflows on Atom and on Prefect (installed from PyPI once), side by side
	@bin/bench-peers
loadtest: ## 50 clients for 60 s against Atom on loopback; ARGS="--minutes 30" to soak
	@bin/loadtest $(ARGS)

lint: ## ruff check and ruff format --check
	@. bin/env.sh && "$$UV" run --frozen ruff check . && "$$UV" run --frozen ruff format --check .

format: ## Format and fix what ruff can
	@. bin/env.sh && "$$UV" run --frozen ruff format . && "$$UV" run --frozen ruff check --fix .

migrations: ## Write new migrations after a model change
	@. bin/env.sh && "$$UV" run --frozen python manage.py makemigrations

clean: ## Remove the local data dir, virtualenv and tool cache
	rm -rf data .venv .tools
