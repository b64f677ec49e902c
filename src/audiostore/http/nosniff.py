"""`X-Content-Type-Options: nosniff` on every answer, bytes above all.

Stored audio is whatever a client uploaded: a file that sniffs as audio may still hold HTML
or a PDF after its header. With `nosniff` a browser keeps to the declared `audio/*` type and
never renders such bytes as a page on this origin. The outermost layer (`AccessLog`, which
stamps every answer) adds it to each response start unless a route set it already, so no
route, static file, signed URL, stream, CORS preflight or error answer goes out without it.
"""

from __future__ import annotations

HEADER = (b"x-content-type-options", b"nosniff")
