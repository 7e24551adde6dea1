"""gunicorn settings for ``bin/serve``, the Procfile and the systemd unit
(``gunicorn -c smsportal/gunicorn.conf.py``).

Every value can be overridden from the environment: ``WEB_BIND`` (default 127.0.0.1:8000,
behind the reverse proxy), ``WEB_CONCURRENCY`` (processes; default 2 per core + 1),
``WEB_THREADS``, ``WEB_TIMEOUT``.  Uploads are buffered by the proxy (nginx) before they
reach a worker, so a slow client never holds one; the timeout covers the longest request the
portal serves itself (an import of up to ``SYNC_MAX_ROWS`` rows read during the request).
"""

import multiprocessing
import os

wsgi_app = "smsportal.wsgi:application"
bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = int(os.environ.get("WEB_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
# A worker is replaced now and then (a slow leak never grows without bound).
max_requests = 5000
max_requests_jitter = 500
# The proxy in front says who the client is and whether it used HTTPS.
forwarded_allow_ips = os.environ.get("WEB_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("WEB_ACCESS_LOG", "-")
if accesslog in ("", "off"):
    accesslog = None  # no access log (the push benchmark)
errorlog = "-"
logger_class = "smsportal.gunicorn_logging.TokenHidingLogger"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
