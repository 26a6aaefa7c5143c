"""`python -m reconciler.sandbox [--host H] [--port P] [--db PATH] ...`: serve the sandbox.

Credentials come from the environment only: AGORA_CUSTOMER_ID, AGORA_CUSTOMER_SECRET and the
App Certificate from AGORA_APP_CERTIFICATE (or the variable named by --app-certificate-env).
`--db ""` keeps the database in memory.
"""

from __future__ import annotations

import argparse
import sys

from .config import config_from_env
from .server import serve


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m reconciler.sandbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--db", default=".sandbox/engine.db", help='SQLite file; "" = in memory')
    parser.add_argument("--pcu-limit", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=float, default=0.0)
    parser.add_argument("--stop-delay", type=float, default=1.0)
    parser.add_argument("--start-delay", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--app-certificate-env", default="AGORA_APP_CERTIFICATE")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    try:
        config = config_from_env(
            certificate_env=args.app_certificate_env,
            db_path=args.db or None,
            pcu_limit=args.pcu_limit,
            latency_ms=args.latency_ms,
            error_rate=args.error_rate,
            rate_limit=args.rate_limit,
            stop_delay_s=args.stop_delay,
            start_delay_s=args.start_delay,
            seed=args.seed,
        )
    except ValueError as exc:
        parser.error(str(exc))
    print(f"sandbox engine on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    serve(config, args.host, args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
