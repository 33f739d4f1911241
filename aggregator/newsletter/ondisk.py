"""The preview ``.html`` as a file to open from disk: its images from the published copies.

The mailed message addresses every image absolutely, on the site (``site.base_url``): a mail
client has no other way to fetch them.  The preview written next to it is opened from disk
(``file://``) by whoever reviews the edition, often before the site is deployed or where it
is not served: there the logo and the thumbnails would be broken.  So in the preview, and
only there, each ``<img src>`` under ``base_url`` whose published copy exists in the output
directory is rewritten as a path relative to the preview file.  Served over HTTP from
``output_dir/digest`` (the default), the same relative paths lead to the same files.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

_IMG_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]*)(")', re.IGNORECASE)


def images_from_disk(page: str, base_url: str, site_dir: Path, page_dir: Path) -> str:
    """``page`` with its site images addressed relative to ``page_dir`` where the published
    copy is in ``site_dir``; any other image (a member's, a missing copy) is left as it is."""
    root = base_url if base_url.endswith("/") else base_url + "/"

    def local(match: re.Match[str]) -> str:
        url = html.unescape(match.group(2))
        if not url.startswith(root):
            return match.group(0)
        path = unquote(urlsplit(url[len(root) :]).path)
        copy = (site_dir / path).resolve()
        if not path or not copy.is_relative_to(site_dir.resolve()) or not copy.is_file():
            return match.group(0)
        relative = Path(os.path.relpath(copy, page_dir.resolve())).as_posix()
        return match.group(1) + html.escape(quote(relative)) + match.group(3)

    return _IMG_SRC.sub(local, page)
