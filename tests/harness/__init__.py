"""The one vendor test harness: recorded answers through a real ``HttpTransport``
(``replay``), a push receiver (``push``), waiting for what happens in the background
(``waiting``) and the vendor documents' samples (``samples``).  The fixtures built on them
(``sim_account``, ``make_campaign``) live in ``tests/conftest.py``."""
