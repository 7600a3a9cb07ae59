"""URL pieces the intel pages and API share."""
from werkzeug.routing import PathConverter


class SellerIdConverter(PathConverter):
    """The rest of the path, whatever it holds: a seller id may contain `/`, begin or end with one, or hold
    `//` (werkzeug's `path` would refuse a leading `/`, and the app would then answer a redirect that
    merges the slashes, changing the id). Routes using it also say `merge_slashes=False`."""

    regex = ".+?"
    part_isolating = False  # werkzeug would infer True from a regex without "/"


def register_converters(app):
    app.url_map.converters["seller_id"] = SellerIdConverter
