"""Every model of the portal, in one list: the schema tests compare it with what migrations build."""
from portal.accounts.models import Invitation, Marketplace, Membership, Organization, User, UserSession
from portal.api.idempotency import IdempotentRequest
from portal.audit import AuditEvent, AuditHead
from portal.intel.models import (AuthorizedSeller, Flag, FlagEvidence, FlagIdentifier, FlagNotice, FlagReceipt,
                                 FlagShare, Screening, ScreeningHit, Seller, Sighting, Strike)
from portal.imports.models import ImportJob, ImportOutcomes, ImportRowChange, ImportRowError
from portal.marks.models import Mark
from portal.oauth.models import AuthorizationCode, OAuthClient, Token
from portal.notices.grounds import GroundTemplate
from portal.notices.batch_models import NoticeBatch, NoticeBatchRow, PlannedNotice
from portal.notices.models import Evidence, Notice, NoticeItem, NoticeMark, Transition
from portal.notifications.models import Notification, NotificationPreference, OutboundEmail
from portal.partnerships.models import Partnership, Terms
from portal.reports.models import WeeklyReport
from portal.sla.models import SlaClock
from portal.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery

ALL_MODELS = [Organization, Marketplace, User, Membership, Invitation, UserSession, AuditEvent, AuditHead,
              OAuthClient, AuthorizationCode, Token, Partnership, Mark, ImportJob, ImportRowError, ImportOutcomes,
              ImportRowChange, Terms, Notice, NoticeMark, Evidence, NoticeItem, Transition, SlaClock,
              Seller, Flag, FlagShare, FlagIdentifier, FlagEvidence, FlagNotice, Sighting, Strike, AuthorizedSeller,
              Screening, ScreeningHit, Webhook, WebhookDelivery, WebhookAttempt, WeeklyReport,
              FlagReceipt, NoticeBatch, PlannedNotice, NoticeBatchRow, IdempotentRequest,
              GroundTemplate, OutboundEmail, Notification, NotificationPreference]
