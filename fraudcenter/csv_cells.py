"""A text cell a spreadsheet would run as a formula (OWASP, "CSV injection") starts with one
of these. Every CSV the application writes gives such a cell a leading apostrophe (shown as
text, not evaluated); the XLSX writes every text as a string cell."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text
