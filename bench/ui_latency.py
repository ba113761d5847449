"""Time to sources, draft and first model token as a person sees them in the chat page.

Starts `python -m ui` on the given index (real models by default), drives Debian's Chromium with
Playwright, asks each question in a new conversation and prints, per question, when the source cards, the
extractive draft, the first streamed model text and the final answer became visible.

    python bench/ui_latency.py [--index-dir index] [--port 7865] [--generator gguf]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time

QUESTIONS = [
    "لماذا أجلت ديب سيك إطلاق نموذج R2؟",
    "أين تدرب الشركات الصينية نماذجها؟",
    "كم عدد رقائق A100 المتاحة في الصين؟",
    "ما حالة الطقس في القاهرة اليوم؟",
]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise SystemExit(f"the app did not start on port {port} within {timeout:.0f} s")


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", default="index")
    parser.add_argument("--port", type=int, default=7865)
    parser.add_argument("--generator", default=None)
    args = parser.parse_args()
    command = [sys.executable, "-m", "ui", "--index-dir", args.index_dir, "--port", str(args.port)]
    if args.generator:
        command += ["--generator", args.generator]
    started = time.monotonic()
    server = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy()
    )
    try:
        wait_for_port(args.port, 300)
        print(f"app ready in {time.monotonic() - started:.1f} s (models loaded, prompt cache primed)")
        rows = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 950})
            page.goto(f"http://127.0.0.1:{args.port}/")
            page.wait_for_selector("#question textarea")
            for number, question in enumerate(QUESTIONS, start=1):
                page.click("#new-chat")
                page.wait_for_timeout(300)
                box = page.locator("#question textarea")
                box.fill(question)
                t0 = time.monotonic()
                box.press("Enter")
                page.wait_for_selector("#src-1-1", timeout=60_000)
                sources = time.monotonic() - t0
                answer = page.locator("#chat .answer").last
                answer.wait_for(timeout=60_000)
                draft = time.monotonic() - t0
                page.wait_for_selector("#chat .answer:not(.draft):not(.pending)", timeout=300_000)
                first = time.monotonic() - t0
                page.wait_for_function(
                    "() => !document.querySelector("
                    "'#chat .answer.streaming, #chat .answer.draft, #chat .answer.pending')",
                    timeout=300_000,
                )
                done = time.monotonic() - t0
                rows.append((sources, draft, first, done))
                print(
                    f"[{number}] {question}\n    sources {sources:.2f} s, draft {draft:.2f} s, "
                    f"first model text {first:.2f} s, final answer {done:.2f} s"
                )
            browser.close()
        for label, column in zip(
            ("sources", "draft", "first model text", "final answer"), zip(*rows, strict=True), strict=True
        ):
            print(f"{label:17} median {statistics.median(column):.2f} s, max {max(column):.2f} s")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
