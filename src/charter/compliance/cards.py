"""Documents from a system's data: a model card (Markdown and HTML) and an EU AI Act Annex IV outline.

Both are built as sections (paragraphs and tables) once, then rendered to Markdown or to HTML (Jinja, escaped).
Annex IV headings are Charter's own short paraphrases of the Annex's points; only Charter's data fills them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from jinja2 import Environment

from charter.compliance.exports import SystemData, system_data
from charter.compliance.queries import coverage
from charter.context import Ctx

_HTML = Environment(autoescape=True, keep_trailing_newline=True).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;line-height:1.45}
table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2rem .5rem;text-align:left}</style></head>
<body><h1>{{ title }}</h1>
{% for s in sections %}<section><h2>{{ s.title }}</h2>
{% for p in s.paragraphs %}<p>{{ p }}</p>
{% endfor %}{% if s.headers %}<table><thead><tr>{% for h in s.headers %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in s.rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
{% endif %}</section>
{% endfor %}</body></html>
"""
)


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    headers: Sequence[str] = ()
    rows: Sequence[Sequence[str]] = ()


@dataclass(frozen=True)
class Document:
    title: str
    sections: list[Section]

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for s in self.sections:
            out += [f"## {s.title}", ""]
            for p in s.paragraphs:
                out += [p, ""]
            if s.headers:
                out.append("| " + " | ".join(s.headers) + " |")
                out.append("|" + "---|" * len(s.headers))
                out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in s.rows]
                out.append("")
        return "\n".join(out)

    def html(self) -> str:
        return _HTML.render(title=self.title, sections=self.sections)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _system_section(data: SystemData) -> Section:
    s = data.system
    paragraphs = [p for p in (s.description, s.problem_statement and f"Problem addressed: {s.problem_statement}") if p]
    rows = [
        ("key", s.key), ("owner", s.owner or "—"), ("business unit", s.business_unit or "—"),
        ("deployment", s.deployment_type + (f" ({s.vendor_name})" if s.vendor_name else "")),
        ("lifecycle stage", s.stage), ("EU AI Act risk tier", f"{s.risk_tier} — {s.risk_tier_reason or 'no reason'}"),
        ("data categories", ", ".join(s.data_categories) or "—"),
        ("people affected", str(s.users_affected) if s.users_affected is not None else "—"),
    ]  # fmt: skip
    return Section("System", paragraphs, ("field", "value"), [list(r) for r in rows])


def _releases_section(data: SystemData) -> Section:
    rows = [
        [f"v{r.version}", a.kind, a.name, a.sha256[:16], r.submitted_at.date().isoformat()]
        for r in data.releases for a in sorted(r.artifacts, key=lambda a: (a.kind, a.name))
    ]  # fmt: skip
    empty = [] if rows else ["No release yet."]
    return Section("Releases and artifacts", empty, ("release", "kind", "name", "sha256", "submitted"), rows)


def _risks_section(data: SystemData) -> Section:
    rows = [[r.key, r.title, r.category, r.level, r.status] for r in data.risks]
    empty = [] if rows else ["No risk registered."]
    return Section("Known risks and limitations", empty, ("risk", "title", "category", "level", "status"), rows)


def _metrics_section(data: SystemData) -> Section:
    rows = [[m.name + (f" {m.labels}" if m.labels else ""), f"{m.last_value:g}", m.last_ts.isoformat(), str(m.points)]
            for m in data.metrics]  # fmt: skip
    empty = [] if rows else ["No metrics reported yet."]
    return Section("Performance in operation", empty, ("metric", "last value", "at", "points"), rows)


def model_card(ctx: Ctx, system_key: str) -> Document:
    ctx.require("compliance:export")
    data = system_data(ctx, system_key)
    cov = coverage(ctx, system_key, "eu-ai-act")
    counts = cov.counts
    compliance = Section(
        "Compliance (EU AI Act coverage computed by Charter)",
        [f"{counts['met']} met, {counts['partial']} partial, {counts['missing']} missing, "
         f"{counts['not_applicable']} not applicable (role: {cov.role})."],
    )  # fmt: skip
    sections = [_system_section(data), _releases_section(data), _metrics_section(data), _risks_section(data),
                compliance]  # fmt: skip
    return Document(f"Model card: {data.system.name}", sections)


ANNEX_IV: Final = (
    ("1", "General description of the system", "system"),
    ("2", "Elements of the system and how it was developed", "releases"),
    ("3", "Monitoring, functioning and control", "metrics"),
    ("4", "Appropriateness of the performance metrics", "metrics"),
    ("5", "Risk management system (Art. 9)", "risks"),
    ("6", "Relevant changes over the lifecycle", "releases"),
    ("7", "Harmonised standards and other specifications applied", "coverage"),
    ("8", "EU declaration of conformity", "none"),
    ("9", "Post-market monitoring plan (Art. 72)", "metrics"),
)


def annex_iv(ctx: Ctx, system_key: str) -> Document:
    """The Annex IV technical documentation outline with Charter's data in each point (gaps say so)."""
    ctx.require("compliance:export")
    data = system_data(ctx, system_key)
    cov = coverage(ctx, system_key, "eu-ai-act")
    parts = {"system": _system_section(data), "releases": _releases_section(data),
             "metrics": _metrics_section(data), "risks": _risks_section(data)}  # fmt: skip
    sections = []
    for number, title, source in ANNEX_IV:
        if source == "coverage":
            rows = [[r.id, r.status, r.why] for r in cov.requirements if r.status != "not_applicable"]
            sections.append(Section(f"{number}. {title}", [], ("requirement", "status", "why"), rows))
        elif source == "none":
            sections.append(Section(f"{number}. {title}", ["Not held in Charter: attach the signed declaration."]))
        else:
            part = parts[source]
            sections.append(Section(f"{number}. {title}", part.paragraphs, part.headers, part.rows))
    return Document(f"EU AI Act Annex IV technical documentation outline: {data.system.name}", sections)
