"""The one thing pyproject.toml cannot say: the top-level migrations/ ships inside the wheel.

Alembic's scripts stay at the top of the repository, where `flask db` finds them in a clone;
the wheel carries them as the package ``portal.migrations`` (its data files are listed in
pyproject.toml), so `flask --app portal db upgrade` works after `pip install .`
(docs/rules.md rules 42-43, ``portal.web.assets.migrations_directory``).
"""
from setuptools import find_namespace_packages, setup

setup(
    packages=find_namespace_packages(include=["portal*"]) + ["portal.migrations", "portal.migrations.versions"],
    package_dir={"portal.migrations": "migrations"},
)
