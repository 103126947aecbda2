"""Node functions of the planning graph (one module per stage)."""
