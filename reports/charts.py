"""Charts drawn on the server as inline SVG: no browser code, readable without scripts.

These functions only compute geometry; templates/reports/_chart_*.html draw it."""

from __future__ import annotations

import math
from typing import Any

from django.utils.translation import gettext as _

from cases.models import Channel

CHANNEL_COLORS: dict[str, str] = {
    Channel.HOTLINE: "#0b62d6",
    Channel.CHAT: "#1a9e77",
    Channel.OTHER: "#d98c1f",
}


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """0 and round steps (1, 2, 5 × 10^k) up to at least `maximum`."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(step, 1)
    top = math.ceil(maximum / step) * step
    return [i * step for i in range(int(top / step) + 1)]


def stacked_by_day(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Contacts per day, one stacked bar per day, one colour per channel."""
    width, height = 960, 320
    left, right, top, bottom = 64, 16, 16, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = nice_ticks(max((r["total"] for r in rows), default=0))
    y_max = ticks[-1]
    n = max(len(rows), 1)
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.75)
    every = max(1, math.ceil(n / 16))  # at most ~16 date labels
    bars, labels = [], []
    for i, r in enumerate(rows):
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h
        for ch in Channel.values:
            value = r[ch]
            if not value:
                continue
            h = plot_h * value / y_max
            y -= h
            bars.append({
                "x": round(x, 1), "y": round(y, 1), "w": round(bar_w, 1), "h": round(h, 1),
                "color": CHANNEL_COLORS[ch],
                "title": f"{r['day']:%d.%m.%Y}: {Channel(ch).label} — {value}",
            })  # fmt: skip
        if i % every == 0:
            labels.append({"x": round(left + i * slot + slot / 2, 1), "text": f"{r['day']:%d.%m}"})
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "top": top,
        "bottom": top + plot_h,
        "bars": bars,
        "x_labels": labels,
        "x_label_y": top + plot_h + 18,
        "y_ticks": [
            {"y": round(top + plot_h - plot_h * t / y_max, 1), "text": f"{t:,}".replace(",", " ")}
            for t in ticks
        ],
        "x_title": _("Дата (московское время)"),
        "x_title_x": left + plot_w / 2,
        "x_title_y": height - 12,
        "y_title": _("Обращений в день"),
        "y_title_x": 16,
        "y_title_y": top + plot_h / 2,
        "legend": [
            {"color": CHANNEL_COLORS[value], "text": str(label)} for value, label in Channel.choices
        ],
    }


def horizontal_bars(rows: list[dict[str, Any]], *, label_key: str, value_key: str) -> dict:
    """One horizontal bar per row (categories), the count written at the bar's end."""
    label_w, right, top, row_h, bottom = 400, 60, 8, 28, 44
    width = 960
    plot_w = width - label_w - right
    ticks = nice_ticks(max((r[value_key] for r in rows), default=0))
    x_max = ticks[-1]
    bars = []
    for i, r in enumerate(rows):
        w = plot_w * r[value_key] / x_max
        y = top + i * row_h
        bars.append({
            "y": y + 4, "h": row_h - 8, "w": round(w, 1), "label": r[label_key],
            "label_y": y + row_h / 2 + 5, "value": r[value_key],
            "value_x": round(label_w + w + 6, 1),
        })  # fmt: skip
    plot_bottom = top + max(len(rows), 1) * row_h
    return {
        "width": width,
        "height": plot_bottom + bottom,
        "left": label_w,
        "top": top,
        "bottom": plot_bottom,
        "bars": bars,
        "x_ticks": [
            {"x": round(label_w + plot_w * t / x_max, 1), "text": f"{t:,}".replace(",", " ")}
            for t in ticks
        ],
        "x_tick_y": plot_bottom + 16,
        "x_title": _("Обращений за период"),
        "x_title_x": label_w + plot_w / 2,
        "x_title_y": plot_bottom + 38,
    }
