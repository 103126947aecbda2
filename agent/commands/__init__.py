"""CLI subcommands; each module exposes ``register(subparsers)`` and imports only stdlib at top."""
