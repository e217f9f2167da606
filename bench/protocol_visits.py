"""First visits without a browser: the server's part of a visit, for visitors who bring their own.

Why: bench/app_timing.py's simultaneous visits run 8 Chromium contexts on the
same 2 cores as the server, so their p95 is mostly 8 browsers building pages
(even a hello-world page takes seconds there). A hosted demo's visitors each
build the page on their own machine. What the server owes them is the static
files and the script's messages, delivered while the others arrive too.

So one real Chromium visit is recorded first (every static file it fetched, in
order, split at the moment it opened the websocket, and the messages it sent on
the websocket), then ``n`` clients replay it at once with no browser: each
fetches the files the browser fetched before opening its websocket (6 at a
time, as a browser does per host, gzip accepted), opens its own session on
``/_stcore/stream``, sends the recorded messages, fetches the rest of the files
meanwhile, and stops its clock when a message carrying ``marker`` (the first
list's source badge) arrives. Nothing is parsed: the server cannot tell these
clients from browsers, and the time is the server's alone.

A visitor's own browser then adds its building time, measured separately on
the idle machine (bench/app_timing.py): one Chromium visit alone minus one
replayed visit alone.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import urllib.request
from dataclasses import dataclass

#: a browser's parallel connections to one host (HTTP/1.1)
CONNECTIONS = 6


@dataclass(frozen=True)
class Recording:
    """What one real browser visit fetched and sent, to be replayed."""

    boot_assets: list[str]  # paths fetched before the websocket opened (index.html first)
    late_assets: list[str]  # paths fetched after (the widgets' code, fonts, icons)
    messages: list[bytes]  # what the browser sent on the websocket, in order


def record_visit(url: str, marker: str, chromium: str, args: list[str]) -> Recording:
    """One Chromium visit to ``url``: its requests and websocket messages, until ``marker``."""
    from playwright.sync_api import sync_playwright

    events: list[tuple[str, str]] = []  # ("get", path) or ("ws", "") in the order they began
    sent: list[bytes] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args)
        page = browser.new_context().new_page()

        def on_request(request) -> None:
            if request.url.startswith(url) and request.method == "GET":
                events.append(("get", request.url[len(url):] or "/"))

        def on_websocket(ws) -> None:
            events.append(("ws", ""))
            ws.on("framesent", lambda payload: sent.append(
                payload if isinstance(payload, bytes) else payload.encode()))

        page.on("request", on_request)
        page.on("websocket", on_websocket)
        page.goto(url + "/")
        page.get_by_text(marker).first.wait_for(timeout=300_000)
        page.wait_for_timeout(500)
        browser.close()
    cut = next((i for i, (kind, _) in enumerate(events) if kind == "ws"), len(events))
    gets = [(i, path) for i, (kind, path) in enumerate(events) if kind == "get"
            and not path.startswith("/_stcore/stream")]
    return Recording(boot_assets=[p for i, p in gets if i < cut],
                     late_assets=[p for i, p in gets if i > cut], messages=sent)


def _get(url: str) -> int:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return len(response.read())


async def _fetch_all(url: str, paths: list[str]) -> int:
    """Fetch ``paths`` over ``CONNECTIONS`` parallel connections; returns bytes received."""
    loop = asyncio.get_running_loop()
    with concurrent.futures.ThreadPoolExecutor(CONNECTIONS) as pool:
        sizes = await asyncio.gather(*(loop.run_in_executor(pool, _get, url + path)
                                       for path in paths))
    return sum(sizes)


async def _one_visit(url: str, rec: Recording, marker: bytes,
                     received: list[bytes] | None = None) -> float:
    """One replayed visit; ``received`` (when given) collects the server's messages."""
    from websockets.asyncio.client import connect

    start = time.perf_counter()
    await _fetch_all(url, rec.boot_assets)
    ws_url = url.replace("http://", "ws://", 1) + "/_stcore/stream"
    # close_timeout: the server does not answer the closing handshake at once, and the
    # default 10 s wait for it would hold up the next round (it is not part of the visit)
    async with connect(ws_url, subprotocols=["streamlit"], origin=url, max_size=None,
                       compression=None, close_timeout=0.2) as ws:
        for message in rec.messages:
            await ws.send(message)
        late = asyncio.ensure_future(_fetch_all(url, rec.late_assets))
        while True:
            message = await ws.recv(decode=False)
            if received is not None:
                received.append(message)
            if marker in message:
                break
        elapsed = time.perf_counter() - start
        await late
    return elapsed


async def _visits(url: str, rec: Recording, n: int, marker: str) -> list[float]:
    return list(await asyncio.gather(*(_one_visit(url, rec, marker.encode())
                                       for _ in range(n))))


def replayed_first_visits(url: str, rec: Recording, n: int, marker: str) -> list[float]:
    """``n`` replayed first visits at once: each one's seconds until the server sent ``marker``."""
    return asyncio.run(_visits(url, rec, n, marker))


def replayed_messages(url: str, rec: Recording, marker: str) -> list[bytes]:
    """One replayed visit's messages from the server, up to the one carrying ``marker``."""
    received: list[bytes] = []
    asyncio.run(_one_visit(url, rec, marker.encode(), received))
    return received
