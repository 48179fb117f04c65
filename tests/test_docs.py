"""The documents that ship with the package stay true to the code they describe."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import jinja2.meta

from infratests.profile_doc import KEY_DOCS, profile_keys
from infratests.resources import docs_dir, scenarios_dir

CLAIM_ID = re.compile(r"\bC-[A-Z]+-\d+\b")
TEMPLATES = Path(__file__).resolve().parents[1] / "infratests" / "stack" / "templates"
SERVICE_OF = {"postgresql.conf.j2": "postgres", "pgbouncer.ini.j2": "pgbouncer",
              "redis.conf.j2": "redis", "nginx.conf.j2": "nginx"}


def _catalog_ids() -> set[str]:
    return set(CLAIM_ID.findall((docs_dir() / "claims.md").read_text()))


def test_every_claim_a_scenario_cites_is_in_the_catalog() -> None:
    catalog = _catalog_ids()
    assert len(catalog) >= 40, "docs/claims.md lost its claims"
    cited = {(path.name, claim) for path in scenarios_dir().glob("test_*.py")
             for claim in CLAIM_ID.findall(path.read_text())}
    unknown = sorted((name, claim) for name, claim in cited if claim not in catalog)
    assert not unknown, f"scenarios cite claims docs/claims.md does not have: {unknown}"


def _documented_variables() -> dict[str, set[str]]:
    """``service -> variables`` from the first column of each section's table in docs/templates.md."""
    found: dict[str, set[str]] = {}
    section = ""
    for line in (docs_dir() / "templates.md").read_text().splitlines():
        if line.startswith("## "):
            section = line[3:].split()[0]
        elif section and (cell := re.match(r"\| `(\w+)` \|", line)):
            found.setdefault(section, set()).add(cell.group(1))
    return found


def test_template_doc_lists_exactly_the_variables_the_builtin_templates_use() -> None:
    environment = jinja2.Environment()
    used = {SERVICE_OF[path.name]: jinja2.meta.find_undeclared_variables(environment.parse(path.read_text()))
            for path in TEMPLATES.glob("*.j2")}
    assert _documented_variables() == used


def test_every_profile_key_has_one_line_of_help() -> None:
    keys = {key for key, _ in profile_keys()}
    assert keys == set(KEY_DOCS), (f"undocumented: {sorted(keys - set(KEY_DOCS))}, "
                                   f"documented but gone: {sorted(set(KEY_DOCS) - keys)}")
