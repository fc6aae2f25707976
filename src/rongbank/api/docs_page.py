"""``/docs``: the API's interactive documentation, from Swagger UI's files vendored
under ``/static`` (npm ``swagger-ui-dist``, version in the file names, licence in
``swagger-ui-<version>.LICENSE``), never a CDN: it works on a bank's intranet, and
no third party's script runs on the bank's site. The page keeps the site's content
security policy, so its start-up script is a file too (``api-docs.js``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from rongbank.api.one_hop import OneHopRoute

SWAGGER_UI_VERSION = "5.35.0"

router = APIRouter(include_in_schema=False, route_class=OneHopRoute)

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Rongbank API</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/swagger-ui-{SWAGGER_UI_VERSION}.css">
</head>
<body>
<div id="swagger-ui" data-openapi="/openapi.json"></div>
<script src="/static/swagger-ui-bundle-{SWAGGER_UI_VERSION}.js"></script>
<script src="/static/api-docs.js"></script>
</body>
</html>
"""

CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
"""The site's policy, and the icons Swagger UI's stylesheet draws as data: URLs."""


@router.get("/docs")
def docs() -> HTMLResponse:
    return HTMLResponse(_PAGE, headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY})
