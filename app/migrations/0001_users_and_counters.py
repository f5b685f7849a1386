"""Users, counters and the history of counter operations.

Frozen copies of the models as they were at this version, independent of
the application models (playhouse.migrations' rule), so this file means
the same thing forever.
"""

import peewee as pw


def up(migrator, db):
    class User(pw.Model):
        username = pw.CharField(max_length=32)
        username_key = pw.CharField(max_length=32, unique=True)
        password_hash = pw.CharField(max_length=255)
        created_at = pw.DateTimeField()

        class Meta:
            database = db
            table_name = "user"

    class Counter(pw.Model):
        name = pw.CharField(max_length=64, unique=True)
        value = pw.IntegerField(default=0)
        operation_count = pw.IntegerField(default=0)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "counter"

    class CounterOperation(pw.Model):
        counter = pw.ForeignKeyField(Counter, on_delete="CASCADE")
        type = pw.CharField(max_length=16)
        previous_value = pw.IntegerField()
        value = pw.IntegerField()
        timestamp = pw.DateTimeField()
        actor = pw.ForeignKeyField(User, null=True, on_delete="SET NULL")

        class Meta:
            database = db
            table_name = "counter_operation"
            indexes = ((("counter", "id"), False),)

    db.create_tables([User, Counter, CounterOperation])


def down(migrator, db):
    db.execute_sql('DROP TABLE "counter_operation"')
    db.execute_sql('DROP TABLE "counter"')
    db.execute_sql('DROP TABLE "user"')
