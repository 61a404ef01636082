#!/usr/bin/env python3
"""Start Odoo like ``odoo-bin`` does, for the benchmark's server (bench/run.py).

With ``--workers``, Odoo's master process also runs ``<this script> gevent ...`` for the
websocket/longpolling port, and starts it again as soon as it exits. Where gevent cannot
monkey-patch (e.g. a gevent whose ``zope.interface`` requirement pkg_resources cannot resolve),
that process dies at import and the master respawns it several times a second, which eats the
CPU the benchmark measures. In that case this wrapper keeps an idle stand-in alive instead (the
benchmark uses no websocket); the master kills it when it stops.
"""

# pylint: disable=print-used  (a command-line program)
import os
import subprocess
import sys
import time

PROBE = "import gevent.monkey; gevent.monkey.patch_all()"


def idle_gevent_stand_in():
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=False
    )
    if probe.returncode == 0:
        return False
    reason = (probe.stderr.strip().splitlines() or ["unknown error"])[-1]
    print(
        f"bench/odoo_server.py: gevent is unusable here ({reason}); the websocket/longpolling "
        "process idles instead of crash-looping",
        file=sys.stderr,
        flush=True,
    )
    parent = os.getppid()
    while os.getppid() == parent:  # until the Odoo master stops (it SIGKILLs us anyway)
        time.sleep(1)
    return True


if __name__ == "__main__":
    if sys.argv[1:2] == ["gevent"] and idle_gevent_stand_in():
        sys.exit(0)
    import odoo.cli

    odoo.cli.main()
