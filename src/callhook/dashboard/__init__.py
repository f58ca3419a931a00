"""The dashboard: a web page served by ``callhook serve`` itself, at ``/`` and ``/dashboard/``.

No build step and nothing fetched from the internet: a server-rendered HTML shell
(:mod:`.shell`), a style sheet and small ES modules (one per panel) in ``static/``,
shipped inside the package. The pages read the HTTP API (``/api/v1``) and its live
stream with a browser session (:mod:`callhook.api.sessions`), opened by signing in
with an API token or by a one-time link (:func:`.signin.issue_link`).

    routes   the pages, sign-in/out, the one-time link, the static files, the headers
    shell    the HTML shell
    signin   issue_link(hub, base_url): a short-lived single-use sign-in link (/s/CODE);
             POST /api/v1/dashboard-links: one for a running hub's caller
"""

from callhook.dashboard.routes import install
from callhook.dashboard.signin import issue_link

__all__ = ["install", "issue_link"]
