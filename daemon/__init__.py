"""collabd: cross-department collaboration by email and calendar.

The package tree follows the flow of work:

    mail/      mail in and mail out (transports, parsing replies, composing)
    store/     the ledger: SQLAlchemy models, migrations, sessions
    ledger/    operations on the ledger (each records its history)
    rules/     what to send when (reminders, escalations, digests)
    calendar/  meetings as iCalendar objects
    cli/       the `collabd` command
"""

__version__ = "0.1.0"
