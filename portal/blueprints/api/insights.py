"""Insight (docs/rules.md rule 36): idle seats, sites running out and monthly recurring revenue, as JSON.

The same functions as the insight page and its CSV (``portal.domain.insights``),
every row of each list. The response models live here, beside their one operation.
"""
from pydantic import Field

from portal.blueprints.api.auth import actor, require
from portal.blueprints.api.prices import money
from portal.blueprints.api.registry import operation
from portal.blueprints.api.schemas import Money, Out
from portal.domain import insights
from portal.rbac import permissions


class IdleSeatOut(Out):
    client_id: int
    site_id: int
    subscription_type: str = Field(description="The type's code.")
    idle_seats: int = Field(description="The fewest free seats at the end of each of the 30 days up to yesterday "
                                        "(never more than free now).")
    saving_per_period: Money = Field(description="Idle seats × the client's unit price for its next period (the "
                                                 "price as now set, in that period's cycle).")


class RunningOutOut(Out):
    client_id: int
    site_id: int
    subscription_type: str = Field(description="The type's code.")
    free: int
    days_left: int | None = Field(description="0 when no seat is free; else floor(free × 30 / the consumed "
                                              "seats gained over the last 30 days), at most 14.")


class RecurringRevenueOut(Out):
    total: Money = Field(description="Σ allocated seats × each client's monthly price (an annual price counted "
                                     "as a twelfth, rounded half-up per client), before tax, clients in trial "
                                     "left out; in the catalogue's currency.")
    change_30d: Money = Field(description="The total now less the total of the seats allocated 30 days ago, at "
                                          "today's prices.")


class InsightsOut(Out):
    idle: list[IdleSeatOut] = Field(description="Biggest saving first.")
    running_out: list[RunningOutOut] = Field(description="Fewest days left first.")
    mrr: RecurringRevenueOut


@operation("GET", "/insights", summary="Idle seats, sites running out and monthly recurring revenue",
           permission=permissions.view_subscriptions, response=InsightsOut, errors=(403,))
def get_insights():
    """Over every client in reach (a site-limited role: its sites). ``idle``: seats of a site and type that
    stayed free every day of the 30 days up to yesterday, with what lowering them at the next period saves.
    ``running_out``: no free seat, or none left within 14 days at the last 30 days' net growth. ``mrr``: the
    monthly recurring revenue and its change over 30 days."""
    user = actor()
    require(insights.capability(user.organisation))
    idle = insights.idle_seats(user)
    running = insights.running_out(user)
    revenue = insights.recurring_revenue(user, with_clients=False)
    return {
        "idle": [{"client_id": row.client_id, "site_id": row.site_id, "subscription_type": row.subscription_type,
                  "idle_seats": row.idle_seats, "saving_per_period": money(row.saving_per_period, row.currency)}
                 for row in idle.rows],
        "running_out": [{"client_id": row.client_id, "site_id": row.site_id,
                         "subscription_type": row.subscription_type, "free": row.free, "days_left": row.days_left}
                        for row in running.rows],
        "mrr": {"total": money(revenue.total, revenue.currency),
                "change_30d": money(revenue.change_30d, revenue.currency)},
    }
