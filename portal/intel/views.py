"""Pages of flagged-seller intelligence: the flags list and search, flagging a seller, a flag with its
sightings and evidence, updating and withdrawing it, the CSV export, bulk flagging, seller profiles."""
from flask import Blueprint

bp = Blueprint("intel", __name__, url_prefix="/intel")
