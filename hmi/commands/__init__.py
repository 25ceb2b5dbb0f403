"""Subcommands of the `hmi` command, one module per subject; hmi/cli.py registers them."""
