"""Listing screening over the API (`intel:write`): a batch of listings in, the hits out."""
from portal.api.auth import ApiBlueprint

blp = ApiBlueprint("Screening", __name__, url_prefix="/intel/screenings",
                   description="Screen a batch of marketplace listings against the brand's marks")
