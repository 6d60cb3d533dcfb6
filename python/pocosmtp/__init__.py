"""Python bindings to Poco's SMTP client (Poco 1.14.2), one-to-one.

Every class, method, enum and constant keeps Poco's name, so Poco's reference
documentation reads true for Python. The few Python idioms added on top
(context managers, iteration, ``repr``) never rename Poco's API.
"""

import logging as _logging

from . import _pocosmtp
from ._pocosmtp import *  # noqa: F403  (the public names are Poco's)

__version__: str = _pocosmtp.__version__
__all__ = [name for name in dir(_pocosmtp) if not name.startswith("_")]

_logging.getLogger(__name__).addHandler(_logging.NullHandler())
