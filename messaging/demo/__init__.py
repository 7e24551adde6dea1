"""The demo's simulator page: make the simulated vendors reply, fail and review templates.

It exists only in demo mode (``settings.DEMO_MODE``: ``bin/run``, never production).  The
simulators run in a process of their own (``manage.py run_simulators``); the page asks them
through their control API (``messaging.vendors.simulator``: ``SimulatorControl`` here,
``SimulatorServer``'s demo controls there), so what the simulator does lives with it.
"""
