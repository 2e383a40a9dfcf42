"""The pure core: everything that decides, with no Locust, Flask or pandas import (a test proves it)."""
