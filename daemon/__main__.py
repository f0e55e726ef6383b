"""`python -m daemon` is `collabd`."""

import sys

from .cli.main import main

sys.exit(main())
