"""No import cycles between portal/ modules (issue 19, "a house without circles").

The graph is read with ast by tools/import_cycles.py (imports inside functions count: they still tie the
modules together). Plumbing (db, tenancy, audit, errors, access, uploads, security, config) sits below the
domains and imports none of them, so no cycle may run through it.
"""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLUMBING = ("portal.access", "portal.errors", "portal.tenancy", "portal.audit", "portal.uploads", "portal.db",
            "portal.security", "portal.config")


def load_tool():
    spec = importlib.util.spec_from_file_location("import_cycles", ROOT / "tools" / "import_cycles.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


tool = load_tool()


DOMAINS = ("accounts", "oauth", "marks", "partnerships", "notices", "sla", "intel", "reports", "webhooks")
SHARED = (*PLUMBING, "portal.worker", "portal.bulk", "portal.forms", "portal.text", "portal.packed",
          "portal.imports", "portal.trail")  # plumbing and shared machinery: below every domain


def test_no_import_cycle_between_portal_modules():
    edges = tool.graph(str(ROOT / "portal"))
    assert set(PLUMBING) <= set(edges), "the graph misses plumbing modules: is ROOT the repository?"
    found = tool.cycles(edges)
    assert not found, ("import cycles between portal/ modules (move what both need down, split the module "
                       "that is imported for two reasons, or pass it in):\n" + tool.describe(edges, found))


def test_plumbing_and_shared_machinery_import_no_domain():
    """The import engine and the worker serve every domain, so they must not reach back into one (a domain
    registers its importer and its tasks instead)."""
    edges = tool.graph(str(ROOT / "portal"))
    domains = tuple(f"portal.{name}" for name in DOMAINS)

    def is_domain(module):
        # The accounts' models are allowed: an import job belongs to an Organization, the one model every
        # domain stands on.
        return module.split(".")[:2] in [d.split(".") for d in domains] and module != "portal.accounts.models"

    shared = [module for module in edges if module in SHARED or module.startswith("portal.imports.")]
    reaching = {module: sorted(filter(is_domain, edges[module])) for module in shared}
    assert not {module: targets for module, targets in reaching.items() if targets}


def test_the_check_finds_a_cycle_through_a_function_level_import(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub import b\n")
    (package / "sub" / "b.py").write_text("def later():\n    from .. import c\n")
    (package / "c.py").write_text("import pkg.a\n")
    (package / "d.py").write_text("from pkg import a\n")  # imports into the cycle, is not part of it
    edges = tool.graph(str(package))
    found = tool.cycles(edges)
    assert found == [["pkg.a", "pkg.c", "pkg.sub.b"]]
    assert tool.describe(edges, found).splitlines() == [
        "cycle of 3 modules:", "  pkg.a -> pkg.sub.b", "  pkg.c -> pkg.a", "  pkg.sub.b -> pkg.c"]
