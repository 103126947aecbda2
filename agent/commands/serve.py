"""``jitplan serve [--host 127.0.0.1] [--port 8321] --tokens FILE [--catalog C ...]``: the web
console (cycles, approvals, chat, audit) and its JSON API; ``--hash-token`` prints the hash of
a token read from stdin for the tokens file."""

from __future__ import annotations

import argparse
import sys
from typing import Any

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve", help="the web console: cycles, approvals, chat and audit in the browser (JSON API at /docs)",
        description="Serves the console until interrupted. Each role logs in with a bearer token "
        "whose SHA-256 is in --tokens FILE. Exit 0 on Ctrl-C, 2 on bad input.")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1, loopback)")
    p.add_argument("--port", type=int, default=8321, help="port (default 8321; 0: any free port)")
    p.add_argument("--tokens", metavar="FILE", help="tokens file: tokens: [{role, region, sha256, name?}]")
    p.add_argument("--hash-token", action="store_true",
                   help="read a token on stdin, print its sha256 for the tokens file, and exit")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a non-loopback --host (put TLS in front: tokens and cookies travel in it)")
    p.add_argument("--secure-cookies", action="store_true", help="mark cookies Secure (behind HTTPS)")
    p.add_argument("--audit-head", metavar="FILE", help="a head from `jitplan audit head -o FILE` "
                   "anchoring the audit page's verify")
    p.add_argument("--max-body-bytes", type=int, default=64 * 1024, metavar="N",
                   help="largest request body (default 65536); larger ones get 413")
    g = p.add_argument_group("chat inputs (as jitplan chat; role and region come from the token)")
    g.add_argument("--catalog", metavar="CATALOG.yaml")
    g.add_argument("--signals", metavar="SIGNALS.yaml")
    g.add_argument("--contracts", metavar="CONTRACTS.yaml")
    g.add_argument("--state", metavar="FLAGS.json")
    from jitplan.agent.commands._evidence_args import add_evidence_argument
    from jitplan.agent.commands._policy_args import add_policy_args

    add_evidence_argument(g)
    add_policy_args(p)
    g.add_argument("--model", default=None, metavar="M", help="LLM (litellm name) or scripted:FILE")
    g.add_argument("--replications", type=int, default=10, metavar="N")
    p.set_defaults(func=run)


def _hash_token() -> int:
    from jitplan.agent.console.security import MIN_TOKEN_CHARS, hash_token
    from jitplan.contracts.errors import UserError

    token = sys.stdin.readline().strip()
    if len(token) < MIN_TOKEN_CHARS:
        raise UserError(f"a token needs at least {MIN_TOKEN_CHARS} characters (e.g. python -c "
                        "\"import secrets; print(secrets.token_urlsafe(32))\")", source="stdin")
    print(hash_token(token))
    return 0


def chat_base(args: argparse.Namespace) -> dict[str, Any] | None:
    """The chat's ``PlanRequest`` fields (checked now: bad input fails before serving)."""
    if not args.catalog:
        return None
    from jitplan.agent.commands._policy_args import policy_choice
    from jitplan.agent.commands.chat import _empty_signals
    from jitplan.agent.nodes.common import load_inputs
    from jitplan.contracts.agent import PlanRequest
    from jitplan.contracts.errors import UserError

    if args.replications < 1:
        raise UserError("must be at least 1", source="--replications")
    choice = policy_choice(args)
    base: dict[str, Any] = {
        "catalog": args.catalog, "signals": args.signals or _empty_signals(),
        "contracts": args.contracts, "state": args.state, "policy": choice.path,
        "no_policy": choice.disabled, "model": args.model, "replications": args.replications,
        "evidence": list(getattr(args, "evidence", [])),
    }
    load_inputs(PlanRequest(**base, role="console", region="console").model_dump(mode="json"))
    return base


def run(args: argparse.Namespace) -> int:
    if args.hash_token:
        return _hash_token()
    import socket

    from jitplan.contracts.errors import UserError

    if not args.tokens:
        raise UserError("the console needs a tokens file: --tokens FILE (see jitplan serve --hash-token)",
                        source="--tokens")
    if args.host not in LOOPBACK and not args.allow_remote:
        raise UserError(f"{args.host} is not a loopback address; pass --allow-remote to serve "
                        "beyond this machine (behind TLS)", source="--host")
    if not 0 <= args.port <= 65535:
        raise UserError("must be 0..65535", source="--port")
    if args.max_body_bytes < 1024:
        raise UserError("must be at least 1024", source="--max-body-bytes")
    from jitplan.agent.console.security import TokensFile

    tokens = TokensFile.from_file(args.tokens)
    if args.audit_head:
        from jitplan.tools.audit import AuditHead

        AuditHead.from_file(args.audit_head)
    base = chat_base(args)
    import uvicorn

    from jitplan.agent.console import ConsoleConfig, create_app

    app = create_app(ConsoleConfig(tokens=tokens, chat_base=base, audit_head=args.audit_head,
                                   max_body_bytes=args.max_body_bytes,
                                   secure_cookies=args.secure_cookies))
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
        # listen before the URL is printed: a client that connects at once waits in the backlog
        # until uvicorn accepts instead of being refused
        sock.listen(128)
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}", source="--port") from None
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"jitplan console: http://{shown}:{port}/ (Ctrl-C stops)", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                           timeout_graceful_shutdown=5))
    import contextlib

    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    return 0
