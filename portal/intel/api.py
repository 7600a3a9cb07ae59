"""Flagged-seller intelligence over the API (`intel:read` / `intel:write`): flags, sightings, sellers."""
from portal.api.auth import ApiBlueprint

blp = ApiBlueprint("Intelligence", __name__, url_prefix="/intel",
                   description="Flagged sellers shared across the alliance under TLP labels, sightings, seller "
                               "profiles")
