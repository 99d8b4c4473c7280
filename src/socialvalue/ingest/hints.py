"""Recognise why a source does not fit, and name the mapping line that fixes it.

Shared by the messages of a failed load and by ``socialvalue doctor``: header names close to a canonical
column (``Order ID`` → ``order_id``, ``Kunde`` → ``customer_id``), decimal commas (``12,50``), day-first or
month-first dates (``31/01/2026`` → ``%d/%m/%Y``), ``;``-separated files read as one column, and currency
symbols in amounts. Every detector looks at a handful of values (the offending ones, or a sample), never at
every row.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Iterable, Sequence

__all__ = [
    "CURRENCY_SYMBOLS",
    "SYNONYMS",
    "WORDS",
    "closest_column",
    "closest_word",
    "currency_of",
    "date_format_of",
    "delimiter_in_header",
    "looks_decimal_comma",
    "norm",
    "toml_str",
]

#: Currency symbols recognised in amounts, and their ISO-4217 code.
CURRENCY_SYMBOLS: dict[str, str] = {"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR", "CHF": "CHF"}

#: Normalised header names (see :func:`norm`) that mean a canonical column, by canonical column.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer_id": (
        "customer",
        "customerid",
        "customerno",
        "customernumber",
        "client",
        "clientid",
        "user",
        "userid",
        "buyer",
        "buyerid",
        "member",
        "memberid",
        "account",
        "accountid",
        "kunde",
        "kundenid",
        "kundennummer",
        "kundennr",
        "cliente",
        "clientnumber",
        "email",
    ),
    "order_id": (
        "order",
        "orderno",
        "ordernumber",
        "orderid",
        "ordernr",
        "invoice",
        "invoiceid",
        "invoiceno",
        "transaction",
        "transactionid",
        "bestellung",
        "bestellnummer",
        "bestellnr",
        "commande",
        "pedido",
        "id",
    ),
    "ordered_at": (
        "date",
        "orderdate",
        "orderedat",
        "ordertime",
        "created",
        "createdat",
        "purchasedate",
        "purchasedat",
        "timestamp",
        "datetime",
        "time",
        "datum",
        "bestelldatum",
        "fecha",
        "invoicedate",
        "transactiondate",
    ),
    "amount": (
        "total",
        "value",
        "revenue",
        "price",
        "betrag",
        "sum",
        "amount",
        "ordertotal",
        "ordervalue",
        "sales",
        "gross",
        "net",
        "totalamount",
        "umsatz",
        "preis",
        "importe",
        "montant",
        "grandtotal",
        "spend",
    ),
    "currency": ("currency", "curr", "currencycode", "wahrung", "währung", "waehrung", "devise", "moneda"),
    "status": ("status", "orderstatus", "state", "zustand"),
    "quantity": ("quantity", "qty", "items", "units", "menge", "anzahl", "count"),
    "signup_at": (
        "signup",
        "signupdate",
        "registered",
        "registeredat",
        "registrationdate",
        "created",
        "createdat",
        "joined",
        "joinedat",
        "since",
        "firstseen",
    ),
    "acquisition_channel": ("channel", "source", "acquisitionchannel", "acquisition", "utmsource"),
    "country": ("country", "countrycode", "land", "pays", "pais"),
    "consent_marketing": ("consent", "marketingconsent", "optin", "newsletter", "emailoptin"),
    "event_id": ("event", "eventid", "id", "interactionid"),
    "actor_id": ("actor", "user", "userid", "customer", "customerid", "from", "source"),
    "target_customer_id": ("target", "targetuser", "targetid", "to", "recipient"),
    "kind": ("kind", "type", "eventtype", "action", "interaction", "relationship", "relation", "art", "typ"),
    "occurred_at": ("date", "time", "timestamp", "datetime", "created", "createdat", "occurredat", "at"),
    "src_id": ("src", "source", "from", "follower", "fromid", "sourceid", "referrer"),
    "dst_id": ("dst", "destination", "to", "followed", "toid", "targetid", "target", "referred"),
    "created_at": ("date", "created", "createdat", "since", "timestamp", "published", "publishedat"),
    "content_id": ("content", "contentid", "post", "postid", "reviewid"),
    "author_id": ("author", "user", "userid", "customer", "customerid", "creator"),
    "rating": ("rating", "stars", "score"),
    "product_id": ("product", "productid", "sku", "item", "itemid"),
}

#: Common words for the canonical vocabulary words, by vocabulary (keys in lower case).
WORDS: dict[str, dict[str, str]] = {
    "order_statuses": {
        "shipped": "completed",
        "delivered": "completed",
        "paid": "completed",
        "complete": "completed",
        "done": "completed",
        "fulfilled": "completed",
        "closed": "completed",
        "success": "completed",
        "successful": "completed",
        "versandt": "completed",
        "geliefert": "completed",
        "bezahlt": "completed",
        "abgeschlossen": "completed",
        "canceled": "cancelled",
        "cancel": "cancelled",
        "void": "cancelled",
        "voided": "cancelled",
        "storniert": "cancelled",
        "open": "pending",
        "processing": "pending",
        "new": "pending",
        "on hold": "pending",
        "offen": "pending",
        "return": "returned",
        "retour": "returned",
        "retoure": "returned",
        "zurückgesandt": "returned",
        "refund": "refunded",
        "erstattet": "refunded",
        "chargeback": "refunded",
    },
    "interaction_kinds": {
        "visit": "view",
        "pageview": "view",
        "page_view": "view",
        "impression": "view",
        "open": "view",
        "favorite": "like",
        "favourite": "like",
        "heart": "like",
        "upvote": "like",
        "retweet": "share",
        "repost": "share",
        "forward": "share",
        "tag": "mention",
        "dm": "message",
        "follows": "follow",
        "subscribe": "follow",
        "answer": "reply",
        "stars": "rating",
        "rate": "rating",
    },
    "relationship_kinds": {
        "follows": "follow",
        "following": "follow",
        "subscribes": "follow",
        "friends": "friend",
        "referral": "referred",
        "refers": "referred",
        "invited": "referred",
        "trust": "follow",
        "trusts": "follow",
    },
    "content_kinds": {
        "image": "photo",
        "picture": "photo",
        "pic": "photo",
        "clip": "video",
        "reel": "video",
        "blog": "post",
        "article": "post",
        "status": "post",
        "rating": "review",
        "q": "question",
    },
}

_DATE = re.compile(r"^\s*(\d{1,4})([./-])(\d{1,2})\2(\d{1,4})(?:([ T])(\d{1,2}):(\d{2})(:\d{2})?)?\s*$")
_COMMA_NUMBER = re.compile(r"^\s*[-+]?\D{0,4}\s*\d{1,3}(?:[.\s]?\d{3})*,\d+\s*\D{0,4}\s*$")
_DOT_NUMBER = re.compile(r"^\s*[-+]?\D{0,4}\s*\d{1,3}(?:,?\d{3})*(?:\.\d+)?\s*\D{0,4}\s*$")


def norm(name: str) -> str:
    """A header name without case, blanks, underscores or punctuation (``Order ID`` → ``orderid``)."""
    return re.sub(r"[\W_]+", "", name.casefold())


def toml_str(text: str) -> str:
    """``text`` as a TOML basic string (JSON's escapes are valid TOML)."""
    return json.dumps(text, ensure_ascii=False)


def closest_column(canonical: str, candidates: Sequence[str], taken: Iterable[str] = ()) -> str | None:
    """The source column most likely meant as ``canonical``, or ``None``.

    Tried in order: the same name ignoring case, blanks and underscores; a known synonym (:data:`SYNONYMS`);
    a close spelling (:func:`difflib.get_close_matches`). Columns in ``taken`` are not proposed.
    """
    free = [c for c in candidates if c not in set(taken)]
    by_norm: dict[str, str] = {}
    for c in free:
        by_norm.setdefault(norm(c), c)
    target = norm(canonical)
    if target in by_norm:
        return by_norm[target]
    for syn in SYNONYMS.get(canonical, ()):
        if syn in by_norm:
            return by_norm[syn]
    close = difflib.get_close_matches(target, list(by_norm), n=1, cutoff=0.75)
    return by_norm[close[0]] if close else None


def closest_word(
    word: str, vocabulary: Sequence[str], *, kind: str | None = None, cutoff: float = 0.6
) -> str | None:
    """The vocabulary word ``word`` most likely means (ignoring case), or ``None``.

    A word of the vocabulary itself; then a common synonym from :data:`WORDS` for the vocabulary named
    ``kind`` (``shipped`` → ``completed``); then the closest spelling (``canceld`` → ``cancelled``).
    """
    low = word.strip().lower()
    if low in vocabulary:
        return low
    known = WORDS.get(kind or "", {}).get(low)
    if known in vocabulary:
        return known
    close = difflib.get_close_matches(low, list(vocabulary), n=1, cutoff=cutoff)
    return close[0] if close else None


def delimiter_in_header(columns: Sequence[str]) -> str | None:
    """The field separator of a CSV that was read as one column (its header holds ``;``, tab or ``|``)."""
    if len(columns) != 1:
        return None
    for d in (";", "\t", "|", ","):
        if d in columns[0]:
            return d
    return None


def looks_decimal_comma(values: Iterable[object]) -> bool:
    """Whether most of the non-empty text values are numbers written with a decimal comma (``1.234,50``)."""
    texts = [str(v) for v in values if v is not None and str(v).strip()]
    if not texts:
        return False
    comma = sum(bool(_COMMA_NUMBER.match(t)) for t in texts)
    return comma > 0 and comma >= 0.5 * len(texts)


def currency_of(values: Iterable[object]) -> str | None:
    """The ISO-4217 code of the one currency symbol the values carry (``€12,50`` → ``EUR``), else ``None``."""
    found = set()
    for v in values:
        if v is None:
            continue
        text = str(v)
        for sym, code in CURRENCY_SYMBOLS.items():
            if sym in text or re.search(rf"(?<![A-Z]){code}(?![A-Z])", text):
                found.add(code)
    return found.pop() if len(found) == 1 else None


def date_format_of(values: Iterable[object]) -> tuple[str, bool] | None:
    """The ``strptime`` format the text dates are written in, and whether day and month are ambiguous.

    ``31/01/2026`` → ``("%d/%m/%Y", False)``; ``01/02/2026`` alone → ``("%d/%m/%Y", True)`` (it could be
    ``%m/%d/%Y``); ``2026-01-31`` → ``None`` (ISO, read without a format). Day-first is chosen when any first
    field exceeds 12, month-first when any second field does, and day-first for ambiguous dates written
    with dots. A time of day (``13:45`` or ``13:45:10``) is recognised. ``None`` when the values do not look
    like one date format.
    """
    parsed = [m for m in (_DATE.match(str(v)) for v in values if v is not None and str(v).strip()) if m]
    if not parsed:
        return None
    seps = {m.group(2) for m in parsed}
    if len(seps) != 1:
        return None
    sep = seps.pop()
    first = [int(m.group(1)) for m in parsed]
    second = [int(m.group(3)) for m in parsed]
    year_first = all(len(m.group(1)) == 4 for m in parsed)
    ambiguous = False
    if year_first:
        if sep == "-" and all(len(m.group(3)) == 2 and len(m.group(4)) == 2 for m in parsed):
            return None  # ISO 8601: read without a format
        date = f"%Y{sep}%m{sep}%d"
    elif all(len(m.group(4)) in (2, 4) for m in parsed):
        year = "%Y" if all(len(m.group(4)) == 4 for m in parsed) else "%y"
        if max(first) > 12 and max(second) <= 12:
            date = f"%d{sep}%m{sep}{year}"
        elif max(second) > 12 and max(first) <= 12:
            date = f"%m{sep}%d{sep}{year}"
        elif max(first) <= 12 and max(second) <= 12:
            date, ambiguous = f"%d{sep}%m{sep}{year}", sep != "."
        else:
            return None
    else:
        return None
    timed = [m for m in parsed if m.group(5)]
    fmt = date
    if timed:
        if len(timed) != len(parsed):
            return None
        tsep = timed[0].group(5)
        fmt += f"{tsep}%H:%M" + (":%S" if any(m.group(8) for m in timed) else "")
    ok = 0
    for m in parsed:
        try:
            dt.datetime.strptime(m.group(0).strip(), fmt)
            ok += 1
        except ValueError:
            pass
    return (fmt, ambiguous) if ok >= 0.9 * len(parsed) else None
