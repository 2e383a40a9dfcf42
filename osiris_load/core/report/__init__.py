"""The report model: a run folder's tables as typed data (``model``) and the inline SVG charts
(``charts``) every view draws from. Reading the files (pandas) is ``osiris_load.reports.load``."""
