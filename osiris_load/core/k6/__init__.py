"""k6 in, SLO table out: reading a k6 script's ``options`` (``js_literal``) into an SLO file and a command
line (``importer``)."""
