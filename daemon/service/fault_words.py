"""A fault of the machine in words for people: its kind, where, and one sentence.

inbound/faults.py names a fault with the technical line it came from ("database
unreachable: (sqlite3.OperationalError) unable to open database file",
"mail server sign-in refused: b'[AUTHENTICATIONFAILED] Authentication failed.'"). That
line goes to the log, where whoever debugs the server looks. `collabd status` and the
admin's fault mail are read by people who need to know what broke and what to do: they get
the kind ("database unreachable"), the errno name and path when there is one
("disk full (ENOSPC) at /var/lib/collabd/files"), and a sentence; never the library's text.
"""

from __future__ import annotations

import re

# The kinds inbound/faults.py names, in the words a Chinese-reading admin expects.
ZH_CN_KINDS = {
    "disk full": "磁盘已满",
    "disk quota exceeded": "磁盘配额已用完",
    "read-only filesystem": "文件系统只读",
    "permission denied": "没有权限",
    "operation not permitted": "操作不被允许",
    "input/output error": "磁盘读写出错",
    "too many open files": "打开的文件过多",
    "too many open files in the system": "系统打开的文件过多",
    "out of memory": "内存不足",
    "ledger read-only": "台账只读",
    "ledger locked": "台账被锁",
    "ledger disk full": "台账所在磁盘已满",
    "database unreachable": "数据库连不上",
    "mail server unreachable": "邮件服务器连不上",
    "mail server sign-in refused": "邮件服务器拒绝登录（用户名或密码不对）",
}

_EN = {
    "disk full": "the disk has no space left, so collabd cannot store what a mail brings",
    "disk quota exceeded": "collabd's disk quota is used up, so it cannot store what a mail brings",
    "read-only filesystem": "the filesystem is mounted read-only, so collabd cannot write to it",
    "permission denied": "collabd is not allowed to write there (file or folder permissions)",
    "operation not permitted": "the system does not let collabd do this (permissions)",
    "input/output error": "the disk reports read or write errors",
    "too many open files": "collabd has reached its limit of open files",
    "too many open files in the system": "the system has reached its limit of open files",
    "out of memory": "the machine has run out of memory",
    "ledger read-only": "the ledger refuses writes (a read-only file, folder or filesystem)",
    "ledger locked": "another process keeps the ledger locked",
    "ledger disk full": "the ledger's disk is full",
    "database unreachable": "the ledger's database cannot be reached or refused the connection",
    "mail server unreachable": "the mail server cannot be reached",
    "mail server sign-in refused": (
        "the mail server refused collabd's sign-in (user name, password or token)"
    ),
}

_ZH = {
    "disk full": "磁盘没有剩余空间，collabd 无法保存来信带来的内容",
    "disk quota exceeded": "collabd 的磁盘配额已用完，无法保存来信带来的内容",
    "read-only filesystem": "文件系统被挂载为只读，collabd 无法写入",
    "permission denied": "collabd 没有写入该位置的权限（文件或目录权限）",
    "operation not permitted": "系统不允许 collabd 执行该操作（权限）",
    "input/output error": "磁盘报告读写错误",
    "too many open files": "collabd 打开的文件数已达上限",
    "too many open files in the system": "系统打开的文件数已达上限",
    "out of memory": "服务器内存不足",
    "ledger read-only": "台账拒绝写入（文件、目录或文件系统只读）",
    "ledger locked": "另一个进程一直锁着台账",
    "ledger disk full": "台账所在的磁盘已满",
    "database unreachable": "连不上台账数据库，或数据库拒绝了连接",
    "mail server unreachable": "连不上邮件服务器",
    "mail server sign-in refused": "邮件服务器拒绝了 collabd 的登录（用户名、密码或令牌）",
}

_UNKNOWN = {
    "en": "collabd met an error it did not expect (the log, journalctl -u collabd, says which)",
    "zh-CN": "collabd 遇到了意料之外的错误（日志 journalctl -u collabd 里有详情）",
}

_CODE = re.compile(r"\((E[A-Z0-9]+)\)")  # an errno name: (ENOSPC), (EROFS)
_PLACE = re.compile(r" at (/\S*)")


def kind(fault: str) -> str:
    """ "disk full (ENOSPC) at /x" → "disk full"; "database unreachable: …" → the same."""
    return fault.split(" at /", 1)[0].split(": ", 1)[0].partition(" (")[0]


def known(fault: str) -> bool:
    return kind(fault) in _EN


def headline(fault: str, locale: str = "en") -> str:
    """The kind and the errno name, in the reader's language: "磁盘已满（ENOSPC）"."""
    name = kind(fault)
    code = _CODE.search(fault)
    if not known(fault):
        return "服务器意外错误" if locale == "zh-CN" else "unexpected error"
    if locale == "zh-CN":
        return f"{ZH_CN_KINDS.get(name, name)}{f'（{code[1]}）' if code else ''}"
    return f"{name}{f' ({code[1]})' if code else ''}"


def where(fault: str) -> str:
    """The path the fault names, if any."""
    found = _PLACE.search(fault)
    return found[1] if found else ""


def sentence(fault: str, locale: str = "en") -> str:
    """What the fault means, for people; never the library's text."""
    table = _ZH if locale == "zh-CN" else _EN
    return table.get(kind(fault), _UNKNOWN["zh-CN" if locale == "zh-CN" else "en"])


def plain(fault: str, locale: str = "en") -> str:
    """One line for `collabd status`: "disk full (ENOSPC) at /var/lib/collabd/files: the
    disk has no space left, …"."""
    place = where(fault)
    at = (f" 位于 {place}" if locale == "zh-CN" else f" at {place}") if place else ""
    return f"{headline(fault, locale)}{at}: {sentence(fault, locale)}"
