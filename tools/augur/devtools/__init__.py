"""Developer tools: the local stack supervisor (`augur up/down/status`), the demo, the
benchmarks, chaos and soak harnesses. Never shipped in the serving image; nothing in the
product or in training imports them."""
