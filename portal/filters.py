"""Jinja filters and helpers: money, the seat usage bar."""
from markupsafe import Markup


def money(amount: int | None, currency: str = "EUR") -> str:
    """Integer minor units as text: 1645 → "16.45 EUR"."""
    if amount is None:
        return "—"
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    return f"{sign}{amount // 100:,}.{amount % 100:02d} {currency}"


def usage(consumed: int, allocated: int) -> Markup:
    """A seat usage bar: a ``<meter>`` (no inline style, which the CSP forbids).

    Python rather than a Jinja macro: it is drawn on every row of the long
    listings, where the macro cost four times as much as this.
    """
    consumed, allocated = int(consumed), int(allocated)  # ints: nothing to escape
    top = allocated or 1
    return Markup(
        f'<meter min="0" max="{top}" low="{top * 0.8:g}" high="{top * 0.95:g}" optimum="0" '
        f'value="{consumed}" title="{consumed} of {allocated} used">{consumed} / {allocated}</meter>'
    )


def register(app) -> None:
    app.add_template_filter(money)
    app.add_template_global(usage)
