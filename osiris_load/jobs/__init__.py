"""The main job (``make run``): start the stack, run the scenarios headless, judge them against the SLO table."""
