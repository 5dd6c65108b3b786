"""``python -m mpmac``: the same command line as the ``mpmac`` script."""

from .cli import main

main(prog_name="mpmac")
