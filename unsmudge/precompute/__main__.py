"""`python -m unsmudge.precompute ...` and `accelerate launch -m unsmudge.precompute ...`: the same as `unsmudge precompute`."""

import sys

from unsmudge.precompute.command import main

if __name__ == "__main__":
    sys.exit(main())
