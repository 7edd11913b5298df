"""Webhooks: case events posted as signed JSON to URLs outside casegate.

An event (the ones triggers listen to, or a trigger's ``webhook`` action) writes one row of
the outbox per webhook in the transaction that made it (:mod:`.outbox`); the delivery
worker's clock sends the due rows, signs each body, retries with backoff and pauses a
webhook that keeps failing (:mod:`.sending`). :mod:`.hooks` adds, changes, pauses and
resumes webhooks. Nothing is sent from the desk's own transactions, so a slow receiver
never holds up mail or people.
"""
