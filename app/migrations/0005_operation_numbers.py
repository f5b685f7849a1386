"""Each counter operation keeps its number in the counter's stream (the
operation count it made), so that the operation log itself is the
counter's replay history."""

import peewee as pw


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("counter_operation", "operation_number", pw.IntegerField(null=True)),
    )
    # One pass, numbering each counter's rows in order (SQLite 3.33+ and
    # PostgreSQL both have UPDATE … FROM and window functions).
    db.execute_sql(
        'UPDATE "counter_operation" SET "operation_number" = "numbered"."n" FROM ('
        'SELECT "id", ROW_NUMBER() OVER (PARTITION BY "counter_id" ORDER BY "id") AS "n" '
        'FROM "counter_operation") AS "numbered" '
        'WHERE "counter_operation"."id" = "numbered"."id"'
    )
    migrator.migrate(
        migrator.add_index("counter_operation", ("counter_id", "operation_number"), True),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("counter_operation", "counter_operation_counter_id_operation_number"),
        migrator.drop_column("counter_operation", "operation_number"),
    )
