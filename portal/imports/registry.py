"""Which importer reads a job's file: each domain registers its Importer (portal.imports.runner) by kind,
and the engine finds it here. The engine imports no domain: each importer module calls `register` when
imported, and create_app imports them all (the worker's tasks run in that app). Domains that want to hear
when a job ends register a listener the same way (`on_job_end`)."""

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


# Called with each job that ends (done or failed), inside the transaction that ends it: how a domain hears
# of the end of an import (portal.notifications tells the uploader of errors) without the engine
# importing that domain.
END_LISTENERS = []


def on_job_end(listener):
    """Call `listener(job)` whenever a job ends (its status is then `done` or `failed`)."""
    if listener not in END_LISTENERS:
        END_LISTENERS.append(listener)
    return listener


def job_ended(job):
    for listener in END_LISTENERS:
        listener(job)
