"""Who follows which counter, for notifications of other people's changes."""

import peewee as pw


def up(migrator, db):
    class User(pw.Model):
        class Meta:
            database = db
            table_name = "user"

    class CounterFollow(pw.Model):
        user = pw.ForeignKeyField(User, on_delete="CASCADE", index=False)
        counter_name = pw.CharField(max_length=64)
        created_at = pw.DateTimeField()

        class Meta:
            database = db
            table_name = "counter_follow"
            indexes = ((("counter_name", "user"), True), (("user", "id"), False))

    db.create_tables([CounterFollow])


def down(migrator, db):
    db.execute_sql('DROP TABLE "counter_follow"')
