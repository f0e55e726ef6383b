"""What to send when: reminders, risk checks, escalations and digests on working days."""
