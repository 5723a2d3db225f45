"""``python -m validation [validate options]`` or ``python -m validation simulate ...``."""
import sys

from .cli import main

sys.exit(main())
