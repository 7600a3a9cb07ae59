"""The audit trail in words: each event as a sentence a legal team reads ("Ana Silva removed listing 4 of
notice N-000110: counterfeit goods"), its object as a link, its large values collapsed with a count.

Shared machinery: it knows no domain. Each domain words its own actions in its `wording.py`
(`word("notice.filed", "Notice filed", sentence, link)`), imported at start-up by create_app. An action
nobody worded still reads as a sentence built from its code ("mark.deleted" -> "Mark deleted: Mark 12").
The stored event (its canonical JSON, its hash) is never changed: the words are how it is shown.
"""
import json
from dataclasses import dataclass, field
from typing import Callable, Optional

from flask import url_for
from werkzeug.routing import BuildError

COLLAPSE_AFTER = 5  # a list longer than this is shown as a count, its items behind "show"
SHOWN_ITEMS = 200  # at most this many items of a collapsed list on the page (the CSV has the event whole)


@dataclass(frozen=True)
class Wording:
    label: str  # the action's human name: the filter's option, the CSV's column
    sentence: Optional[Callable] = None  # (change, event) -> the sentence after the actor's name
    link: Optional[Callable] = None  # (change, event) -> (endpoint, arguments), or None


WORDINGS = {}


def word(action, label, sentence=None, link=None):
    """Register how `action` reads. `sentence` is a function of (change, event) or a format string of the
    change's keys ("filed notice {notice}"); `link` a function of (change, event) giving (endpoint, args)."""
    if isinstance(sentence, str):
        sentence = _formatter(sentence)
    WORDINGS[action] = Wording(label, sentence, link)


def _formatter(template):
    def sentence(change, event):
        return template.format_map(_Lenient(change))
    return sentence


class _Lenient(dict):
    """Format arguments where a missing key reads as a dash rather than failing on an old event's shape."""

    def __missing__(self, key):
        return "-"


def label_of(action):
    wording = WORDINGS.get(action)
    if wording:
        return wording.label
    return action.replace("_", " ").replace(".", " ").strip().capitalize()


def labels(actions):
    """(code, human name) of `actions`, sorted by name: the action filter's options."""
    return sorted(((action, label_of(action)) for action in actions), key=lambda pair: (pair[1].lower(), pair[0]))


@dataclass
class Detail:
    name: str
    text: str  # the value, or "4,212 items" for a collapsed list
    items: list = field(default_factory=list)  # a collapsed list's first items, as text
    more: int = 0  # items of a collapsed list not shown


@dataclass
class Described:
    sentence: str
    link: Optional[str]
    details: list


def change_of(event):
    try:
        value = json.loads(event.change or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {"value": value}


def describe(event):
    """The event's sentence (without the actor), the URL of its object (None if it has no page) and its
    change as details."""
    change = change_of(event)
    wording = WORDINGS.get(event.action)
    sentence = None
    if wording and wording.sentence:
        try:
            sentence = wording.sentence(change, event)
        except (KeyError, TypeError, ValueError, AttributeError):
            sentence = None  # an old event of another shape: the plain words below
    if not sentence:
        sentence = label_of(event.action).lower()
        if event.object_type:
            sentence += f": {event.object_type} {event.object_id}".rstrip()
    return Described(sentence=sentence, link=_link(wording, change, event), details=details_of(change))


def _link(wording, change, event):
    if not (wording and wording.link):
        return None
    try:
        target = wording.link(change, event)
        return url_for(target[0], **target[1]) if target else None
    except (BuildError, KeyError, TypeError, ValueError, AttributeError):
        return None


def details_of(change):
    """The change as (name, value) lines; a long list is counted, its first items kept for "show"."""
    shown = []
    for name, value in change.items():
        if isinstance(value, list) and len(value) > COLLAPSE_AFTER:
            shown.append(Detail(name, f"{len(value):,} items", [_text(v) for v in value[:SHOWN_ITEMS]],
                                max(len(value) - SHOWN_ITEMS, 0)))
        else:
            shown.append(Detail(name, _text(value)))
    return shown


def _text(value):
    if isinstance(value, str):
        return value
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return ", ".join(str(v) for v in value) or "-"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def count(value, noun, plural=None):
    """"1 mark", "4,212 marks": a number (or a list's length) with its noun."""
    n = len(value) if isinstance(value, (list, tuple)) else int(value or 0)
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def object_link(endpoint, argument):
    """A `link` for events whose object id is the page's id: (endpoint, {argument: object id})."""
    def link(change, event):
        return (endpoint, {argument: int(event.object_id)}) if event.object_id else None
    return link
