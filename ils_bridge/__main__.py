"""`python -m ils_bridge` is the `ils-bridge` command."""

from ils_bridge.cli.main import cli

cli(prog_name="ils-bridge")
