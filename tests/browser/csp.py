"""Chromium reports every Content-Security-Policy refusal on the console; a browser test that
watches its page fails on any, so each page the browser tests walk is a CSP test too."""

from __future__ import annotations

# Redoc's bundle draws its credit logo from its CDN, unconditionally; the CSP refuses it before
# any request leaves, the image hides itself on error and the page is complete without it.
REDOC_CREDIT_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def watch_csp(page) -> list[str]:
    refused: list[str] = []

    def on_console(message) -> None:
        if "Content Security Policy" in message.text and REDOC_CREDIT_LOGO not in message.text:
            loc = message.location
            refused.append(f"{page.url} ({loc.get('url')}:{loc.get('lineNumber')}): {message.text}")

    page.on("console", on_console)
    return refused
