"""Request keys by age, so that the keys past their window
(app.models.request_keys) are found without reading every key: the
periodic prune takes the oldest first, a batch at a time. On the counter
log the index is partial, like the one keys are looked up by (0009): it
holds only the operations that still have a key, so a change sent without
one writes no entry, and one whose key is cleared leaves it."""


def up(migrator, db):
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "counter_operation_keyed_timestamp" '
        'ON "counter_operation" ("timestamp") WHERE "request_key" IS NOT NULL'
    )
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "library_request_created_at" '
        'ON "library_request" ("created_at")'
    )


def down(migrator, db):
    db.execute_sql('DROP INDEX IF EXISTS "library_request_created_at"')
    db.execute_sql('DROP INDEX IF EXISTS "counter_operation_keyed_timestamp"')
