"""Reports from a finished run (HTML, JUnit, JSON) and baseline comparison.

Data flows one way: ``osiris_load.reports.load`` reads the run folder's CSVs (Locust's and the SLO gate's)
into the typed data of ``osiris_load.core.report.model``; the renderers (``html``, ``junit``, ``summary_json``,
``compare``, with ``charts`` for inline SVG) turn that data into text; ``osiris_load.reports.build`` and the
CLI (``osiris-load report``) write the files. Entry points for other code:
``osiris_load.reports.build.build_all(run_dir)`` and ``reports.html.render_report(run_dir)``.
"""

from osiris_load.core.report.model import ReportError

__all__ = ["ReportError"]
