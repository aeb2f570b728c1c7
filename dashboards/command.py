"""``qianliyan dashboards``: generate the board JSON, or push the boards to a Grafana server."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Optional

import typer

logger = logging.getLogger(__name__)

PUSH_MESSAGE = "qianliyan dashboards push"

dashboards_app = typer.Typer(help="Grafana boards of qianliyan.", no_args_is_help=True)


def dashboard_payloads(folder_uid: str, message: str = PUSH_MESSAGE) -> list[dict[str, Any]]:
    """Return the request body of Grafana's ``POST /api/dashboards/db`` for every board.

    Each body replaces the board with the same uid (``overwrite``) in the folder ``folder_uid``.
    """
    from dashboards.boards import build_all
    from dashboards.generate import to_dict

    payloads = []
    for board in build_all():
        document = to_dict(board)
        document["id"] = None
        payloads.append({"dashboard": document, "folderUid": folder_uid, "overwrite": True, "message": message})
    return payloads


def push_boards(api: Any, folder_title: str, folder_uid: str) -> list[str]:
    """Create the folder when it is missing, upload every board into it, and return the board URLs.

    ``api`` is a ``grafana_client.GrafanaApi``.

    Raises:
        grafana_client.client.GrafanaException: Grafana rejected a request or did not respond.
    """
    from grafana_client.client import GrafanaClientError

    try:
        api.folder.get_folder(folder_uid)
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise
        api.folder.create_folder(folder_title, uid=folder_uid)
        logger.info("Grafana folder created folder_uid=%s title=%s", folder_uid, folder_title)

    urls = []
    for payload in dashboard_payloads(folder_uid):
        result = api.dashboard.update_dashboard(payload)
        urls.append(str(result.get("url", "")))
        logger.info("board pushed uid=%s version=%s", payload["dashboard"]["uid"], result.get("version"))
    return urls


@dashboards_app.command()
def push(
    url: Annotated[str, typer.Option(help="Grafana base URL.")] = "http://127.0.0.1:3000",
    token: Annotated[
        Optional[str],
        typer.Option(envvar="QIANLIYAN_GRAFANA_TOKEN", show_default=False, help="Grafana service account token. Unset: use user:password in the URL."),
    ] = None,
    folder: Annotated[str, typer.Option(help="Title of the Grafana folder for the boards.")] = "qianliyan",
    folder_uid: Annotated[str, typer.Option(help="Uid of that folder; the provisioning files use the same.")] = "qianliyan",
    timeout_seconds: Annotated[float, typer.Option(min=0.1, help="Timeout of each request to Grafana.")] = 10.0,
) -> None:
    """Upload every board to a Grafana server, replacing older versions with the same uid."""
    from grafana_client.api import GrafanaApi
    from grafana_client.client import GrafanaException

    from pipeline.alerts.webhook import redact_url

    api = GrafanaApi.from_url(url, credential=token or None, timeout=timeout_seconds)
    try:
        urls = push_boards(api, folder, folder_uid)
    except GrafanaException as exc:
        typer.echo(f"error: pushing the boards to Grafana at {redact_url(url)} failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    for board_url in urls:
        typer.echo(board_url)


@dashboards_app.command()
def generate(check: Annotated[bool, typer.Option(help="Write nothing; exit 1 when a JSON file is out of date.")] = False) -> None:
    """Write the JSON of every board to dashboards/json."""
    from dashboards.generate import main

    status = main(["--check"] if check else [])
    if status:
        raise typer.Exit(status)
