"""Exactly-once library changes: the key a client sent with a change of
its library, what it asked, and what the change answered, one per key per
user (the unique index is also what a retry looks the key up by)."""

import peewee as pw


def up(migrator, db):
    class User(pw.Model):
        class Meta:
            database = db
            table_name = "user"

    class LibraryRequest(pw.Model):
        owner = pw.ForeignKeyField(User, on_delete="CASCADE", index=False)
        key = pw.CharField(max_length=100)
        asked = pw.CharField(max_length=64)
        answer = pw.CharField(max_length=32)
        created_at = pw.DateTimeField()

        class Meta:
            database = db
            table_name = "library_request"
            indexes = ((("owner", "key"), True),)

    db.create_tables([LibraryRequest])


def down(migrator, db):
    db.execute_sql('DROP TABLE "library_request"')
