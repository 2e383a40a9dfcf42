"""The SLO gate's Locust adapter: the plugin (``slo_locust.plugin``) and the web UI tab
(``slo_locust.webui``). ``import slo_locust`` in a locustfile registers the gate.

Everything that decides lives in the pure ``slo`` package; this package only turns Locust's events
into calls to it and the verdict into files, console text and the web UI tab.
"""

from slo_locust import plugin as plugin  # noqa: F401  (registers the gate's listeners)
