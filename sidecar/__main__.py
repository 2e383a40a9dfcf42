import sys

from sidecar.launcher import main

sys.exit(main())
