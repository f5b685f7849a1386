"""`/status`: how the server is doing, live, for anyone: open connections,
messages a second, fan-out time and errors over the last few minutes.

`/status.json` gives the samples of app.metrics_samples (aggregates only,
nothing about any user, counter or library), all of them or those after
`?since=<t>`; the page asks for the new ones once a second.
"""

from __future__ import annotations

import math

from app.metrics_samples import SAMPLE_EVERY_SECONDS, MetricsSamples
from app.services import Services
from app.web.base import BaseHandler, PageHandler


class StatusPageHandler(PageHandler):
    def initialize(self, services: Services, samples: MetricsSamples) -> None:  # type: ignore[override]
        super().initialize(services)
        self.samples = samples

    def get(self) -> None:
        latest = self.samples.since()[-1:]
        self.render_page("status_page.html", latest=latest[0] if latest else None)


class StatusSamplesHandler(BaseHandler):
    def initialize(self, services: Services, samples: MetricsSamples) -> None:  # type: ignore[override]
        super().initialize(services)
        self.samples = samples

    def get(self) -> None:
        since_text = self.get_query_argument("since", None)
        since = None
        if since_text is not None:
            try:
                since = float(since_text)
            except ValueError:
                since = math.nan
            if not math.isfinite(since):
                self.write_json(
                    {"error": "since must be a Unix time in seconds, such as 1735689600.5."},
                    status=400,
                )
                return
        self.set_header("Cache-Control", "no-store")
        self.write_json(
            {
                "every": SAMPLE_EVERY_SECONDS,
                "kept": self.samples.samples.maxlen,
                "samples": [sample.as_json() for sample in self.samples.since(since)],
            }
        )
