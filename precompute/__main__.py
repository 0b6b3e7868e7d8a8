"""`python -m precompute ...` and `accelerate launch -m precompute ...`: the same as `unsmudge precompute`."""

import sys

from precompute.command import main

if __name__ == "__main__":
    sys.exit(main())
