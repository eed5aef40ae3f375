"""`python -m api`: serve the API with uvicorn on API_HOST:API_PORT (settings from the environment)."""

from __future__ import annotations

import uvicorn

from api.app import create_app
from ephemeral_vault.settings import settings_or_exit


def main() -> None:
    settings = settings_or_exit()
    uvicorn.run(
        create_app(settings), host=settings.api_host, port=settings.api_port, proxy_headers=False, log_level="info",
        ws="websockets-sansio",
        # On SIGTERM: stop accepting, let in-flight requests finish, close WebSockets (clients reconnect elsewhere).
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
