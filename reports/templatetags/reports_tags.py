from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def duration(seconds: float | None) -> str:
    """Seconds → «12 мин», «3 ч 05 мин», «2 дн 4 ч»; «—» when there is no figure."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} мин"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} ч {minutes:02d} мин"
    days, hours = divmod(hours, 24)
    return f"{days} дн {hours} ч"


@register.filter
def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %".replace(".", ",")


@register.filter
def spaced(value: int | float | None) -> str:
    """1234567 → «1 234 567» (thin grouping the Russian way)."""
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u00a0")
    return f"{value:,.2f}".replace(",", "\u00a0").replace(".", ",")
