"""One index fewer to write on every counter change: the index on
`counter_operation.counter_id` alone repeats the first column of two
others, (counter_id, id) and (counter_id, operation_number), which serve
every lookup it served, the foreign key's included."""


def up(migrator, db):
    db.execute_sql('DROP INDEX IF EXISTS "counteroperation_counter_id"')


def down(migrator, db):
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "counteroperation_counter_id" '
        'ON "counter_operation" ("counter_id")'
    )
