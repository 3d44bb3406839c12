"""The partner's client list (``queries.client_page``): every page, in each order, holds the right clients
with the right seat sums (issue 17: in name order the page is cut before its sums are worked out)."""
import pytest
from sqlalchemy import func, select

from portal.domain.errors import Conflict
from portal.domain.orgs import clients
from portal.domain.seats import queries
from portal.extensions import db
from portal.models import Organisation
from tests.factories import AllocationFactory, ClientFactory, SiteFactory

PER_PAGE = 3


@pytest.fixture
def listing(northwind, essentials):
    """Seven clients of Northwind, each with two sites of seats: (id, name, allocated, consumed) of each."""
    expected = []
    for n, name in enumerate(["Delta", "Alpha", "Echo", "Bravo", "Foxtrot", "Golf", "Charlie"]):
        client = ClientFactory(parent=northwind, name=name, billed=False)
        for site_number in range(2):
            site = SiteFactory(client=client, name=f"Site {site_number}")
            AllocationFactory(site=site, subscription_type=essentials, allocated=n + site_number + 1,
                              consumed=site_number, holders=False)
        expected.append((client.id, name, 2 * n + 3, 1))
    return expected


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_every_page_in_name_order_holds_its_clients_with_their_sums(nw_admin, listing, direction):
    ordered = sorted(listing, key=lambda row: row[1], reverse=direction == "desc")

    pages = [queries.client_page(nw_admin, sort="name", direction=direction, page=n, per_page=PER_PAGE)
             for n in (1, 2, 3)]

    shown = [(row.id, row.name, row.allocated, row.consumed) for page in pages for row in page.rows]
    assert shown == ordered
    assert [len(page.rows) for page in pages] == [3, 3, 1] and pages[0].total == 7


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("q, per_page", [("", 2), ("", 4), ("a", 1), ("a", 3)])
def test_pages_past_the_middle_read_from_the_end_hold_the_same_clients(nw_admin, listing, direction, q, per_page):
    """Pages past the middle are read from the far end of the index: the same rows, in the same order."""
    matching = [row for row in listing if q in row[1].lower()]
    ordered = sorted(matching, key=lambda row: row[1], reverse=direction == "desc")
    pages = -(-len(ordered) // per_page)

    shown = [[(row.id, row.name, row.allocated, row.consumed) for row in
              queries.client_page(nw_admin, q=q, direction=direction, page=n, per_page=per_page).rows]
             for n in range(1, pages + 1)]

    assert shown == [ordered[start:start + per_page] for start in range(0, len(ordered), per_page)]


def test_sorting_by_free_seats_still_sums_every_client(nw_admin, listing):
    page = queries.client_page(nw_admin, sort="free", direction="desc", page=1, per_page=PER_PAGE)
    assert [row.allocated - row.consumed for row in page.rows] == [14, 12, 10]


def _clients_of(partner) -> int:
    return db.session.scalar(select(func.count(Organisation.id)).where(Organisation.kind == "client",
                                                                       Organisation.parent_id == partner.id))


def test_the_partner_counts_its_clients_as_they_are_created(northwind, nw_admin, listing):
    clients.create_client(nw_admin, northwind, "Hotel", "monthly")
    clients.create_client(nw_admin, northwind, "India", "annual", trial_days=14)
    with pytest.raises(Conflict):  # a name taken: nothing created, nothing counted
        clients.create_client(nw_admin, northwind, "Hotel", "monthly")
    db.session.rollback()
    db.session.refresh(northwind)
    assert northwind.client_count == _clients_of(northwind) == 9


def _counts(statements) -> list[str]:
    return [each for each in statements if each.lstrip().upper().startswith("SELECT COUNT")]


def test_the_whole_list_takes_its_total_from_the_counter_and_a_search_counts(nw_admin, listing, statements):
    whole = queries.client_page(nw_admin, page=1, per_page=PER_PAGE)
    counted_whole = _counts(statements)
    statements.clear()
    searched = queries.client_page(nw_admin, q="a", page=1, per_page=PER_PAGE)
    counted_search = _counts(statements)
    assert (whole.total, counted_whole) == (7, [])
    # Alpha, Bravo, Charlie and Delta hold an "a" (case aside); Echo, Foxtrot and Golf do not.
    assert (searched.total, len(counted_search)) == (4, 1)


def test_clients_without_sites_or_seats_are_listed_with_none(nw_admin, northwind):
    """The sums come from a join grouped by client: a client with no site, or sites without seats, still
    has its row, at 0 / 0."""
    bare = ClientFactory(parent=northwind, name="Bare", billed=False)
    SiteFactory(client=ClientFactory(parent=northwind, name="Empty site", billed=False), name="Nothing here")

    rows = queries.client_page(nw_admin, q="", sort="name", page=1, per_page=50).rows

    listed = {row.name: (row.allocated, row.consumed) for row in rows}
    assert listed["Bare"] == (0, 0) and listed["Empty site"] == (0, 0)
    assert bare.id in {row.id for row in rows}
    for sort in ("allocated", "consumed", "free"):  # summed the same way over every client, then sorted
        fewest = queries.client_page(nw_admin, sort=sort, direction="asc", page=1, per_page=2).rows
        assert [(row.name, row.allocated, row.consumed) for row in fewest] == [("Bare", 0, 0), ("Empty site", 0, 0)]
