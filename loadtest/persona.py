"""What every persona does: sign in (and again before tokens expire), pace, check answers."""

from __future__ import annotations

import random
import time
from typing import ClassVar
from urllib.parse import urlencode

from accounts import Account, Token, renewal_s
from api import FORM, TOKEN
from locust import FastHttpUser
from locust.contrib.fasthttp import ResponseContextManager
from locust.exception import RescheduleTask
from options import option
from run import current_run


def failed(response: ResponseContextManager, expected: tuple[int, ...]) -> bool:
    """Marks the response a failure unless its status is expected; True when it failed."""
    if response.status_code in expected:
        return False
    response.failure(f"{response.status_code}: {(response.text or '')[:200]}")  # type: ignore[no-untyped-call]
    return True


class Persona(FastHttpUser):
    """Signs in as its accounts (and again before tokens expire) and paces its tasks."""

    abstract = True
    # The endpoints the persona calls, as named in the statistics.
    endpoints: ClassVar[tuple[str, ...]] = ()
    pause_s: ClassVar[tuple[float, float]] = (1.0, 3.0)

    def wait_time(self) -> float:
        low, high = self.pause_s
        scale = option(self.environment, "think_time")
        return random.uniform(low, high) * (1.0 if scale is None else float(scale))

    def on_start(self) -> None:
        self.shared = current_run()
        self._tokens: dict[str, Token] = {}

    def bearer(self, account: Account, *, device: bool = False) -> dict[str, str]:
        """The Authorization header of the account, signing in when needed.

        A person signs in on their own phone or laptop; a device's token serves every
        simulated user that drives it (as a station gateway's would)."""
        tokens = self.shared.device_tokens if device else self._tokens
        token = tokens.get(account.login)
        if token is None or time.monotonic() >= token.renew_at:
            token = tokens[account.login] = self._sign_in(account)
        return token.header

    def _sign_in(self, account: Account) -> Token:
        with self.client.post(
            TOKEN, data=urlencode(account.form), headers=FORM, name=TOKEN, catch_response=True
        ) as response:
            if failed(response, (200,)):
                token = None
            else:
                answer = response.json()
                renew_at = time.monotonic() + renewal_s(answer["expires_in"])
                header = {"Authorization": f"Bearer {answer['access_token']}"}
                token = Token(header, renew_at)
        if token is None:
            raise RescheduleTask()  # the failed sign-in is counted; try again next task
        return token

    def read(
        self,
        path: str,
        name: str,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> None:
        """A read that must answer one of the `ok` statuses."""
        with self.client.get(path, name=name, headers=headers, catch_response=True) as response:
            failed(response, ok)
