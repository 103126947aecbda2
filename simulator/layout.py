"""Array layouts shared by the engines: statistic fields and version-parameter columns."""

from __future__ import annotations

__all__ = [
    "F_BUSY",
    "F_COST",
    "F_ERR",
    "F_LAT",
    "F_N",
    "F_QN",
    "F_QUAL",
    "F_RETRY",
    "F_WAIT",
    "NFIELDS",
    "P_A",
    "P_B",
    "P_COLS",
    "P_DIST",
    "P_ERR",
    "P_LATMULT",
    "P_MAXC",
    "P_OUTAGE",
    "P_Q0",
    "P_QSLOPE",
    "P_QT0",
    "P_RPM",
    "P_SEC_IN",
    "P_SEC_OUT",
    "P_TOK_IN",
    "P_TOK_OUT",
    "P_USD_IN",
    "P_USD_OUT",
    "P_USD_REQ",
]

# Statistic fields (last axis of the tick/version arrays).
F_N, F_ERR, F_LAT, F_WAIT, F_BUSY, F_COST, F_QUAL, F_QN, F_RETRY = range(9)
NFIELDS = 9

# Version parameter table columns (one row per version), built by simulator.world.
(
    P_DIST,
    P_A,
    P_B,
    P_LATMULT,
    P_ERR,
    P_OUTAGE,
    P_SEC_IN,
    P_SEC_OUT,
    P_USD_REQ,
    P_USD_IN,
    P_USD_OUT,
    P_Q0,
    P_QSLOPE,
    P_QT0,
    P_TOK_IN,
    P_TOK_OUT,
    P_MAXC,
    P_RPM,
) = range(18)
P_COLS = 18
"""``P_MAXC``: the version's own concurrency limit (0 = none); ``P_RPM``: its requests per
minute (0 = none). Their mutable state (slot free times, minute window) is ``World.capacity_state``."""
