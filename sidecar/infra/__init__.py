"""The sidecar's infrastructure: settings, Redis (started when none is configured) and its bus, the
Prometheus metrics, and the launcher that starts it all with one command."""
