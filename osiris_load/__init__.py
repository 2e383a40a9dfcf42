"""osiris-load: Locust load tests for LLM services with an SLO gate whose verdict is true.

The folders are the layers, each importing only from the ones below it (``tests/test_architecture.py``
proves it; ``docs/architecture.md`` draws it):

- ``core``: pure (no Locust, Flask or pandas): the SLO table and its expressions, the recorder, the
  confidence intervals, the verdict object, the open model, the capacity search, the report model,
  the k6 importer.
- ``reports``: the views of a verdict and of a capacity answer (HTML, JUnit, summary.json, compare),
  reading run folders with pandas.
- ``adapter``: the Locust side: the gate (recording, distributed protocol, live looks, output), the
  base user class, the open model's runner, the stages shape, options, progress lines, the web UI tab.
- ``jobs``: the commands (``run``, ``capacity``, ``report``, ``compare``, ``import-k6``, ``bench``) on a
  small process supervisor; ``cli`` is the front door.
"""
