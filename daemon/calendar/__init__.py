"""Meetings as calendar objects: iCalendar invitations sent by mail (iMIP, RFC 5545/5546/6047).

timezones.py  VTIMEZONE blocks for the TZIDs an invitation uses
ical.py       building REQUEST / CANCEL / REPLY objects, Outlook first
imip.py       reading incoming calendar mail (REPLY, COUNTER, REQUEST, CANCEL)
specs.py      what a coordinator writes: flags, a TOML file, agenda in Markdown or TOML
scheduling.py schedule / update / cancel, the notice rule, the history
delivery.py   the one function that sends an invitation (iMIP today; EWS can slot in)
incoming.py   what an incoming calendar mail does to the ledger (the "calendar" route)
reminders.py  the tick job: unanswered invitations and the day's reminder
views.py      meetings as dicts for `collabd meeting list|show` and the templates
"""
