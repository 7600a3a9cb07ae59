"""Which importer reads a job's file: each domain registers its Importer (portal.imports.runner) by kind,
and the engine finds it here. The engine imports no domain: each importer module calls `register` when
imported, and create_app imports them all (the worker's tasks run in that app)."""

IMPORTERS = {}


def register(importer):
    """Make `importer` (a subclass of portal.imports.runner.Importer) the one for its `kind`."""
    IMPORTERS[importer.kind] = importer
    return importer


def importer_for(kind):
    try:
        return IMPORTERS[kind]
    except KeyError:
        raise ValueError(f"no importer for {kind!r}") from None
