"""Reports from a finished run (HTML, JUnit, JSON) and baseline comparison.

Data flows one way: ``reports.load`` reads the run folder's CSVs (Locust's and the SLO gate's)
into the typed data of ``reports.model``; the renderers (``html``, ``junit``, ``summary_json``,
``compare``, with ``charts`` for inline SVG) turn that data into text; ``reports.build`` and the
CLI (``python -m reports``) write the files. Entry points for other code:
``reports.build.build_all(run_dir)`` and ``reports.html.render_report(run_dir)``.
"""

from reports.model import ReportError

__all__ = ["ReportError"]
