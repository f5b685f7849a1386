"""Counter operations by time, for a counter as it was at a moment
(`counter(name:, at:)`) and for history since a moment: one more index
to write on each change, so that reading the past is a step down an
index rather than a walk back through every later operation. The id
comes last so that operations in one millisecond are in order there too,
and the latest at a moment is the first entry read, on both databases."""


def up(migrator, db):
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "counter_operation_counter_id_timestamp_id" '
        'ON "counter_operation" ("counter_id", "timestamp", "id")'
    )


def down(migrator, db):
    db.execute_sql('DROP INDEX IF EXISTS "counter_operation_counter_id_timestamp_id"')
