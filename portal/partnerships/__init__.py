"""Partnerships (MOUs) between a brand and a platform.

For now only what the marks registry needs: which brands a platform works with, so its analysts see and
verify those brands' marks. Terms, SLA policies and the propose/accept flow come with the notices issue.
"""
