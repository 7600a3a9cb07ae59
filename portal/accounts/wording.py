"""How the accounts domain's audit events read in the trail (portal.trail)."""
from portal.trail import word

word("org.created", "Organization created", "created the organization {name} ({kind}, time zone {timezone})")
word("user.created", "User created", "created the login {email}")
word("membership.created", "Member added", "added {user} as {role}")
word("membership.role_changed", "Role changed",
     lambda c, e: f"changed the role of {c['user']} from {c['role']['from']} to {c['role']['to']}")
word("membership.deactivated", "Member deactivated", "deactivated {user}")
word("membership.reactivated", "Member reactivated", "reactivated {user}")
word("invitation.created", "Invitation sent", "invited {email} as {role}")
word("invitation.accepted", "Invitation accepted", "accepted the invitation for {email}")
word("invitation.revoked", "Invitation revoked", "revoked the invitation for {email}")
word("session.signed_in", "Signed in", "signed in")
word("session.signed_out", "Signed out", "signed out")
word("session.org_selected", "Organization chosen", "switched to this organization")
word("user.password_changed", "Password changed", "changed their password")
word("marketplace.created", "Marketplace added", "added the marketplace {name} ({country})")
word("org.two_factor.mandate_changed", "Two-factor requirement changed",
     lambda c, e: "required two-factor authentication for every member" if c["two_factor_required"]["to"]
     else "stopped requiring two-factor authentication")
for action, label in (("account.two_factor.enabled", "Two-factor enabled"),
                      ("account.two_factor.disabled", "Two-factor disabled"),
                      ("account.two_factor.reset", "Two-factor reset by an admin"),
                      ("account.two_factor.recovery_codes_regenerated", "Recovery codes regenerated"),
                      ("account.two_factor.recovery_code_used", "Recovery code used")):
    word(action, label, lambda c, e, label=label: label.lower() + (f" for {c['email']}" if c.get("email") else ""))
