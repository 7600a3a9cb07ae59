"""Uploaded files: streamed to disk under a generated name, size-capped and hashed (SHA-256) on the way.

Nothing a user names is ever used as a path: files live in `instance/uploads/<area>/<random hex>`, and
the name they came with is kept only for display. A file over its cap is refused before it is kept.
"""
import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from portal.errors import NO_ROOM_ERRNOS, NO_ROOM_FOR_FILE, StorageFull, ValidationError
from portal.text import human_size

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
# Leading bytes of the file types the portal accepts as evidence; the name's extension is not trusted.
SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}


@dataclass
class StoredFile:
    name: str  # generated, relative to the area's folder
    original_name: str
    size: int
    sha256: str
    head: bytes  # the first bytes, to tell the type by content

    def path(self, area):
        return folder(area) / self.name


def folder(area):
    path = Path(current_app.config["INSTANCE_PATH"]) / "uploads" / area
    path.mkdir(parents=True, exist_ok=True)
    return path


def display_name(filename):
    """The uploaded name as shown to people: no folders, no control characters, not too long."""
    name = os.path.basename((filename or "").replace("\\", "/"))
    name = "".join(ch for ch in name if ch.isprintable())
    return name[-200:] or "upload"


def save_upload(stream, area, max_bytes, filename="", field="file"):
    """Copy `stream` into `area`, hashing as it goes; refuse (and delete) it once past `max_bytes`, and when
    the disk has no room for it (StorageFull, a 507): a partial file is never left behind."""
    digest, size, head = hashlib.sha256(), 0, b""
    name = secrets.token_hex(16)
    target = None
    try:
        target = folder(area) / name
        with open(target, "xb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise ValidationError({field: f"The file is larger than the limit of {human_size(max_bytes)}. "
                                                  "Nothing was kept."})
                if len(head) < 64:
                    head += chunk[:64 - len(head)]
                digest.update(chunk)
                out.write(chunk)
    except BaseException as error:
        if target is not None:
            target.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno in NO_ROOM_ERRNOS:
            log.error("no room to keep an upload in %s (%s bytes read so far): %s", area, size, error)
            raise StorageFull({field: NO_ROOM_FOR_FILE}) from error
        raise
    return StoredFile(name, display_name(filename), size, digest.hexdigest(), head)


def content_type(head):
    for signature, mimetype in SIGNATURES.items():
        if head.startswith(signature):
            return mimetype
    return None


def download(path, mimetype, name):
    """A stored file as a download under a tidy name, never rendered inline, never kept by a shared cache
    (it is legal evidence); 404 when the file is gone."""
    from flask import abort, send_file
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype=mimetype or "application/octet-stream", as_attachment=True,
                         download_name=name)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def delete(area, name):
    if name:
        (folder(area) / name).unlink(missing_ok=True)


def discard(area, stored):
    """Delete files kept by `save_documents` (their transaction failed)."""
    for kept in stored:
        delete(area, kept.name)


def save_documents(files, area, max_bytes, max_files, holder, field="evidence"):
    """Keep uploaded evidence documents (PDF, PNG or JPEG by content, each within `max_bytes`) in `area`;
    all or none. `holder` names what they are attached to, for the messages ("a notice")."""
    files = [f for f in files if f is not None and getattr(f, "filename", None)]
    if len(files) > max_files:
        raise ValidationError({field: f"Attach at most {max_files} evidence files to {holder}."})
    stored = []
    try:
        for upload in files:
            kept = save_upload(upload.stream, area, max_bytes, upload.filename, field=field)
            stored.append(kept)
            kept.mimetype = content_type(kept.head)
            if kept.size == 0 or kept.mimetype is None:
                raise ValidationError({field: f"{kept.original_name}: attach evidence as PDF, PNG or JPEG "
                                              "files (checked by their content, not their names)."})
    except BaseException:
        discard(area, stored)
        raise
    return stored
