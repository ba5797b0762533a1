"""``python -m pet_biofeedback``."""

import sys

from pet_biofeedback.cli import main

sys.exit(main())
