"""Meetings as calendar objects (iCalendar / iMIP, and Exchange later)."""
