"""`python -m LVScarSegLogic` is the same as the `lvscarseg` command."""
import sys

from .cli import main

sys.exit(main())
