"""`python -m travel_recharge.bench.bare_serve PORT WORKERS`: the bare app served as `serve`
serves ours (kit.serving: a listening socket per worker), with the same loop and parser."""

from __future__ import annotations

import sys

from travel_recharge.kit.serving import SERVER_OPTIONS, serve


def main() -> None:
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    serve(
        "travel_recharge.bench.bare_app:create_bare_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        **SERVER_OPTIONS,
    )


if __name__ == "__main__":
    main()
