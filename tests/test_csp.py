"""Content-Security-Policy: every page forbids inline script, inline style and eval, and the
templates give it nothing inline to forbid (the browser tests catch what slips through)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

TEMPLATE_DIRS = [
    Path(settings.BASE_DIR) / "templates",
    Path(settings.BASE_DIR) / "cases" / "jinja2",
]


def _directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in header.split(";") if d.strip()}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    ["/login/", "/", "/cases/", "/cases/new/", "/queue/", "/reports/", "/admin/", "/cases/999999/"],
)
def test_every_page_allows_scripts_and_styles_from_our_origin_only(client, supervisor, url):
    client.force_login(supervisor)
    policy = _directives(client.get(url))
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
def test_the_api_docs_loosen_styles_only(client):
    for url in ("/api/docs/", "/api/redoc/"):
        policy = _directives(client.get(url))
        assert policy["script-src"] == ["'self'"], url
        assert "'unsafe-inline'" in policy["style-src"], url
    # Swagger UI's init script is a separate request from our origin, not inline.
    html = client.get("/api/docs/").content.decode()
    assert re.search(r'<script src="/api/docs/\?script="', html)
    assert client.get("/api/docs/?script=")["Content-Type"].startswith("application/javascript")


def test_the_redoc_page_loads_nothing_from_another_host(client):
    html = client.get("/api/redoc/").content.decode()
    assert "googleapis" not in html and "gstatic" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)


def _templates():
    for root in TEMPLATE_DIRS:
        yield from (p for p in root.rglob("*.html"))


def test_no_template_has_an_inline_script_style_or_handler():
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
    offenders = []
    for path in _templates():
        text = path.read_text()
        if inline_script.search(text):
            offenders.append(f"{path}: inline <script>")
        if re.search(r"<style\b|\sstyle=", text):
            offenders.append(f"{path}: inline style")
        if re.search(r"\son[a-z]+=|\bhx-on|javascript:", text):
            offenders.append(f"{path}: inline handler")
    assert offenders == []


def test_no_django_template_has_a_multi_line_short_comment():
    """Django's {# #} is one line only: a multi-line one is shown on the page as text."""
    offenders = [
        str(path)
        for path in (Path(settings.BASE_DIR) / "templates").rglob("*.html")
        if any("\n" in m for m in re.findall(r"\{#(.*?)#\}", path.read_text(), re.S))
    ]
    assert offenders == []
