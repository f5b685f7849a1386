"""A counter operation may keep the key its client sent with it, so that a
retry with the same key is answered with this operation instead of making
another (exactly-once changes). One per key per counter: the unique index
is also what a retry looks the key up by. It is partial, holding only the
operations that have a key, so the many without one write no index entry
for it (every counter change writes this table)."""

import peewee as pw


def up(migrator, db):
    migrator.migrate(
        migrator.add_column(
            "counter_operation", "request_key", pw.CharField(max_length=160, null=True)
        ),
    )
    db.execute_sql(
        'CREATE UNIQUE INDEX IF NOT EXISTS "counter_operation_counter_id_request_key" '
        'ON "counter_operation" ("counter_id", "request_key") '
        'WHERE "request_key" IS NOT NULL'
    )


def down(migrator, db):
    db.execute_sql('DROP INDEX IF EXISTS "counter_operation_counter_id_request_key"')
    migrator.migrate(migrator.drop_column("counter_operation", "request_key"))
