"""Train from a config file: ``python tools/train.py CONFIG [options]``, same as ``hooks-train``.

See ``python tools/train.py --help``; the command lives in hooks-core
(`hooks_core.cli`), installed as the ``hooks-train`` console script.
"""

from hooks_core.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
