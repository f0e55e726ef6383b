"""The status-command grammar owners use in replies (zh-CN, zh-TW, English).

Runs on the kept ``new_text``, line by line, after NFKC folding (so ``＃３：完成``
is ``#3:完成``) and case-insensitively::

    #N <status> [P%] [sep note]        #3 完成 / #2 阻塞: 等待设计 / #1 进行中 60%
    #N 延期至<date>[, 原因：note]        #4 延期至12月5日，原因：客户未回复
    #N P%                              #1 60%            → in_progress, 60
    <status> [P%] | P%                 完成 / 60%        → bare command, item None
    验收 #N 通过 | #N 验收不通过：…     accept #3 / reject #3: reason
    确认 | 同意 | 无异议 | OK           minutes confirmed (whole line)
    有异议：… | 异议：… | objection: …  minutes objection

Several commands may share a line when separated by ``;``/``；``.

A CJK status word must not run into more CJK text: the reminder lists items as
``#3 完成标准…`` ("completion criteria"), which is a title, not "done".

Unknown status words (``#2 阻赛``) become ``CommandError``s when they look like
an attempted status rather than a hashtag or a room number:

* the word right after ``#N`` is a CJK run of at most 4 characters, or a
  single Latin word, that is followed by nothing, a separator or a percentage,
  or a Latin word that is close in spelling to a status word (``dnoe``);
* and it does not start with a real status word (``完成标准`` is a title) and
  contains no place/ordinal noun (会议室, 房间, 楼, 号, room, floor, …), so
  ``#302 会议室`` is neither a command nor an error.
"""

from __future__ import annotations

import datetime
import difflib
import re
import unicodedata
from dataclasses import dataclass

from .dates import match_date, match_relative
from .model import Acceptance, Command, CommandError, MinutesVerdict
from .normalize import Folded

# ---------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------
# fmt: off
_ZH_STATUS: dict[str, tuple[str, ...]] = {
    "done": ("已经完成", "已經完成", "已完成", "完成", "已搞定", "搞定", "已办结", "已辦結"),
    "in_progress": ("进行中", "進行中", "处理中", "處理中",
                    "正在进行", "正在進行", "正在处理", "正在處理"),
    "blocked": ("被阻塞", "阻塞", "受阻", "卡住"),
    "needs_support": ("需要支持", "需支持", "需要协助", "需协助", "需要支援", "需支援",
                      "需要協助", "需協助", "需要帮助", "需要幫助", "需帮助"),
    "delayed": ("延期", "推迟", "推遲", "延后", "延後", "延迟", "延遲"),
    "not_started": ("尚未开始", "尚未開始", "还未开始", "還未開始", "还没开始", "還沒開始",
                    "未开始", "未開始", "没开始", "沒開始"),
}
_EN_STATUS: dict[str, str] = {
    "done": r"done|completed?|finished",
    "in_progress": r"in[\s_-]*progress|wip|ongoing",
    "blocked": r"blocked|stuck",
    "needs_support": r"needs?[\s_-]+(?:help|support)|help[\s_-]+needed",
    "delayed": r"postponed?|delay(?:ed)?|deferred",
    "not_started": r"not[\s_-]+(?:yet[\s_-]+)?started",
}
# Spelling targets for the "did you mean a status?" heuristic (``dnoe``).
_EN_WORDS = ("done", "completed", "complete", "finished", "progress", "blocked", "stuck",
             "help", "support", "postpone", "postponed", "delay", "delayed", "deferred",
             "started", "wip")
# fmt: on

_ZH_LOOKUP = {word: status for status, words in _ZH_STATUS.items() for word in words}
_ALL_ZH = sorted(_ZH_LOOKUP, key=len, reverse=True)
_STATUS = re.compile(
    "|".join(
        [f"(?P<zh>{'|'.join(map(re.escape, _ALL_ZH))})"]
        + [f"(?P<{status}>(?:{rx})(?![a-z]))" for status, rx in _EN_STATUS.items()]
    ),
    re.I,
)
# "完成了", "卡住了啦": sentence particles after a CJK status word.
_PARTICLE = re.compile(r"[了啦咯喽囉]+")
_DELAY_TO = re.compile(r"\s*(?:至|到|为|為|until|till|to|->|→|:)?\s*", re.I)
# "延期一周", "推迟两天": a duration right after the word is part of the update.
_DURATION = re.compile(
    r"[一二两兩三四五六七八九十半\d]+\s*(?:个|個)?\s*(?:天|日|周|週|星期|礼拜|禮拜|月|小时|小時|工作日)"
)
# "延期一周", "推迟3个工作日", "postpone by a week": a move from the current deadline.
_SHIFT = re.compile(
    r"(?:by\s+)?(?P<n>\d{1,3}|[一二两兩三四五六七八九十]{1,3}|an?|one|two|three|four)\s*(?:个|個)?\s*"
    r"(?P<unit>工作日|天|日|周|週|星期|礼拜|禮拜|月|(?:working|business|work)\s+days?|days?"
    r"|weeks?|months?)(?![a-z])",
    re.I,
)
_ZH_NUMBERS = {c: i for i, c in enumerate("零一二三四五六七八九十")} | {"两": 2, "兩": 2}
_EN_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4}
_PERCENT = re.compile(r"[\s,:]*(?P<p>\d{1,3})\s*%")
_PROGRESS_LABEL = re.compile(r"(?:进度|進度|progress)\s*:?\s*", re.I)

_ITEM = re.compile(
    r"(?:[-*•·]|\(?\d{1,2}[.)、])?\s*#\s*0*(?P<item>\d{1,6})(?!\d)\s*[:.,、]?\s*", re.I
)
_LEADING_SEP = re.compile(r"[\s:,\-—–~、;。.!！]+")
_REASON_LABEL = re.compile(
    r"(?:原因|理由|说明|說明|备注|備註|reason|note|because)\s*(?::|是(?=\S))\s*", re.I
)
_TRAILING_PUNCT = "。.!！;；,，、 "
_SEGMENT_BREAK = re.compile(r";\s*(?=#\s*\d|\d{1,3}\s*%|验收|驗收|accept|reject)", re.I)
# Anything that starts like a command, valid or not (used to guard echo removal).
_COMMANDISH = re.compile(r"\s*(?:[-*•·]\s*)?(?:#\s*\d|验收|驗收|accept\b|reject\b)", re.I)
_BULLET = re.compile(r"(?:[-*•·]|\(?\d{1,2}[.)、])\s+(?=#|验收|驗收|accept|reject)", re.I)

# Acceptance verdicts. Negative words first so 不通过 is not read as 通过.
_ACC_WORD = r"(?P<v>不通过|不通過|未通过|未通過|不合格|驳回|駁回|拒绝|拒絕|通过|通過|合格)"
_ACCEPTANCE = (
    re.compile(rf"(?:验收|驗收)\s*#\s*0*(?P<item>\d{{1,6}})(?!\d)\s*[:,]?\s*{_ACC_WORD}", re.I),
    re.compile(
        rf"#\s*0*(?P<item>\d{{1,6}})(?!\d)\s*[:,.、]?\s*(?:验收|驗收)\s*[:,]?\s*{_ACC_WORD}", re.I
    ),
    re.compile(
        r"(?P<v>accept(?:ed)?|approved?|reject(?:ed)?)\s*#\s*0*(?P<item>\d{1,6})(?!\d)", re.I
    ),
    re.compile(
        r"#\s*0*(?P<item>\d{1,6})(?!\d)\s*[:,]?\s*(?P<v>accepted|approved|rejected)(?![a-z])", re.I
    ),
)
# fmt: off
_REJECT_WORDS = ("不通过", "不通過", "未通过", "未通過", "不合格", "驳回", "駁回", "拒绝", "拒絕",
                 "reject")
# fmt: on

# Thanks after an answer ("确认，谢谢", "Confirmed, thanks.") belong to it.
_THANKS = (
    r"(?:[\s,.!~。:;-]*(?:谢谢|謝謝|多谢|多謝|感谢|感謝|辛苦了|辛苦|thanks?(?:\s+you)?"
    r"(?:\s+(?:very\s+much|so\s+much|a\s+lot))?|many\s+thanks|thx|ty|cheers|best))*"
)
_END = r"[\s。.!！~,]*$"
# Minutes verdicts (whole-line). Also the "yes" to a risk check (on track).
_CONFIRM = re.compile(
    r"^(?:确认|確認|确认无误|確認無誤|已确认|已確認|同意|无异议|無異議|没有异议|沒有異議"
    r"|没问题|沒問題|confirm(?:ed)?|ok(?:ay)?|agreed?|no\s+objections?|looks\s+good|lgtm)"
    + _THANKS
    + _END,
    re.I,
)
# "能否按期完成？" answered: "可以按期完成", "on track" (a note may follow a separator).
_ON_TRACK = re.compile(
    r"^(?:(?:可以|能够|能夠|能|会|會|应该能|應該能|应该可以|應該可以|没问题|沒問題)[\s,]*按期完成"
    r"|按期完成|按时完成|按時完成|可以按时完成|能按时完成|按计划进行|按計劃進行|进展顺利|進展順利"
    r"|(?:it\s+is\s+|it's\s+|we\s+are\s+|we're\s+)?on\s+(?:track|schedule|time)"
    r"|will\s+(?:make\s+it|be\s+done\s+on\s+time))"
    r"(?:" + _THANKS + _END + r"|[\s]*[,:;]\s*(?P<note>\S.*)$)",
    re.I,
)
# Nothing actionable: thanks, "收到", "好的" (answered by silence, kept in history).
_ACK = re.compile(
    r"^(?:谢谢|謝謝|多谢|多謝|感谢|感謝|收到|已收到|收到了|好的|好|嗯|嗯嗯|知道了|了解|明白|明白了"
    r"|thanks?(?:\s+you)?|many\s+thanks|thx|noted|got\s+it|received|will\s+do|great|ok(?:ay)?)"
    r"(?:[\s,.!~。:;-]*(?:谢谢|謝謝|多谢|多謝|感谢|感謝|辛苦了|辛苦|收到|好的|thanks?(?:\s+you)?"
    r"|noted|got\s+it|received|cheers|best))*" + _END,
    re.I,
)

# The label must stand alone or be followed by a separator: "异议处理流程已更新"
# is a sentence about the objection process, not an objection.
_OBJECTION = re.compile(
    r"(?:有异议|有異議|异议|異議|不同意|objections?)(?:\s*[:,\-]\s*|\s+|$)(?P<note>.*)$", re.I
)

# Unknown-word heuristic.
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]{1,8}")
_LATIN_WORD = re.compile(r"[a-z]{1,20}(?![a-z])", re.I)
_PLACE_NOUNS = re.compile(
    r"会议|會議|房间|房間|室|楼|樓|层|層|号|號|栋|棟|座|单元|單元|区|區|门|門|次|期|届|屆|位|名|条|條|页|頁|章|节|節",
)
# Words after "#N" that name a place or thing, not a status ("#302 room").
_LATIN_STOP = re.compile(
    r"room|floor|building|bldg|hall|gate|suite|unit|ward|apt|level|page|item", re.I
)
_SEPARATOR_CHARS = set(":,-;。.!！、~ ")
_PUNCT_SEPARATORS = _SEPARATOR_CHARS - {" "}


@dataclass(frozen=True)
class Grammar:
    """Everything the grammar found in one reply text."""

    commands: list[Command]
    minutes: MinutesVerdict | None
    acceptance: list[Acceptance]
    errors: list[CommandError]
    # "可以按期完成" / "on track" / a plain yes ("确认", "没问题"): the answer to a risk check.
    on_track: bool = False
    on_track_note: str | None = None
    # The first typed line is thanks or an acknowledgement ("收到", "Thanks!"): when nothing
    # else in the reply is for the mail it answers, it is recorded and not answered.
    ack: bool = False


def _is_cjk(ch: str) -> bool:
    return unicodedata.category(ch) == "Lo" and "\u3400" <= ch <= "\u9fff"


def _note(line: Folded, start: int, end: int, *, trim_end: bool = True) -> str | None:
    """Free text in ``line.text[start:end]`` minus separators and a 原因/reason label."""
    text = line.text
    sep = _LEADING_SEP.match(text, start, end)
    start = sep.end() if sep else start
    label = _REASON_LABEL.match(text, start, end)
    start = label.end() if label else start
    while trim_end and end > start and text[end - 1] in _TRAILING_PUNCT:
        end -= 1
    note = line.raw_slice(start, end).strip()
    if _PLACEHOLDER.fullmatch(note.casefold()):
        return None  # collabd's own example ("#3 进行中 备注", "阻塞: 原因") sent back as written
    return note or None


# The words collabd's examples put where a note goes. Sent back verbatim they say nothing,
# and stored they would read as if someone had written them ("备注：备注").
_PLACEHOLDER = re.compile(
    r"[\s.…:：,，。]*(?:备注|備註|原因|理由|说明|說明|需要什么|需要什麼|what\s+you\s+need|why|reason"
    r"|note|notes)?[\s.…:：,，。]*"
)


def _count(word: str) -> int:
    """3, "三", "十二", "two" as a number."""
    if word.isdigit():
        return int(word)
    if word.lower() in _EN_NUMBERS:
        return _EN_NUMBERS[word.lower()]
    if "十" in word:
        tens, _, ones = word.partition("十")
        return _ZH_NUMBERS.get(tens, 1) * 10 + _ZH_NUMBERS.get(ones, 0)
    return _ZH_NUMBERS.get(word, 0)


def _shift(m: re.Match[str]) -> tuple[int, str]:
    unit = m.group("unit").lower()
    if unit == "工作日" or unit.startswith(("working", "business", "work")):
        kind = "workdays"
    elif unit in ("天", "日") or unit.startswith("day"):
        kind = "days"
    elif unit == "月" or unit.startswith("month"):
        kind = "months"
    else:
        kind = "weeks"
    return _count(m.group("n")), kind


def _status_at(
    line: Folded, pos: int, stop: int, ref: datetime.date, *, strict_sep: bool = False
) -> tuple[str, int | None, datetime.date | None, str | None, bool, tuple[int, str] | None] | None:
    """Parse ``<status> [date] [P%] [sep note]`` or ``[进度] P%`` in ``text[pos:stop]``.

    ``strict_sep`` (used for bare replies) requires punctuation, not just a
    space, before a note: "Done - shipped" is a status, "done with X" is prose.
    """
    text = line.text
    progress: int | None = None
    due: datetime.date | None = None
    end_of = False
    shift: tuple[int, str] | None = None
    free_tail = False
    m = _STATUS.match(text, pos, stop)
    if m:
        zh = m.group("zh")
        status = (
            _ZH_LOOKUP[zh] if zh else next(k for k, v in m.groupdict().items() if v and k != "zh")
        )
        end = m.end()
        if zh:
            particle = _PARTICLE.match(text, end, stop)
            end = particle.end() if particle else end
        if status == "delayed":
            target = _DELAY_TO.match(text, end, stop)
            found = match_date(text[:stop], target.end(), ref) if target else None
            relative = (
                match_relative(text[:stop], target.end(), ref) if target and not found else None
            )
            # "延期一周" moves the deadline; "延期至2月30日" names a (bad) day, not "2 months".
            to_a_day = target is not None and text[end : target.end()].strip() not in ("", ":")
            moved = _SHIFT.match(text, target.end(), stop) if target and not to_a_day else None
            if found:
                due, end = found
            elif relative:
                due, end, end_of = relative
            elif moved and int(_count(moved.group("n"))) > 0:
                shift, end = _shift(moved), moved.end()
            elif _DURATION.match(text, end, stop) or (
                target
                and target.end() > end
                and target.end() < stop
                and text[target.end()].isdigit()
            ):
                # "延期一周", "延期至2月30日" (no such day): keep it as the note
                # rather than reject the update or invent a deadline.
                free_tail = True
        pm = _PERCENT.match(text, end, stop)
        if pm and int(pm.group("p")) <= 100:
            progress, end = int(pm.group("p")), pm.end()
    else:
        label = _PROGRESS_LABEL.match(text, pos, stop)
        pm = _PERCENT.match(text, label.end() if label else pos, stop)
        if not pm or int(pm.group("p")) > 100:
            return None
        status, progress, end = "in_progress", int(pm.group("p")), pm.end()
    rest = text[end:stop]
    if rest and not free_tail:
        first = rest[0]
        if _is_cjk(first):
            return None  # "完成标准…": a title that merely starts with a status word
        if first.isalnum() and not first.isdigit():
            return None
        if strict_sep and first.isspace() and rest.strip() and rest.strip()[0].isalnum():
            return None
    return status, progress, due, _note(line, end, stop), end_of, shift


def _unknown_word(text: str) -> str | None:
    """The misspelled status word at the start of ``text``, if it looks like one."""
    m = _CJK_RUN.match(text)
    if m:
        word = m.group()
        if any(word.startswith(w) for w in _ALL_ZH) or _PLACE_NOUNS.search(word):
            return None
        after = text[m.end() :]
        if len(word) > 4:
            return None
        if not after.strip() or after[0] in _PUNCT_SEPARATORS:
            return word  # "#2 阻赛", "#2 阻赛：等待设计"
        # "#2 阻赛 等待设计" vs "#1 需求评审 — 截止…": only a near-miss of a
        # real status word (one wrong character) counts when prose follows.
        if difflib.get_close_matches(word, _ALL_ZH, n=1, cutoff=0.5):
            return word
        return None
    m = _LATIN_WORD.match(text)
    if not m:
        return None
    word = m.group()
    if _LATIN_STOP.fullmatch(word) or len(word) < 2:
        return None
    after = text[m.end() :].strip()
    if not after or after[0] in _SEPARATOR_CHARS or after[0] == "%":
        return word
    if difflib.get_close_matches(word.lower(), _EN_WORDS, n=1, cutoff=0.75):
        return word
    return None


def _acceptance(line: Folded, start: int, stop: int) -> Acceptance | None:
    for pattern in _ACCEPTANCE:
        m = pattern.match(line.text, start, stop)
        if m:
            verdict = "rejected" if m.group("v").lower().startswith(_REJECT_WORDS) else "accepted"
            return Acceptance(int(m.group("item")), verdict, _note(line, m.end(), stop))
    return None


def _segments(line: Folded) -> list[tuple[int, int]]:
    """``[start, stop)`` spans of the commands sharing one line (``；``-separated)."""
    text = line.text
    start = len(text) - len(text.lstrip())
    bullet = _BULLET.match(text, start)
    start = bullet.end() if bullet else start
    spans = []
    for brk in _SEGMENT_BREAK.finditer(text, start):
        spans.append((start, brk.start()))
        start = brk.end()
    spans.append((start, len(text.rstrip())))
    return spans


def looks_like_command(line: str) -> bool:
    """Cheap test: does this line start like ``#N …`` or an acceptance verdict?"""
    return bool(_COMMANDISH.match(Folded(line).text))


def parse(text: str, ref: datetime.date) -> Grammar:
    """Read commands, minutes and acceptance verdicts out of ``text``."""
    commands: list[Command] = []
    acceptance: list[Acceptance] = []
    errors: list[CommandError] = []
    confirmed = False
    objection_at: int | None = None  # index into plain of the 有异议 line
    plain: list[tuple[Folded, int]] = []  # lines that are not commands/verdicts, note start

    on_track = False
    on_track_note: str | None = None
    first_line: str | None = None
    for raw_line in text.split("\n"):
        line = Folded(raw_line)
        stripped = line.text.strip()
        if not stripped:
            continue
        if first_line is None:
            first_line = stripped
        hit = False
        spans = _segments(line)
        for start, stop in spans:
            accepted = _acceptance(line, start, stop)
            if accepted:
                acceptance.append(accepted)
                hit = True
                continue
            m = _ITEM.match(line.text, start, stop)
            if not m:
                if len(spans) > 1:  # "30%；#2：完成": every segment applied or reported
                    hit = True
                    bare = _status_at(line, start, stop, ref, strict_sep=True)
                    if bare:
                        commands.append(Command(None, *bare))
                    else:
                        errors.append(
                            CommandError(None, line.raw_slice(start, stop).strip(), line.raw)
                        )
                continue
            item = int(m.group("item"))
            parsed = _status_at(line, m.end(), stop, ref)
            if parsed:
                commands.append(Command(item, *parsed))
                hit = True
                continue
            word = _unknown_word(line.text[m.end() : stop])
            if word:
                errors.append(CommandError(item, word, line.raw.strip()))
                hit = True
        if hit:
            continue
        if _CONFIRM.match(stripped):
            confirmed = on_track = True
            continue
        track = _ON_TRACK.match(stripped)
        if track:
            on_track = True
            on_track_note = on_track_note or track.group("note")
            continue
        offset = len(line.text) - len(line.text.lstrip())
        obj = _OBJECTION.match(line.text, offset)
        if obj and objection_at is None:
            objection_at = len(plain)
            plain.append((line, obj.start("note")))
            continue
        plain.append((line, 0))

    minutes = None
    if objection_at is not None:
        # An objection outweighs a "确认" elsewhere; its note is the rest of
        # the label line plus whatever plain text follows it.
        parts = [
            _note(line, start, len(line.text), trim_end=False)
            for line, start in plain[objection_at:]
        ]
        note = "\n".join(p for p in parts if p).rstrip(_TRAILING_PUNCT + "\n")
        minutes = MinutesVerdict("objection", note or None)
        plain = plain[:objection_at]
    elif confirmed:
        minutes = MinutesVerdict("confirmed", None)

    if not commands and not errors:
        bare = _bare_command([line for line, _ in plain], ref)
        if bare:
            commands.append(bare)
    ack = first_line is not None and bool(_ACK.match(first_line) or _CONFIRM.match(first_line))
    return Grammar(commands, minutes, acceptance, errors, on_track, on_track_note, ack)


def is_answer(line: str) -> bool:
    """Is this one line, on its own, an answer collabd understands (a command, a bare status,
    a verdict, a confirmation)? Such a line is what a person types, even when collabd's mail
    shows the same line as an example."""
    if looks_like_command(line):
        return True
    found = parse(line, datetime.date(2000, 1, 1))
    return bool(found.commands or found.minutes or found.acceptance or found.on_track)


def _bare_command(lines: list[Folded], ref: datetime.date) -> Command | None:
    """First plain line that is nothing but a status ("完成", "done", "60%")."""
    for line in lines:
        start = len(line.text) - len(line.text.lstrip())
        parsed = _status_at(line, start, len(line.text.rstrip()), ref, strict_sep=True)
        if parsed:
            return Command(None, *parsed)
    return None
