"""Each stored message's Subject and From, read from its header block, a batch at a time in
its own transaction (a large spool is not rewritten in one)."""

from django.db import migrations, transaction
from django.db.models.functions import Substr

from casegate.mail.headers import HeaderFields, shown

BATCH = 1000
HEAD = 65536  # bytes read of each message: its headers, without the body


def fill(apps, schema_editor):
    message_model = apps.get_model("gateway", "Message")
    messages = message_model.objects.using(schema_editor.connection.alias)
    after = ""
    while True:
        with transaction.atomic(using=schema_editor.connection.alias):
            batch = list(messages.filter(queue_id__gt=after).order_by("queue_id")
                         .annotate(head=Substr("raw", 1, HEAD))
                         .values_list("queue_id", "head")[:BATCH])
            if not batch:
                return
            updated = []
            for queue_id, head in batch:
                headers = HeaderFields(bytes(head))
                updated.append(message_model(queue_id=queue_id, subject=shown(headers, "Subject"),
                                             from_header=shown(headers, "From")))
            messages.bulk_update(updated, ["subject", "from_header"])
        after = batch[-1][0]


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("gateway", "0005_message_from_header_message_subject")]
    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
