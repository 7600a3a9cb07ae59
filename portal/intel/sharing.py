"""Who may see what of the alliance's intelligence: the one predicate (DESIGN.md rule 2).

Every path that shows a flag (lists, detail, search, seller profiles, linked sellers, counts, CSV, the API,
reports and webhooks) reads flags through `visible_flags(org)` or the condition `visible_to(viewer)`, and
sightings through `visible_sightings(org)`. A flag a viewer may not see is, for that viewer, a flag that
does not exist: 404, and nothing of it in counts, search results or related lists.

The rule (access is enforced by distribution; the TLP label is shown and must agree with it):
- the flagging org always sees its flags;
- `alliance`: every member org, brands and platforms;
- `group`: the orgs the owner named. Members of the group do not learn who else is in it unless the owner
  chose to show them (`show_group`), and so they do not see each other's sightings either;
- `own`: nobody else.
Withdrawn flags keep their audience (a recipient learns that the owner withdrew it, and why).

Strikes and the repeat-infringer mark are about marketplaces rather than flags: they are visible to the
platform running the seller's marketplace and to brands with an active partnership there.
"""
from peewee import fn

from portal.accounts.models import Marketplace, Organization
from portal.errors import NotFound, ValidationError
from portal.intel.models import DISTRIBUTIONS, TLP_LABELS, Flag, FlagShare, Sighting
from portal.partnerships.services import visible_marketplaces
from portal.tenancy import object_id

# Label and distribution pairs that contradict each other.
CONTRADICTIONS = {
    ("clear", "own"): "TLP:CLEAR is for information anyone may see; a flag kept to your own organization "
                      "contradicts it. Choose another label or share it.",
    ("red", "alliance"): "TLP:RED is for named recipients only; it cannot go to the whole alliance. Name the "
                         "organizations (a sharing group) or choose another label.",
    ("amber+strict", "alliance"): "TLP:AMBER+STRICT keeps information inside each recipient organization; it "
                                  "cannot go to the whole alliance. Name the organizations or choose another "
                                  "label.",
}


def check_sharing(tlp, distribution, named_org_ids, owner_id):
    """Refuse a label, distribution and group that contradict one another (ValidationError)."""
    if tlp not in TLP_LABELS:
        raise ValidationError({"tlp": "Choose a TLP label: " + ", ".join(TLP_LABELS) + "."})
    if distribution not in DISTRIBUTIONS:
        raise ValidationError({"distribution": "Choose a distribution: " + ", ".join(DISTRIBUTIONS) + "."})
    if (tlp, distribution) in CONTRADICTIONS:
        raise ValidationError({"tlp": CONTRADICTIONS[(tlp, distribution)]})
    named = set(named_org_ids) - {owner_id}
    if distribution == "group" and not named:
        raise ValidationError({"share_with": "Name at least one other organization to share the flag with."})
    if distribution != "group" and named:
        raise ValidationError({"share_with": "Only a flag shared with a group names organizations; choose "
                                             "the group distribution or leave the names out."})
    return sorted(named)


def _org_id(viewer):
    return viewer.id if isinstance(viewer, Organization) else viewer


def visible_to(viewer):
    """The condition on `Flag` that holds for the flags `viewer` may see. `viewer` is an org, an org id,
    or the column `Organization.id`, so the same rule lists a viewer's flags and a flag's audience."""
    viewer = _org_id(viewer)
    named = FlagShare.select(FlagShare.id).where((FlagShare.flag == Flag.id) & (FlagShare.org == viewer))
    return ((Flag.org == viewer) | (Flag.distribution == "alliance")
            | ((Flag.distribution == "group") & fn.EXISTS(named)))


def visible_flags(org):
    """Flags `org` may see, any status."""
    return Flag.select().where(visible_to(org))


def get_visible_flag(pk, org):
    flag = visible_flags(org).where(Flag.id == object_id(pk)).first()
    if flag is None:
        raise NotFound()
    return flag


def audience(flag):
    """The orgs that may see `flag` (its owner included): whom an event about it may reach."""
    sees = Flag.select(Flag.id).where((Flag.id == flag.id) & visible_to(Organization.id))
    return Organization.select().where(fn.EXISTS(sees)).order_by(Organization.id)


def audiences(flag_ids):
    """{flag id: {ids of the orgs that may see it}} for many flags in one query (the same rule, joined)."""
    found = {flag_id: set() for flag_id in flag_ids}
    if found:
        pairs = (Flag.select(Flag.id, Organization.id).join(Organization, on=visible_to(Organization.id))
                 .where(Flag.id.in_(list(found))).tuples())
        for flag_id, org_id in pairs:
            found[flag_id].add(org_id)
    return found


def audience_is_known(flag):
    """Whether the flag's readers may know one another: then they see each other's sightings too."""
    return flag.distribution == "alliance" or (flag.distribution == "group" and flag.show_group)


def visible_sightings(org):
    """Sightings `org` may read: on flags it may see, its own; on its own flags, all; on others' flags,
    the other readers' only when the flag's readers may know one another."""
    return (Sighting.select().join(Flag)
            .where(visible_to(org) & ((Sighting.org == _org_id(org)) | (Flag.org == _org_id(org))
                                      | (Flag.distribution == "alliance")
                                      | ((Flag.distribution == "group") & (Flag.show_group == True)))))  # noqa: E712


def shared_with(flag, org):
    """The orgs a group flag is shared with, as `org` may know them: all of them for the owner or when the
    owner shows the group; otherwise only `org` itself. [] for flags that are not group-shared."""
    if flag.distribution != "group":
        return []
    orgs = (Organization.select().join(FlagShare, on=(FlagShare.org == Organization.id))
            .where(FlagShare.flag == flag).order_by(Organization.name))
    if flag.org_id != _org_id(org) and not flag.show_group:
        orgs = orgs.where(Organization.id == _org_id(org))
    return list(orgs)


def sees_strikes(org, marketplace_id):
    """Strikes and the repeat-infringer mark on a marketplace: its platform and its partner brands."""
    return visible_marketplaces(org).where(Marketplace.id == marketplace_id).exists()


def strike_marketplaces(org):
    """A subquery of the ids of the marketplaces whose sellers' strikes `org` may see."""
    return visible_marketplaces(org).select(Marketplace.id)


def still_sees(org, flag_ids=(), marketplace_ids=()):
    """Whether `org` may still see every flag of `flag_ids` and the strikes of every marketplace of
    `marketplace_ids`: what an event about them (a webhook delivery, a notification e-mail) needs at the
    moment it is sent, since sharing may have narrowed since the event."""
    flag_ids, marketplace_ids = sorted(set(flag_ids)), sorted(set(marketplace_ids))
    if flag_ids and visible_flags(org).where(Flag.id.in_(flag_ids)).count() != len(flag_ids):
        return False
    if marketplace_ids and not isinstance(org, Organization):
        org = Organization.get_by_id(org)
    if marketplace_ids and (visible_marketplaces(org).where(Marketplace.id.in_(marketplace_ids)).count()
                            != len(marketplace_ids)):
        return False
    return True


def flag_id_of_reference(reference):
    """The id in a flag's reference ("F-000123" -> 123), or None."""
    text = str(reference or "")
    return int(text[2:]) if text.startswith("F-") and text[2:].isdigit() else None
