"""A progress bar for long commands (docs/rules.md rule 43b), on a terminal only.

The domain functions behind ``demo scale``, ``billing run`` and ``jobs run
--until-empty`` take an optional ``progress(done, total)`` callback and know
nothing of terminals; this module turns it into click's bar with the count
and the rate. When the output is not a terminal (cron, a pipe, CI) there is
no callback at all: the command prints its one summary line and nothing else.
"""
import sys
import time
from contextlib import ExitStack, contextmanager
from typing import Callable, Iterator, TextIO

import click

Progress = Callable[[int, int | None], None]
REDRAW_SECONDS = 0.1


def on_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


@contextmanager
def progress_bar(label: str, unit: str, stream: TextIO | None = None) -> Iterator[Progress | None]:
    """Yields a ``progress(done, total)`` callback drawing a bar on ``stream`` (stdout), or None off a terminal.

    ``total`` may be None or grow while the work runs (a queue that fills as
    it drains): the bar's length follows it. The bar shows done/total, the
    percentage, the time left and ``<rate> <unit>/s``.
    """
    stream = stream or sys.stdout
    if not on_terminal(stream):
        yield None
        return
    started = time.perf_counter()

    def rate(done):
        if done is None:
            return ""
        elapsed = time.perf_counter() - started
        return f"{done / elapsed:,.0f} {unit}/s" if elapsed > 0 else ""

    with ExitStack() as stack:
        bar, drawn = None, 0.0

        def progress(done: int, total: int | None) -> None:
            nonlocal bar, drawn
            length = max(done, total or 0, 1)
            if bar is None:  # drawn at the first news: nothing to do, no bar
                bar = stack.enter_context(click.progressbar(
                    length=length, label=label, show_pos=True, show_percent=True, show_eta=True,
                    item_show_func=rate, file=stream))
            now = time.perf_counter()
            if done < length and now - drawn < REDRAW_SECONDS:
                return  # a thousand clients a second need not be a thousand redraws
            drawn = now
            bar.length = length
            bar.update(done - bar.pos, current_item=done)

        yield progress
