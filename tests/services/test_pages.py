"""One page of a list (portal.domain.pages): the count beside the rows gives the page two statements would."""
import pytest
from sqlalchemy import event, select

from portal.domain.pages import paginate
from portal.extensions import db
from portal.models import User
from tests.factories import UserFactory

PER_PAGE = 3


@pytest.fixture
def users_of_acme(acme):
    for n in range(8):
        UserFactory(organisation=acme, member=True, name=f"Member {n}")
    return select(User).where(User.organisation_id == acme.id).order_by(User.name, User.id)


@pytest.fixture
def statements():
    seen = []

    def note(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    yield seen
    event.remove(db.engine, "before_cursor_execute", note)


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
