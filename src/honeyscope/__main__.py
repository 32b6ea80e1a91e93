"""``python -m honeyscope`` runs the command line."""

import sys

from honeyscope.cli.main import main

sys.exit(main())
