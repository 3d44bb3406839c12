"""Jinja filters for money and dates."""


def money(amount: int | None, currency: str = "EUR") -> str:
    """Integer minor units as text: 1645 → "16.45 EUR"."""
    if amount is None:
        return "—"
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    return f"{sign}{amount // 100:,}.{amount % 100:02d} {currency}"


def register(app) -> None:
    app.add_template_filter(money)
