import signal
import sys

# Ctrl-C from here on ends pydbt by SIGINT's default action (a waiting shell sees
# it), not a KeyboardInterrupt traceback while the modules below are imported.
signal.signal(signal.SIGINT, signal.SIG_DFL)

from .cli import main  # noqa: E402

sys.exit(main())
