"""Run one provider fake as a process: `python -m tests.fakes openai --port 8081`.

Prints `READY <base_url>` on stdout once listening (port 0 picks a free one), then serves until
killed. The base URL to configure for the provider is printed too (e.g. `<base>/v1` for openai).
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from tests.fakes import FAKES, FakeProviderServer, provider_base_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes", description=__doc__)
    parser.add_argument("kind", choices=sorted(FAKES))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key", default="test-key", help="API key to accept ('' = any)")
    parser.add_argument("--pending", type=int, default=0, help="polls answered 'pending' first")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each submit")
    parser.add_argument("--outcome", default="ok", help="provider-specific scripted outcome")
    args = parser.parse_args(argv)

    fake = FAKES[args.kind](api_key=args.key or None)
    fake.pending = args.pending
    fake.delay_s = args.delay
    fake.outcome = args.outcome
    server = FakeProviderServer(fake, host=args.host, port=args.port)
    print(f"READY {server.base_url} {provider_base_url(args.kind, server.base_url)}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
