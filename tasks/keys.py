"""Hand-off keys: a subscriber's environment variable, else a Prefect Secret block `juki-<name>-key`."""

from __future__ import annotations

import os
from collections.abc import Mapping

from tasks.handoff import HandoffError, Subscriber, key_from_env, key_from_text


def subscriber_key(subscriber: Subscriber, use_prefect: bool, keys: Mapping[str, str] | None = None) -> bytes | None:
    """The 32-byte key of a subscriber, or None when none is configured anywhere; `keys` (a city's keys file) first."""
    if keys and subscriber.key_env in keys:
        return key_from_text(subscriber.key_env, keys[subscriber.key_env])
    key = key_from_env(subscriber.key_env)
    if key is not None or not use_prefect:
        return key
    from prefect.blocks.system import Secret

    block = f"juki-{subscriber.name.replace('_', '-')}-key"
    try:
        value = Secret.load(block).get()
    except (ValueError, RuntimeError):  # no such block
        return None
    os.environ.setdefault(subscriber.key_env, str(value))  # parsed and checked in one place
    try:
        return key_from_env(subscriber.key_env)
    except HandoffError:
        raise HandoffError(f"the Prefect Secret block {block} is not 64 hex digits") from None
