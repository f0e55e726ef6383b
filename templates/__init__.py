"""Mail templates, one folder per locale (zh-CN, en); installed as `daemon.templates`.

Each mail is a pair: NAME.txt.j2 (first line `Subject: …`, a blank line, the plain body) and
NAME.html.j2 (autoescaped; extends _layout.html.j2, inline styles so Outlook renders it).
"""
