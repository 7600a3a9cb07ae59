"""Every model of the portal, in one list: the schema tests compare it with what migrations build."""
from portal.accounts.models import Invitation, Marketplace, Membership, Organization, User, UserSession
from portal.audit import AuditEvent, AuditHead
from portal.oauth.models import AuthorizationCode, OAuthClient, Token

ALL_MODELS = [Organization, Marketplace, User, Membership, Invitation, UserSession, AuditEvent, AuditHead,
              OAuthClient, AuthorizationCode, Token]
