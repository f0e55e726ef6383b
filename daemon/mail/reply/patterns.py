"""Catalogue of the text clues mail clients leave around quoted history.

All patterns run on NFKC-folded, stripped lines (see ``normalize.fold``), so a
Sina/QQ ``发件人：`` with a full-width colon is matched by ``[:]``. They are
grouped by what they mean to the stripper, and within a group annotated with
the clients that produce them. ``quotes.py`` holds the algorithm.
"""

from __future__ import annotations

import re

_I = re.IGNORECASE

# ---------------------------------------------------------------------------
# 1. Separator lines: everything from here on is history ("hard" boundary).
# ---------------------------------------------------------------------------
SEPARATORS: dict[str, re.Pattern[str]] = {
    # Outlook desktop zh-CN/zh-TW/en/de/es/fr/it/…, AOL, Yahoo, Comcast:
    # "-----原始邮件-----", "-----邮件原件-----", "-----Original Message-----",
    # "----- Original Message -----", "*-------- Original Message --------*".
    # Foxmail / QQ Mail / WeCom: "------------------ 原始邮件 ------------------",
    # English UI: "------------------ Original ------------------".
    # NetEase Mail Master: "---- 回复的原邮件 ----" / "---- 转发的原邮件 ----".
    "original_message": re.compile(
        r"^[*_\s]*-{2,}\s*(?:原始邮件|邮件原件|原始郵件|原始訊息|原始信件|原邮件|原郵件"
        r"|回复的原邮件|回覆的原郵件|转发的原邮件|轉寄的原郵件"
        r"|original message|original|ursprüngliche nachricht|mensaje original|message d'origine"
        r"|messaggio originale|oorspronkelijk bericht|mensagem original|original meddelelse"
        r"|opprinnelig melding|originalmeddelande|исходное сообщение|alkuperäinen viesti"
        r"|元のメッセージ|원본 메시지)\s*-{2,}[*_\s]*$",
        _I,
    ),
    # Gmail / Thunderbird / Outlook forwards, in the locales we meet:
    # "---------- Forwarded message ---------", "-------- Forwarded Message --------",
    # "---------- 转发的邮件 ----------", "-------- 转发邮件信息 --------".
    "forwarded": re.compile(
        r"^[*_\s]*-{2,}\s*(?:forwarded message|转发的邮件|转发邮件信息|轉寄的郵件"
        r"|轉寄郵件|转发的消息|轉寄訊息|已转发邮件|weitergeleitete nachricht"
        r"|message transféré|mensaje reenviado|messaggio inoltrato|doorgestuurd bericht"
        r"|mensagem encaminhada|пересылаемое сообщение)"
        r"\s*-{2,}[*_\s]*$",
        _I,
    ),
    # Apple Mail / iOS forwards: "Begin forwarded message:", "开始转发的邮件：".
    "apple_forwarded": re.compile(
        r"^(?:begin forwarded message|开始转发的邮件|開始轉寄的郵件|以下为转发的邮件"
        r"|début du message réexpédié|anfang der weitergeleiteten nachricht)\s*:?$",
        _I,
    ),
    # Outlook (OWA, iOS, Android, Mac) rule above the 发件人/From block: a line
    # of underscores. 20+ so a typed "_____" divider is not mistaken for it.
    "outlook_underscore_rule": re.compile(r"^_{20,}$"),
    # Lotus Notes / Domino: "----- Forwarded by X on 2026/11/20 -----".
    "notes_forwarded_by": re.compile(r"^-{3,}\s*forwarded by\b.*-{3,}$", _I),
}

# ---------------------------------------------------------------------------
# 2. Header blocks: Outlook/Foxmail/QQ/163/Sina/Coremail write the original's
#    headers as lines "发件人: …", "发送时间: …", "收件人: …", "主题: …".
#    Mail Master and Coremail render them as a table, i.e. without colons, so
#    for CJK keys the colon is optional. A block = ≥2 distinct kinds including
#    "from", or ≥3 distinct kinds, within a few consecutive lines.
# ---------------------------------------------------------------------------
HEADER_KEYS: dict[str, tuple[str, ...]] = {
    "from": (
        "from",
        "发件人",
        "發件人",
        "寄件者",
        "寄件人",
        "发信人",
        "發信人",
        "von",
        "de",
        "da",
        "van",
        "från",
        "fra",
        "od",
        "от",
        "lähettäjä",
        "feladó",
        "差出人",
        "보낸 사람",
    ),
    "date": (
        "sent",
        "date",
        "发送时间",
        "發送時間",
        "发送日期",
        "發送日期",
        "发件时间",
        "寄件日期",
        "寄件時間",
        "傳送時間",
        "傳送日期",
        "时间",
        "時間",
        "日期",
        "gesendet",
        "datum",
        "enviado",
        "enviada",
        "fecha",
        "envoyé",
        "data",
        "inviato",
        "verzonden",
        "skickat",
        "sendt",
        "wysłano",
        "отправлено",
        "дата",
        "送信日時",
        "日時",
        "lähetetty",
        "보낸 날짜",
    ),
    "to": (
        "to",
        "收件人",
        "收件者",
        "收信人",
        "an",
        "para",
        "à",
        "a",
        "aan",
        "till",
        "til",
        "do",
        "кому",
        "宛先",
        "받는 사람",
        "vastaanottaja",
    ),
    "cc": ("cc", "抄送", "抄送人", "副本", "副本(cc)", "kopie", "kopia", "копия"),
    "subject": (
        "subject",
        "主题",
        "主題",
        "主旨",
        "标题",
        "標題",
        "betreff",
        "asunto",
        "objet",
        "oggetto",
        "onderwerp",
        "ämne",
        "emne",
        "temat",
        "тема",
        "件名",
        "aihe",
        "제목",
        "assunto",
    ),
    "reply_to": ("reply-to", "答复", "回复至", "risposta", "antwort an"),
}


def _key_alternation(keys: tuple[str, ...]) -> str:
    return "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))


_ALL_KEYS = {kind: _key_alternation(keys) for kind, keys in HEADER_KEYS.items()}
# "*From:* x", "From: x", "发件人: x", "发件人 x" (table cell), "From:" alone.
HEADER_LINE: dict[str, re.Pattern[str]] = {
    kind: re.compile(rf"^[*\s]*(?:{alt})[*\s]*(?::|(?<=[\u4e00-\u9fff])\s+(?=\S))", _I)
    for kind, alt in _ALL_KEYS.items()
}
# Several headers folded onto one line: "From: a Sent: b To: c Subject: d".
INLINE_HEADER_KEYS = re.compile(
    r"(?:^|\s)[*]?(?:sent|date|to|subject|发送时间|收件人|主题|寄件日期|收件者|主旨)[*]?\s*:", _I
)

# ---------------------------------------------------------------------------
# 3. Attribution lines ("soft" when a >-quote follows, "hard" otherwise).
#    Matched on up to a few joined lines, because Gmail wraps them:
#      Gmail en:      On Fri, Nov 20, 2026 at 9:00 AM collabd <c@x.cn> wrote:
#      Gmail zh-CN:   collabd <c@x.cn> 于2026年11月20日周五 09:00写道：
#      Gmail zh-TW:   collabd <c@x.cn> 於 2026年11月20日 週五 上午9:00寫道：
#      Apple/iOS zh:  在 2026年11月20日，09:00，collabd <c@x.cn> 写道：
#      NetEase 163:   在 2026-11-20 09:00:00，"collabd" <c@x.cn> 写道：
#      Thunderbird:   On 2026/11/20 9:00, collabd wrote: / 在 2026/11/20 9:00, collabd 写道:
#      Zoho:          ---- On Fri, 20 Nov 2026 09:00 collabd wrote ----
#      mail.ru/Yandex/Gmail ja: 20.11.2026, 09:00, "collabd" <c@x.cn>:
#      old Gmail:     2026/11/20 collabd <c@x.cn>
# ---------------------------------------------------------------------------
WROTE_WORDS = re.compile(
    r"(?:写道|寫道|寫到|写到|来信|來信"
    r"|\b(?:wrote|writes|a écrit|schrieb|escribió|escreveu|ha scritto|scrisse|schreef|geschreven"
    r"|skrev|kirjoitti|napisał(?:\(a\))?|napisała|написал(?:\(а\))?|написала|пише|írta|yazdı)"
    r"|書きました|のメッセージ|のメール)",
    _I,
)
# The line ends the attribution: "...wrote:", "...写道：", "...wrote ----", "...>:".
ATTRIBUTION_END = re.compile(
    r"(?:(?:写道|寫道|寫到|写到|wrote|writes|a écrit|escribió|escreveu|ha scritto|schrieb"
    r"|geschreven|skrev|kirjoitti|napisał(?:\(a\))?|написал(?:\(а\))?|пише|書きました)\s*:?\s*-*"
    r"|:)$",
    _I,
)
EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
ANGLE_EMAIL = re.compile(r"<\s*(?:mailto:)?[^<>\s@]+@[^<>\s]+\s*>")
TIME = re.compile(r"\b\d{1,2}[:.]\d{2}\b")
YEAR = re.compile(r"(?:19|20)\d{2}")
DATE_FIRST = re.compile(
    r"^\d{4}[/.-]\d{1,2}[/.-]\d{1,2}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?"
    r"(?P<gmt>\s*GMT\s*[+-]\s*\d{1,2}:?\d{2})?\s+\S.{0,150}$",
    _I,
)
# Starts of attribution lines, used only to glue wrapped pieces back together.
ATTRIBUTION_OPENER = re.compile(r"^(?:on|at|le|am|el|em|op|il|den|dnia|w dniu|в|在|於|于)\s", _I)
# A line that can only be the continuation of a wrapped attribution.
ATTRIBUTION_FRAGMENT = re.compile(
    r"^(?:<|>|mailto:|[\w.+'-]+@[\w-]+\.|于|於|a écrit|wrote|schrieb|het volgende|volgende"
    r"|escreveu|escribió|napisał|написал|пише|skrev|写道|寫道|um \d)",
    _I,
)

# ---------------------------------------------------------------------------
# 4. Signatures and client boilerplate: the segment they start is dropped
#    (until the next quote, after which bottom-posted text may follow).
# ---------------------------------------------------------------------------
SIGNATURES: dict[str, re.Pattern[str]] = {
    # Usenet/RFC 3676 "-- " (clients often strip the trailing space).
    "dash_dash": re.compile(r"^--$"),
    # iOS/Android/Apple Mail zh: 发自我的iPhone, 從我的 iPhone 傳送, 发自我的华为手机,
    # NetEase/QQ/WeCom mobile apps: 发自网易邮箱大师, 来自QQ邮箱, 发自企业微信 …
    "mobile_zh": re.compile(
        r"^(?:发自|發自|来自|來自|寄自|从|從|使用)\s*(?:我的)?\s*.{0,24}?"
        r"(?:iphone|ipad|ipod|android|手机|手機|平板|邮箱|郵箱|outlook|mail|客户端|微信|钉钉|wps|荣耀|华为|小米|oppo|vivo)"
        r"[^。！？!?]{0,24}$",
        _I,
    ),
    # en/fr/de/es/it/nl/nordic/pl/ru "Sent from my iPhone", "Get Outlook for iOS", …
    "mobile_other": re.compile(
        r"^[(<\[]*(?:sent (?:from|via|with|by|using)|sent from my|get outlook for|获取 outlook|"
        r"envoyé (?:de|depuis) mon|von meinem .{0,40}gesendet|enviado (?:desde|de) mi|inviato da"
        r"|verzonden (?:met|vanaf|van)|sendt fra min|skickat från min|wysłane z|отправлено с"
        r"|diese nachricht wurde von meinem|from my (?:iphone|ipad|android))\b.{0,120}$",
        _I,
    ),
}
DISCLAIMERS = re.compile(
    r"^(?:本邮件(?:及其附件)?(?:含有|包含|可能包含)|此邮件(?:及其附件)?(?:含有|包含|可能包含)"
    r"|本郵件(?:及其附件)?(?:含有|包含)|免责声明|免責聲明|保密声明|confidentiality notice"
    r"|disclaimer:|this (?:e-?mail|message)(?: and any (?:attachments?|files))?"
    r" (?:is|are|may contain|contains) (?:confidential|privileged|intended))",
    _I,
)
# A name + title + phone block that Foxmail, Outlook and WeCom put under the typed text
# without "--": a closing paragraph of a few short lines, one of them a way to reach the
# person ("电话：", "Mobile:", an address, a long number).
CONTACT_LINE = re.compile(
    r"(?:^|\s|[|｜/])(?:电话|電話|手机|手機|座机|座機|传真|傳真|tel|mobile|phone|cell|fax|e-?mail|邮箱|郵箱"
    r"|微信|wechat)\s*[:：.]"
    r"|[\w.+'-]+@[\w-]+(?:\.[\w-]+)+|www\.|https?://|\+?\d[\d\s-]{8,}\d",
    _I,
)
CONTACT_BLOCK_MAX_LINES = 6
CONTACT_BLOCK_MAX_CHARS = 80

# Lines that carry no text at all: Outlook's "[cid:image001.png@…]" and
# Mailtrack's "ᐧ"; dropped wherever they appear.
NOISE = re.compile(r"^(?:\[cid:[^\]]*\]|ᐧ)$", _I)
# Trailing lines that are only rule characters ("***", "~~~~", "------").
RULE_ONLY = re.compile(r"^[-_=*~+#.·•ᐧ\s]+$")
QUOTED = re.compile(r"^\s*>")
