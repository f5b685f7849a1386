"""The library: stories, tags, and the links between them."""

import peewee as pw


def up(migrator, db):
    class User(pw.Model):
        class Meta:
            database = db
            table_name = "user"

    class Story(pw.Model):
        owner = pw.ForeignKeyField(User, on_delete="CASCADE")
        url = pw.CharField(max_length=2048)
        normalized_url = pw.CharField(max_length=2048)
        title = pw.CharField(max_length=300)
        description = pw.TextField(null=True)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()

        class Meta:
            database = db
            table_name = "story"
            indexes = ((("owner", "normalized_url"), True), (("owner", "id"), False))

    class Tag(pw.Model):
        owner = pw.ForeignKeyField(User, on_delete="CASCADE")
        name = pw.CharField(max_length=50)
        name_key = pw.CharField(max_length=50)
        color = pw.CharField(max_length=7)
        created_at = pw.DateTimeField()

        class Meta:
            database = db
            table_name = "tag"
            indexes = ((("owner", "name_key"), True),)

    class StoryTag(pw.Model):
        story = pw.ForeignKeyField(Story, on_delete="CASCADE")
        tag = pw.ForeignKeyField(Tag, on_delete="CASCADE")

        class Meta:
            database = db
            table_name = "story_tag"
            indexes = ((("story", "tag"), True), (("tag",), False))

    db.create_tables([Story, Tag, StoryTag])


def down(migrator, db):
    for table in ("story_tag", "tag", "story"):
        db.execute_sql(f'DROP TABLE "{table}"')
