"""What driftctl remembers between runs: the pure merge, and the stores that hold its result."""
