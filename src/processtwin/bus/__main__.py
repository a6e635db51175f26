"""``python -m processtwin.bus CONFIG --site S --partition K``: a twin worker process."""

from processtwin.bus.cli import main

main()
