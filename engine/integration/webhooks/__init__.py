"""Webhooks for systems: events of chosen types sent as signed HTTP POSTs (Standard Webhooks).

A subscription names an https URL, the event types it wants (or ``*``) and a signing secret
``whsec_<base64>``, stored encrypted and shown once (on creation and rotation). By job:

- `records`: the views the services return and the row lookups they share;
- `signing`: issuing, encrypting and decrypting signing secrets;
- `receivers`: which URLs webhooks may go to (URL rules + the one address policy of
  engine/outbound; `webhooks_allow_private`, PMOFLOW_WEBHOOKS_ALLOW_PRIVATE=1, allows private
  and loopback receivers and plain http to loopback; metadata addresses never);
- `subscriptions`: create, change, rotate, delete (admins);
- `deliveries`: the delivery log and redelivery;
- `outbox`: one delivery and one job per matching subscription, in the event's transaction;
- `sending`: the job handler, one signed POST through engine/outbound/client.py.

`SUBSCRIPTIONS` (the outbox companion) and `JOBS` (the handler) are registered by engine.bootstrap.
"""

from engine.integration.webhooks.deliveries import get_delivery, list_deliveries, redeliver
from engine.integration.webhooks.outbox import SUBSCRIPTIONS, body_of
from engine.integration.webhooks.receivers import check_url
from engine.integration.webhooks.records import (
    KIND,
    MAX_ATTEMPTS,
    AttemptView,
    DeliveryDetail,
    DeliveryView,
    IssuedSecret,
    SubscriptionView,
)
from engine.integration.webhooks.sending import JOBS, backoff, deliver
from engine.integration.webhooks.signing import decrypt_secret, encrypt_secret, new_secret
from engine.integration.webhooks.subscriptions import (
    KNOWN_EVENT_TYPES,
    MAX_DESCRIPTION,
    create_subscription,
    delete_subscription,
    get_subscription,
    list_subscriptions,
    rotate_secret,
    update_subscription,
)

__all__ = [
    "JOBS",
    "KIND",
    "SUBSCRIPTIONS",
    "KNOWN_EVENT_TYPES",
    "MAX_ATTEMPTS",
    "MAX_DESCRIPTION",
    "AttemptView",
    "DeliveryDetail",
    "DeliveryView",
    "IssuedSecret",
    "SubscriptionView",
    "backoff",
    "body_of",
    "check_url",
    "create_subscription",
    "decrypt_secret",
    "delete_subscription",
    "deliver",
    "encrypt_secret",
    "get_delivery",
    "get_subscription",
    "list_deliveries",
    "list_subscriptions",
    "new_secret",
    "redeliver",
    "rotate_secret",
    "update_subscription",
]
