"""The spool: the queue every message passes through, at the bottom of casegate's layers.

It owns the accepted messages, held mail (quarantine), the deliveries with their attempts
and operators' actions (``models``), the words a delivery's state is stored in
(``vocabulary``), what the rules change in one delivery's copy (``copy_edits``), one
``enqueue`` that every producer of mail calls and that wakes the delivery workers
(``messages``), the gateway's group-commit writer (``store``), a worker's claims and their
outcomes (``queue``) and the wake-up itself (``doorbell``). It imports no other casegate
package but ``config``, ``mail`` and ``errors``, so the gateway, the delivery worker, the desk
and the console all reach the queue downward.

The models keep the Django app labels ``gateway`` and ``delivery`` they were created under:
existing databases have their tables (``gateway_message``, ``gateway_quarantine``,
``delivery_delivery``, ``delivery_deliveryattempt``, ``delivery_queueaction``) and their
migrations under those labels, so moving the code here changes no schema and needs no data
migration. ``gateway.models`` and ``delivery.models`` import them, which is how Django's app
loading registers them under those labels; Django names each table after its app label, so
the tables keep their names without a ``db_table`` (which the migrations would see as a
change).
"""
