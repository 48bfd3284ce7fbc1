"""`python -m ils_bridge.cli ...`: the same command as the `ils-bridge` console script."""

from ils_bridge.cli.main import cli

cli(prog_name="ils-bridge")
