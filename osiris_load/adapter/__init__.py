"""The Locust adapter: turns Locust's events into calls to the pure core and the verdict into files,
console lines and the web UI tab.

Importing this package imports nothing of Locust (importing ``locust`` patches the process with
gevent): the modules that need Locust import it themselves, so the front door can use the pure
option rules here (``scenario_options``) without it.
"""
