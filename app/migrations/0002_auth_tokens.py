"""Credentials behind bearer tokens and session cookies, stored hashed."""

import peewee as pw


def up(migrator, db):
    class User(pw.Model):
        class Meta:
            database = db
            table_name = "user"

    class AuthToken(pw.Model):
        user = pw.ForeignKeyField(User, on_delete="CASCADE")
        token_hash = pw.CharField(max_length=64, unique=True)
        created_at = pw.DateTimeField()
        revoked_at = pw.DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "auth_token"

    db.create_tables([AuthToken])


def down(migrator, db):
    db.execute_sql('DROP TABLE "auth_token"')
