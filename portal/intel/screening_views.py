"""Pages of listing screening: screen a batch of listings, read its hits, file a notice from them, and
keep the list of authorized sellers screening leaves alone."""
from flask import Blueprint

bp = Blueprint("screening", __name__, url_prefix="/intel")
