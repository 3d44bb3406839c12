"""One page of a list (portal.domain.pages): the count beside the rows gives the page two statements would."""
import pytest
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.domain.pages import paginate
from portal.models import RoleAssignment, User
from tests.factories import SiteFactory, UserFactory

PER_PAGE = 3


@pytest.fixture
def users_of_acme(acme):
    for n in range(8):
        UserFactory(organisation=acme, member=True, name=f"Member {n}")
    return select(User).where(User.organisation_id == acme.id).order_by(User.name, User.id)


def _shown(page):
    return [user.id for user in page.rows], page.total, page.page, page.pages


@pytest.mark.parametrize("asked", [1, 2, 3, 4, 99])
def test_the_count_beside_the_rows_gives_the_same_page(users_of_acme, asked):
    beside = paginate(users_of_acme, asked, PER_PAGE, counted_beside=True)
    apart = paginate(users_of_acme, asked, PER_PAGE)
    assert _shown(beside) == _shown(apart)
    assert beside.total == 8 and beside.pages == 3
    assert beside.page == min(asked, 3)  # past the end: the last page, as for people
    assert len(beside.rows) == (2 if beside.page == 3 else PER_PAGE)


def test_a_page_with_rows_is_one_statement_and_a_page_past_the_end_three(users_of_acme, statements):
    paginate(users_of_acme, 2, PER_PAGE, counted_beside=True)
    assert len(statements) == 1 and "OVER" in statements[0].upper()
    statements.clear()
    paginate(users_of_acme, 7, PER_PAGE, counted_beside=True)
    assert len(statements) == 3  # the empty page, the count, the last page


def test_programs_get_an_empty_page_past_the_end_with_the_total(users_of_acme):
    page = paginate(users_of_acme, 5, PER_PAGE, clamp_to_last=False, counted_beside=True)
    assert (page.rows, page.total, page.page) == ([], 8, 5)


def test_a_collection_joined_to_the_page_neither_repeats_nor_drops_rows(acme, users_of_acme, statements):
    """The client page joins each user's roles and their sites: a user of two roles is one row, each page
    still holds PER_PAGE users, and the roles are loaded by the page's one statement."""
    lyon, paris = SiteFactory(client=acme, name="Lyon"), SiteFactory(client=acme, name="Paris")
    for n in range(3):
        UserFactory(organisation=acme, name=f"Manager {n}", site_manager=True, accountant=True, sites=[lyon, paris])
    roles = (joinedload(User.role_assignments).joinedload(RoleAssignment.sites),)
    statements.clear()

    joined = [paginate(users_of_acme, page, PER_PAGE, counted_beside=True, options=roles) for page in (1, 2, 3, 4)]
    managers = [user for page in joined for user in page.rows if user.name.startswith("Manager")]
    assert len(managers) == 3
    assert all(sorted(a.role for a in user.role_assignments) == ["accountant", "site_manager"] for user in managers)
    assert all(sorted(site.name for site in a.sites) == ["Lyon", "Paris"]
               for user in managers for a in user.role_assignments)
    assert len([s for s in statements if s != "BEGIN"]) == 4  # one per page: none to read the roles

    apart = [paginate(users_of_acme, page, PER_PAGE) for page in (1, 2, 3, 4)]
    assert [_shown(page) for page in joined] == [_shown(page) for page in apart]
    assert joined[0].total == 11 and [len(page.rows) for page in joined] == [3, 3, 3, 2]
