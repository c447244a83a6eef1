"""`python -m settlement_adapters.cli`: the same as the `settlement` command."""

import sys

from settlement_adapters.cli import main

sys.exit(main())
