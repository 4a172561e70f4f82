# make run  — venv, install, migrate, demo data, then web + worker + beat (honcho)
# make lint — ruff, mypy (django-stubs), import-linter, makemigrations --check
# make test — the whole suite (SQLite by default; DATABASE_URL=postgres://... for PostgreSQL)
# make test-scale — the scale-out run on PostgreSQL + RabbitMQ (tests/scale)
# make bench-day — a center's working hour at a million cases, raised until p99 passes 200 ms
#                  (bench/day.py; PEER=1 also measures django-helpdesk in the same run)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: venv run migrate seed test test-scale test-fast lint format check bench bench-day bench-day-smoke clean webhook-secret

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

migrate: venv
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

# The chat replies go to the test chat backend (deliveries/receiver.py, the Procfile's `chat`)
# unless CHAT_WEBHOOK_URL names a real one. The demo secret is for that local backend only.
CHAT_PORT ?= 8025
DEMO_CHAT_SECRET := whsec_ZnJhdWRjZW50ZXItZGVtby1jaGF0LXNlY3JldC0zMmI=

run: seed
	@echo ""
	@echo "  fraudcenter: http://127.0.0.1:$(PORT)/   (admin: http://127.0.0.1:$(PORT)/admin/)"
	@echo "  test chat backend (gets the replies): http://127.0.0.1:$(CHAT_PORT)/_messages"
	@echo ""
	PORT=$(PORT) CHAT_PORT=$(CHAT_PORT) \
	CHAT_WEBHOOK_URL=$${CHAT_WEBHOOK_URL:-http://127.0.0.1:$(CHAT_PORT)/chat/} \
	CHAT_WEBHOOK_SECRET=$${CHAT_WEBHOOK_SECRET:-$(DEMO_CHAT_SECRET)} \
	$(VENV)/bin/honcho start -f Procfile

# A new Standard Webhooks secret for CHAT_WEBHOOK_SECRET (give the same to the chat team).
webhook-secret:
	@$(PYTHON) -c "import base64, os; print('whsec_' + base64.b64encode(os.urandom(32)).decode())"

test: venv
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The scale-out run: 2 gunicorn + 2 Celery workers + beat on PostgreSQL and RabbitMQ, under load,
# one worker killed mid-send (tests/scale/test_scale_out.py). CI runs it after `make test`.
test-scale: venv
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/fraudcenter} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-amqp://guest:guest@127.0.0.1:5672//} \
	$(VENV)/bin/pytest tests/scale -m scale -p no:randomly $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var/ staticfiles/

bench: venv
	bash bench/run.sh

# BENCH_DAY_ARGS="--steps 500,1000 --step-seconds 30" to change the steps (bench/README.md).
bench-day: venv
	$(PY) bench/day.py $(if $(filter 1,$(PEER)),--peer) $(BENCH_DAY_ARGS)

# What CI runs: 10,000 cases, 50 specialists for 15 s; fails if a request fails.
bench-day-smoke: venv
	$(PY) bench/day.py --smoke
