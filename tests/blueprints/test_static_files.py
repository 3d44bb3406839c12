"""Static files: cached for a year under a URL that changes with their content (issue 11, defect 13)."""
import os
import re

from flask import url_for


def test_pages_link_static_files_with_their_content_hash(client):
    html = client.get("/login").get_data(as_text=True)
    links = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert links and all(re.search(r"\?v=[0-9a-f]{12}$", link) for link in links), links


def test_a_static_file_is_cached_for_a_year(client):
    html = client.get("/login").get_data(as_text=True)
    css = re.search(r'href="(/static/portal\.css\?v=[0-9a-f]+)"', html).group(1)
    response = client.get(css, buffered=True)
    response.close()
    assert response.status_code == 200
    assert response.cache_control.max_age == 365 * 24 * 3600
    assert response.cache_control.immutable


def test_a_file_asked_for_under_another_version_is_not_cached(client):
    """During a rolling upgrade a page from a server of another release names another hash
    (docs/deploy.md): the file this server has must not be cached under that URL."""
    for url in ("/static/portal.css?v=000000000000", "/static/portal.css"):
        response = client.get(url, buffered=True)
        response.close()
        assert response.status_code == 200
        assert response.cache_control.no_cache and not response.cache_control.immutable
        assert not response.cache_control.max_age


def test_a_changed_file_gets_a_new_url(app, tmp_path):
    static = tmp_path / "static"
    static.mkdir()
    (static / "a.css").write_text("a {}")
    with app.test_request_context():
        original, app.static_folder = app.static_folder, str(static)
        try:
            first = url_for("static", filename="a.css")
            (static / "a.css").write_text("a { color: red }")
            os.utime(static / "a.css", (1, 1))  # another modification time, as an edit makes
            second = url_for("static", filename="a.css")
        finally:
            app.static_folder = original
    assert first != second
