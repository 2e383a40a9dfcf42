"""Reports from a finished run (CSV, HTML, JUnit, JSON) and baseline comparison."""
