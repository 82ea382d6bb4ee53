# Ctrl-C from here on ends pydbt by SIGINT's default action (a waiting shell sees
# it), not a KeyboardInterrupt traceback while the modules below are imported.
# (_signal, the C module: `import signal` imports enum first, which is long
# enough for a SIGINT to land inside it.)
import _signal
_signal.signal(_signal.SIGINT, _signal.SIG_DFL)

from .cli import entry  # noqa: E402

entry()
