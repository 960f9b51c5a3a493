"""The language of one request: ``?lang=vi|en``, else the first of ours in Accept-Language,
else the server's (ASSETPLAN_LANG, Vietnamese by default). Every message, problem and label
of the answer is worded in it, and the answer says which (Content-Language).

A pure ASGI middleware: the language is set in the request's context before the app runs, so
the endpoint (in Starlette's thread pool, which copies the context) and the error handlers
speak it too.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from planner.i18n import LANGS, check_lang, current_lang, use_lang


def accept_language(header: str) -> str | None:
    """The best of our languages in an Accept-Language header (q-values honoured)."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            key, _, value = p.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        try:
            lang = check_lang(tag) if tag and tag != "*" else None
        except ValueError:
            lang = None
        if lang is not None and q > 0:
            ranked.append((-q, i, lang))
    return min(ranked)[2] if ranked else None


def request_lang(scope: Scope) -> str:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    for value in query.get("lang", []):
        code = value.strip().lower()[:2]
        if code in LANGS:
            return code
    headers = dict(scope.get("headers") or [])
    header = headers.get(b"accept-language", b"").decode("latin-1")
    return accept_language(header) or current_lang()


class Language:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        lang = request_lang(scope)

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", [])
                           if h[0].lower() != b"content-language"]
                message = {**message, "headers": [*headers,
                                                  (b"content-language", lang.encode())]}
            await send(message)

        with use_lang(lang):
            await self.app(scope, receive, send_with_language)
