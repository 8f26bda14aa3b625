"""``python -m plugin.cli``: the same as the ``seamless-segmentation`` command."""
import sys

from .main import main

if __name__ == "__main__":
    sys.exit(main())
