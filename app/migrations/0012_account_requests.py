"""Exactly-once account changes (signUp, signIn, signOut, followCounter,
unfollowCounter): the key a client sent, what it asked, and the credential
a keyed sign-up or sign-in last issued (or a keyed sign-out revoked), one
per key per user. The unique index is also what a retry looks the key up
by, and what keeps two retries racing on two processes from both applying.
`created_at` is when the key was first used, indexed for the periodic
prune of keys past their window (as 0011 indexes the library's)."""

import peewee as pw


def up(migrator, db):
    class User(pw.Model):
        class Meta:
            database = db
            table_name = "user"

    class AccountRequest(pw.Model):
        user = pw.ForeignKeyField(User, on_delete="CASCADE", index=False)
        key = pw.CharField(max_length=100)
        asked = pw.CharField(max_length=64)
        credential_id = pw.IntegerField(null=True)
        created_at = pw.DateTimeField()

        class Meta:
            database = db
            table_name = "account_request"
            indexes = ((("user", "key"), True), (("created_at",), False))

    db.create_tables([AccountRequest])


def down(migrator, db):
    db.execute_sql('DROP TABLE "account_request"')
