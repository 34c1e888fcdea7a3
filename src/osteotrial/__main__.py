"""``python -m osteotrial``: the command line of ``osteotrial.cli``."""

from osteotrial.cli import main

main(prog_name="osteotrial")
