"""`python -m hmi` is the `hmi` command."""

import sys

from hmi.cli import main

sys.exit(main())
