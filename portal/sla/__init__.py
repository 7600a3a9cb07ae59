"""Service levels of partnerships: business calendars and, with the notices issue, the SLA clocks.

`calendar` is the business-time arithmetic every clock deadline, remaining time and elapsed percentage
is computed with (DESIGN.md: one source of truth per rule).
"""
