"""``python -m api serve|keys ...`` (the same commands as ``assetplan serve|keys``)."""

from api.cli import app

app()
