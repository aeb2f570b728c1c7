"""Panel, variable and annotation factories shared by the board definitions.

Each factory sets what every board wants alike: the InfluxDB data source from the
``datasource`` variable, a description, a unit, and a size on Grafana's 24-column grid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from grafana_foundation_sdk.builders import bargauge, common, dashboard, heatmap, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as dashboard_models
from grafana_foundation_sdk.models import heatmap as heatmap_models

from dashboards.influxql import DATASOURCE, AnnotationTargetBuilder, InfluxQLAnnotationTarget, InfluxQLTarget

FULL_WIDTH: Final = 24
HALF_WIDTH: Final = 12
THIRD_WIDTH: Final = 8
QUARTER_WIDTH: Final = 6
DEFAULT_HEIGHT: Final = 8

# Colors of Grafana's palette by state name, shared by every state mapping.
HEALTH_COLORS: Final = {"OK": "green", "Warning": "yellow", "Critical": "red"}


def datasource_variable() -> dashboard.DatasourceVariable:
    """Return the ``datasource`` variable that selects the InfluxDB (InfluxQL) data source."""
    return dashboard.DatasourceVariable("datasource").label("InfluxDB").type("influxdb")


def tag_variable(
    name: str,
    label: str,
    measurement: str,
    key: str,
    conditions: Sequence[str] = (),
    *,
    multi: bool = True,
    numeric: bool = False,
) -> dashboard.QueryVariable:
    """Return a variable whose values are the values of one tag of one measurement.

    With ``multi`` the variable offers "All", whose value is the regular expression ``.*``
    so queries stay short on large clusters. Without it one value is selected.
    """
    query = f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "{key}"'
    if conditions:
        query += " WHERE " + " AND ".join(conditions)
    variable = (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(dashboard_models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dashboard_models.VariableSort.NUMERICAL_ASC if numeric else dashboard_models.VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
        .include_all(multi)
    )
    if multi:
        variable = variable.all_value(".*").current(dashboard_models.VariableOption(selected=True, text="All", value="$__all"))
    return variable


def annotation(name: str, color: str, target: InfluxQLAnnotationTarget) -> dashboard.AnnotationQuery:
    """Return an annotation query that marks events from InfluxDB on every time panel."""
    return (
        dashboard.AnnotationQuery()
        .name(name)
        .datasource(DATASOURCE)
        .enable(True)
        .icon_color(color)
        .target(AnnotationTargetBuilder(target))
    )


def timeseries_panel(
    title: str,
    description: str,
    targets: Sequence[InfluxQLTarget],
    unit: str,
    *,
    span: int = HALF_WIDTH,
    height: int = DEFAULT_HEIGHT,
    stacked: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> timeseries.Panel:
    """Return a time series panel with a table legend of mean and max values."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(list(targets))
        .unit(unit)
        .span(span)
        .height(height)
        .line_width(1)
        .fill_opacity(10 if not stacked else 60)
        .legend(
            common.VizLegendOptions()
            .display_mode(common_models.LegendDisplayMode.TABLE)
            .placement(common_models.LegendPlacement.RIGHT)
            .show_legend(True)
            .calcs(["mean", "max"])
        )
        .tooltip(common.VizTooltipOptions().mode(common_models.TooltipDisplayMode.MULTI).sort(common_models.SortOrder.DESCENDING))
    )
    if stacked:
        panel = panel.stacking(common.StackingConfig().mode(common_models.StackingMode.NORMAL))
    if minimum is not None:
        panel = panel.min(minimum)
    if maximum is not None:
        panel = panel.max(maximum)
    return panel


def heatmap_panel(
    title: str,
    description: str,
    target: InfluxQLTarget,
    unit: str,
    *,
    span: int = HALF_WIDTH,
    height: int = DEFAULT_HEIGHT,
    scheme: str = "Oranges",
) -> heatmap.Panel:
    """Return a heatmap with one row per series (rack, node) and time on the x axis.

    The query returns one series per row, so the panel does not bucket values itself
    (``calculate`` off) and labels the rows with the series names.
    """
    return (
        heatmap.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(target)
        .span(span)
        .height(height)
        .calculate(False)
        .rows_frame(heatmap.RowsHeatmapOptions().layout(common_models.HeatmapCellLayout.UNKNOWN).value(title))
        .color(
            heatmap.HeatmapColorOptions()
            .mode(heatmap_models.HeatmapColorMode.SCHEME)
            .scheme(scheme)
            .scale(heatmap_models.HeatmapColorScale.EXPONENTIAL)
            .exponent(0.5)
            .steps(64)
            .fill("dark-orange")
            .reverse(False)
        )
        .cell_values(heatmap.CellValues().unit(unit))
        .y_axis(heatmap.YAxisConfig().axis_placement(common_models.AxisPlacement.LEFT).reverse(False))
        .show_legend()
        .mode(common_models.TooltipDisplayMode.SINGLE)
    )


def state_timeline_panel(
    title: str,
    description: str,
    targets: Sequence[InfluxQLTarget],
    states: Mapping[str, tuple[str, str]],
    *,
    span: int = HALF_WIDTH,
    height: int = DEFAULT_HEIGHT,
) -> statetimeline.Panel:
    """Return a state timeline; ``states`` maps each value to its display text and color."""
    options = {
        value: dashboard_models.ValueMappingResult(text=text, color=color, index=index)
        for index, (value, (text, color)) in enumerate(states.items())
    }
    return (
        statetimeline.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(list(targets))
        .span(span)
        .height(height)
        .mappings([dashboard_models.ValueMap(options=options)])
        .show_value(common_models.VisibilityMode.NEVER)
        .merge_values(True)
        .row_height(0.9)
    )


def health_states() -> dict[str, tuple[str, str]]:
    """Return the state mapping of Redfish health strings."""
    return {value: (value, color) for value, color in HEALTH_COLORS.items()}


def stat_panel(
    title: str,
    description: str,
    targets: Sequence[InfluxQLTarget],
    unit: str,
    *,
    span: int = QUARTER_WIDTH,
    height: int = 4,
    steps: Sequence[tuple[float | None, str]] = ((None, "green"),),
    decimals: int | None = None,
) -> stat.Panel:
    """Return a stat panel of each series' last value, colored by ``steps`` (value, color)."""
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(list(targets))
        .unit(unit)
        .span(span)
        .height(height)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .graph_mode(common_models.BigValueGraphMode.AREA)
        .color_mode(common_models.BigValueColorMode.VALUE)
        .thresholds(_thresholds(steps))
    )
    if decimals is not None:
        panel = panel.decimals(decimals)
    return panel


def bar_gauge_panel(
    title: str,
    description: str,
    targets: Sequence[InfluxQLTarget],
    unit: str,
    *,
    span: int = HALF_WIDTH,
    height: int = DEFAULT_HEIGHT,
    steps: Sequence[tuple[float | None, str]] = ((None, "green"),),
    minimum: float = 0,
    maximum: float | None = None,
) -> bargauge.Panel:
    """Return a horizontal bar gauge of each series' last value."""
    panel = (
        bargauge.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(list(targets))
        .unit(unit)
        .span(span)
        .height(height)
        .min(minimum)
        .orientation(common_models.VizOrientation.HORIZONTAL)
        .display_mode(common_models.BarGaugeDisplayMode.GRADIENT)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(_thresholds(steps))
    )
    if maximum is not None:
        panel = panel.max(maximum)
    return panel


def table_panel(
    title: str,
    description: str,
    targets: Sequence[InfluxQLTarget],
    *,
    span: int = FULL_WIDTH,
    height: int = DEFAULT_HEIGHT,
) -> table.Panel:
    """Return a table of raw rows, newest first; the query must use ``result_format='table'``."""
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(list(targets))
        .span(span)
        .height(height)
        .sort_by([common.TableSortByFieldState().display_name("Time").desc(True)])
        .filterable(True)
    )


def _thresholds(steps: Sequence[tuple[float | None, str]]) -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(dashboard_models.ThresholdsMode.ABSOLUTE)
        .steps([dashboard_models.Threshold(value=value, color=color) for value, color in steps])
    )
