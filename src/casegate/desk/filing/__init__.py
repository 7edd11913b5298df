"""Filing mail at the desk: a batch of arrivals goes through these steps, in this order.

Each step is a function of the :class:`~casegate.desk.filing.batch.Batch`, which carries
the arrivals (one :class:`~casegate.desk.arrivals.Filed` each), what was prefetched for
them, and what the steps decide. The steps inside :func:`each_arrival` decide for one
arrival at a time (a message can answer one filed just before it in the same batch); the
others work on the whole batch at once, so filing a batch takes a handful of queries
whatever its size. A new step (an automation) is one more entry in :data:`STEPS`.

The batch is read with :func:`~casegate.desk.filing.prefetch.prefetch` before the writing
transaction starts; :func:`file_batch` runs inside the caller's transaction.
"""

from __future__ import annotations

from casegate.desk.arrivals import DeskArrival
from casegate.desk.filing.agents import hold_crossed_replies, take_agent_answer
from casegate.desk.filing.batch import Batch, Prefetched, Step, each_arrival
from casegate.desk.filing.contacts import add_contacts
from casegate.desk.filing.conversations import open_conversation, save_new_conversations
from casegate.desk.filing.journal import log_filings
from casegate.desk.filing.mail import acknowledge, mark_failed_replies, notify, send_agent_replies
from casegate.desk.filing.messages import record_history, store_messages
from casegate.desk.filing.prefetch import prefetch
from casegate.desk.filing.reopen import reopen_or_follow_up
from casegate.desk.filing.repeats import skip_repeats
from casegate.desk.filing.sla import start_clocks, start_next_responses
from casegate.desk.filing.suspension import suspend_noise
from casegate.desk.filing.threads import find_conversation, lock_conversations
from casegate.desk.filing.triggers import run_case_triggers
from casegate.routing.engine import RoutingTable

STEPS: tuple[Step, ...] = (
    lock_conversations,            # read again, locked: changed since they were prefetched?
    each_arrival(
        skip_repeats,              # a message stored before is a duplicate: no further
        take_agent_answer,         # an agent's proven answer: their reply, or a note
        find_conversation,         # signed Message-ID, case tag, references
        hold_crossed_replies,      # an agent's reply crossing another's: kept as a note
        reopen_or_follow_up,       # solved or pending: reopened; closed: a new case follows
        suspend_noise,             # none, and noise: suspended with its cause, no further
        open_conversation,         # none: a new case or lead
    ),
    add_contacts,                  # every sender of filed mail is a contact, with its company
    start_clocks,                  # new cases: the SLA policy that applies, the due times
    save_new_conversations,
    store_messages,                # with raw bytes and attachments
    start_next_responses,          # a customer's reply after an agent's: next response due
    record_history,
    run_case_triggers,             # the triggers of each case's event, and their changes
    acknowledge,                   # new cases, when the intake acknowledges
    send_agent_replies,
    notify,                        # the agents, of each customer message
    mark_failed_replies,           # by the delivery reports about them
    log_filings,                   # one line each, once committed
)


def file_batch(arrivals: list[DeskArrival], table: RoutingTable, hostname: str,
               known: Prefetched | None = None) -> Batch:
    """File ``arrivals`` (``known``: what :func:`prefetch` read for them, or read now).

    The batch's ``filed`` says where each went; its ``outgoing`` is the mail to queue.
    """
    batch = Batch.start(arrivals, known or prefetch(arrivals), table, hostname)
    for step in STEPS:
        step(batch)
    return batch
