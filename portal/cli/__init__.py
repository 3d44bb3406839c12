"""Command-line interface, grouped by domain; commands call the domain and print one line."""
from flask import Flask

from portal.cli.api_tokens import api_token
from portal.cli.billing import billing
from portal.cli.demo import demo
from portal.cli.insights import insights
from portal.cli.invitations import invitations
from portal.cli.jobs import jobs


def register(app: Flask) -> None:
    for group in (demo, billing, invitations, api_token, jobs, insights):
        app.cli.add_command(group)
