"""driftctl: which Terragrunt stacks no longer match what is deployed, since when."""

__version__ = "0.1.0"
