"""Stream positions and the bounded history of recent events, for clients
that reconnect and ask for what they missed."""

import secrets

import peewee as pw


def up(migrator, db):
    class StreamOffset(pw.Model):
        name = pw.CharField(max_length=200, primary_key=True)
        last_offset = pw.BigIntegerField()

        class Meta:
            database = db
            table_name = "stream_offset"

    class StreamRecord(pw.Model):
        stream = pw.CharField(max_length=200)
        event_offset = pw.BigIntegerField()
        data = pw.TextField()
        created_at = pw.DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "stream_record"
            indexes = ((("stream", "event_offset"), True),)

    class HistoryStore(pw.Model):
        epoch = pw.CharField(max_length=32)

        class Meta:
            database = db
            table_name = "history_store"

    db.create_tables([StreamOffset, StreamRecord, HistoryStore])
    HistoryStore.create(epoch=secrets.token_hex(6))


def down(migrator, db):
    for table in ("history_store", "stream_record", "stream_offset"):
        db.execute_sql(f'DROP TABLE "{table}"')
