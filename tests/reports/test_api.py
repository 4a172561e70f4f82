from __future__ import annotations

from decimal import Decimal

from django.urls import reverse


def test_the_summary_endpoint_gives_the_period_figures(client, manager, dataset):
    client.force_login(manager)
    response = client.get(
        reverse("reports_api:summary"), {"date_from": "2026-03-01", "date_to": "2026-03-31"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["period"] == {
        "date_from": "2026-03-01", "date_to": "2026-03-31", "channel": "", "category": None
    }  # fmt: skip
    assert body["summary"]["total"] == 5
    assert Decimal(body["summary"]["money_amount"]) == Decimal("20000.50")
    assert body["summary"]["repeat"] == 2


def test_the_all_figures_endpoint_filters_by_channel(client, manager, dataset):
    client.force_login(manager)
    response = client.get(
        reverse("reports_api:all"),
        {"date_from": "2026-03-01", "date_to": "2026-03-31", "channel": "hotline"},
    )
    body = response.json()
    assert body["summary"]["total"] == 3
    assert sum(d["total"] for d in body["by_day"]) == 3
    assert set(body) >= {"by_category", "top_phones", "top_senders", "steps", "sms", "specialists"}


def test_bad_parameters_get_a_400_with_a_message_per_field(client, manager):
    client.force_login(manager)
    response = client.get(
        reverse("reports_api:summary"),
        {"date_from": "2026-03-31", "date_to": "2026-03-01", "channel": "fax", "category": "x"},
    )
    assert response.status_code == 400
    errors = response.json()
    assert errors["date_to"] == ["Конец периода раньше начала."]
    assert "channel" in errors and "category" in errors


def test_a_period_longer_than_the_limit_is_refused(client, manager):
    client.force_login(manager)
    response = client.get(
        reverse("reports_api:by_day"), {"date_from": "2020-01-01", "date_to": "2026-01-01"}
    )
    assert response.status_code == 400
    assert "date_to" in response.json()
