import sys

from sidecar.infra.launcher import main

sys.exit(main())
