"""uPlot, the charting library of the live charts, served from the
installed `uplot-python` package (pinned in requirements.txt): nothing of
it is copied into this repository.

The files are found through the package's installed-file record
(importlib.metadata), not by importing it: `import uplot` would load
numpy into the server for two static files.

Licences. uPlot is MIT-licensed: its files carry the copyright line and
"(MIT Licensed)" at their top, and are served unchanged. The package's
own LICENSE (Apache-2.0) covers its Python wrapper, not uPlot, and the
MIT permission notice itself is not in the package; so `/vendor/uplot/LICENSE`
gives uPlot's notice as its file states it, followed by the MIT licence
text it refers to.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path
from typing import Any

import tornado.web

from app.services import Services
from app.web.base import BaseHandler
from app.web.security import set_security_headers

DISTRIBUTION = "uplot-python"
#: The only files served: the browser build and its stylesheet.
FILES = ("uPlot.iife.js", "uPlot.min.css")

MIT_PERMISSION_NOTICE = """\
Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


class MissingPackage(RuntimeError):
    """uplot-python is not installed: the charts cannot be served."""


def uplot_directory() -> Path:
    """Where the installed package keeps uPlot's files."""
    try:
        distribution = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise MissingPackage(
            f"The charts need the {DISTRIBUTION} package: pip install -r requirements.txt"
        ) from None
    directory = Path(str(distribution.locate_file("uplot/static")))
    missing = [name for name in FILES if not (directory / name).is_file()]
    if missing:
        raise MissingPackage(f"{DISTRIBUTION} has no {', '.join(missing)} in {directory}")
    return directory


def uplot_notice(directory: Path) -> str:
    """uPlot's licence: the notice at the top of its browser build (its
    copyright line and version), then the MIT text that notice names."""
    source = (directory / "uPlot.iife.js").read_text(encoding="utf-8")
    header = re.match(r"\s*/\*\*?(.*?)\*/", source, re.DOTALL)
    lines = [line.strip().removeprefix("*").strip() for line in (header or [""])[1].splitlines()]
    notice = "\n".join(line for line in lines if line)
    return f"{notice}\n\nThe MIT License\n\n{MIT_PERMISSION_NOTICE}"


class VendorFileHandler(tornado.web.StaticFileHandler):
    """uPlot's files as they are installed, with this site's headers."""

    def set_default_headers(self) -> None:
        set_security_headers(self)


class UPlotLicenseHandler(BaseHandler):
    def initialize(self, services: Services, notice: str) -> None:  # type: ignore[override]
        super().initialize(services)
        self.notice = notice

    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(self.notice)


def uplot_routes(handler_args: dict[str, Any]) -> list[tuple[str, type, dict[str, Any]]]:
    """`/vendor/uplot/uPlot.iife.js`, `/vendor/uplot/uPlot.min.css` and
    `/vendor/uplot/LICENSE`, from the installed package."""
    directory = uplot_directory()
    files = "|".join(re.escape(name) for name in FILES)
    notice = {**handler_args, "notice": uplot_notice(directory)}
    return [
        (rf"/vendor/uplot/({files})", VendorFileHandler, {"path": str(directory)}),
        (r"/vendor/uplot/LICENSE", UPlotLicenseHandler, notice),
    ]
