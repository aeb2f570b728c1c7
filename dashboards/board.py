"""The finishing step that every board definition ends with."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as dashboard_models


def builtin_annotation() -> dashboard.AnnotationQuery:
    """Return Grafana's own "Annotations & Alerts" query, which Grafana adds to every new board."""
    return (
        dashboard.AnnotationQuery()
        .name("Annotations & Alerts")
        .datasource(dashboard_models.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
        .enable(True)
        .hide(True)
        .icon_color("rgba(0, 211, 255, 1)")
        .type("dashboard")
        .built_in(1)
        .target(dashboard.AnnotationTarget().limit(100).match_any(False).tags([]).type("dashboard"))
    )


def finish(board: dashboard.Dashboard) -> dashboard_models.Dashboard:
    """Build the board with Grafana's own annotations, a shared crosshair, and panels numbered from 1.

    Panel ids must be unique within a board, because Grafana links, embeds and
    ``viewPanel`` URLs refer to panels by id. The SDK leaves them unset or 0.
    """
    model = board.tooltip(dashboard_models.DashboardCursorSync.CROSSHAIR).timezone("utc").build()
    builtin = builtin_annotation().build()
    model.annotations.list_val = [builtin, *(model.annotations.list_val or [])]

    next_id = 1
    for panel in model.panels or []:
        panel.id_val = next_id
        next_id += 1
        if isinstance(panel, dashboard_models.RowPanel):
            for nested in panel.panels:
                nested.id_val = next_id
                next_id += 1
    return model
