"""pet-biofeedback: an HRV-biofeedback breathing coach."""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
