"""Charts of the weekly report as inline SVG drawn on the server: no CDN, no script, nothing for the
Content-Security-Policy to allow, and they print.

Every mark carries the value it draws (`data-figure`, `data-key`, `data-value`, as the report's JSON writes
it) and a <title> in words, so screen readers read the numbers and tests compare the chart with the JSON.
Colours come from classes (`series-1` ...) in portal.css; SVG presentation attributes are not inline styles.
"""
import json
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40


@dataclass
class Series:
    figure: str  # the report's figure name
    label: str
    values: list  # numbers or None (no data: a gap)


def _attrs(**values):
    return " ".join(f'{name.replace("_", "-")}="{escape(value)}"' for name, value in values.items())


def _nice_max(values, floor=1):
    """A round top for the axis: 1, 2 or 5 times a power of ten, at least the largest value."""
    top = max([v for v in values if v is not None] + [floor])
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= top:
                return step * factor
        step *= 10


def _axis(top, unit):
    lines = []
    for share in (0, 0.5, 1):
        y = TOP + (HEIGHT - TOP - BOTTOM) * (1 - share)
        value = top * share
        label = f"{value:g}{unit}"
        lines.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(label)}</text>')
    return "".join(lines)


def _json_value(value):
    return "" if value is None else json.dumps(value)


def _svg(title, body, legend=""):
    title_id = "chart-" + "".join(c if c.isalnum() else "-" for c in title.lower())
    return Markup(f'<figure class="chart"><svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
                  f'aria-labelledby="{title_id}"><title id="{title_id}">{escape(title)}</title>{body}</svg>'
                  f'<figcaption>{escape(title)}{legend}</figcaption></figure>')


def _legend(series):
    items = "".join(f'<li><span class="swatch series-{n}" aria-hidden="true"></span>{escape(s.label)}</li>'
                    for n, s in enumerate(series, start=1))
    return Markup(f'<ul class="legend">{items}</ul>')


def line_chart(title, keys, series, unit="", top=None):
    """Lines over the weeks `keys` (oldest first), one per series; a None value breaks the line."""
    top = top or _nice_max([v for s in series for v in s.values])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(keys) - 1, 1)

    def point(i, value):
        return LEFT + i * step, TOP + plot_h * (1 - value / top)

    parts = [_axis(top, unit)]
    for i, key in enumerate(keys):
        if (len(keys) - 1 - i) % 2 == 0:  # every other week, counted back from the last
            x = LEFT + i * step
            parts.append(f'<text class="tick" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                         f'{escape(key[-3:])}</text>')
    for n, s in enumerate(series, start=1):
        runs, run = [], []
        for i, value in enumerate(s.values):
            if value is None:
                runs, run = runs + [run] if run else runs, []
            else:
                run.append(point(i, value))
        runs += [run] if run else []
        for run in runs:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            parts.append(f'<polyline class="line series-{n}" fill="none" points="{coords}"/>')
        for i, (key, value) in enumerate(zip(keys, s.values)):
            if value is None:
                continue
            x, y = point(i, value)
            attrs = _attrs(data_figure=s.figure, data_key=key, data_value=_json_value(value))
            parts.append(f'<circle class="dot series-{n}" cx="{x:.1f}" cy="{y:.1f}" r="3.5" {attrs}>'
                         f'<title>{escape(s.label)}, {escape(key)}: {escape(f"{value:g}{unit}")}</title></circle>')
    return _svg(title, "".join(parts), _legend(series))


def bar_chart(title, bars, unit="", top=None):
    """Horizontal bars: `bars` is [(figure, label, value)] (None: no data, drawn as an empty row)."""
    top = top or _nice_max([value for _, _, value in bars])
    row_h = (HEIGHT - TOP - 8) / max(len(bars), 1)
    label_w, plot_w = 170, WIDTH - 170 - RIGHT - 60
    parts = []
    for i, (figure, label, value) in enumerate(bars):
        y = TOP + i * row_h
        width = 0 if value is None else plot_w * value / top
        shown = "no data" if value is None else f"{value:g}{unit}"
        attrs = _attrs(data_figure=figure, data_value=_json_value(value))
        parts.append(f'<text class="tick" x="{label_w - 8}" y="{y + row_h * 0.65:.1f}" text-anchor="end">'
                     f'{escape(label)}</text>'
                     f'<rect class="bar series-1" x="{label_w}" y="{y + row_h * 0.15:.1f}" '
                     f'width="{width:.1f}" height="{row_h * 0.7:.1f}" {attrs}><title>{escape(label)}: '
                     f'{escape(shown)}</title></rect>'
                     f'<text class="value" x="{label_w + width + 6:.1f}" y="{y + row_h * 0.65:.1f}">'
                     f'{escape(shown)}</text>')
    return _svg(title, "".join(parts))


def grouped_bars(title, groups, series_labels, unit="", top=None):
    """Vertical bars in groups: `groups` is [(key, label, [(figure, value) per series])]."""
    values = [value for _, _, pairs in groups for _, value in pairs]
    top = top or _nice_max(values)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group_w = plot_w / max(len(groups), 1)
    bar_w = min(group_w * 0.8 / max(len(series_labels), 1), 48)
    parts = [_axis(top, unit)]
    for g, (key, label, pairs) in enumerate(groups):
        x0 = LEFT + g * group_w + (group_w - bar_w * len(pairs)) / 2
        parts.append(f'<text class="tick" x="{LEFT + (g + 0.5) * group_w:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                     f'text-anchor="middle">{escape(label[:18])}</text>')
        for n, (figure, value) in enumerate(pairs):
            height = 0 if value is None else plot_h * value / top
            shown = "no data" if value is None else f"{value:g}{unit}"
            attrs = _attrs(data_figure=figure, data_key=key, data_value=_json_value(value))
            parts.append(f'<rect class="bar series-{n + 1}" x="{x0 + n * bar_w:.1f}" y="{TOP + plot_h - height:.1f}" '
                         f'width="{bar_w * 0.9:.1f}" height="{height:.1f}" {attrs}><title>{escape(label)}, '
                         f'{escape(series_labels[n])}: {escape(shown)}</title></rect>')
    legend = _legend([Series("", label, []) for label in series_labels])
    return _svg(title, "".join(parts), legend)


# --- the weekly report's charts -------------------------------------------------------------------------

def report_charts(data, labels):
    """The four charts of a weekly report document (its JSON, parsed); `labels` names figures for people."""
    weeks = [row["week"] for row in data["trends"]] + [data["week"]]
    history = data["trends"] + [data["totals"]]

    def trend(figure):
        return Series(figure, labels[figure], [row[figure] for row in history])

    volume = line_chart("Listings per week", weeks,
                        [trend("items_filed"), trend("removed"), trend("pending_at_week_end")])
    sla = line_chart("SLA compliance per week", weeks,
                     [trend("acknowledge_compliance_percent"), trend("action_compliance_percent")], unit="%", top=100)
    statuses = bar_chart(f"Listings by outcome, {data['week']}",
                         [(figure, labels[figure], data["totals"][figure]) for figure in STATUS_BARS])
    partners = grouped_bars("SLA compliance by partnership, " + data["week"],
                            [(row["partnership"], row["partner_name"],
                              [(figure, row[figure]) for figure in COMPLIANCE])
                             for row in data["by_partnership"]],
                            [labels[figure] for figure in COMPLIANCE], unit="%", top=100)
    return {"volume": volume, "sla": sla, "statuses": statuses, "partners": partners}


STATUS_BARS = ("acknowledged", "info_requested", "removed", "rejected", "withdrawn", "counter_notices",
               "reinstated", "upheld", "pending_at_week_end")
COMPLIANCE = ("acknowledge_compliance_percent", "action_compliance_percent")
