"""`make eval`: Augur measured on real public purchase logs (development half only)."""
