"""Sinks that tell people about a run: Slack, the forge's issues, a pull request's comment.

Each reads the run's results and the merged state (what the stores hold after this run); none can
change either, and none can lose them: a sink that fails is named in the run's summary.
"""
