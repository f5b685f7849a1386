"""The model base class, bound to the database proxy."""

from __future__ import annotations

import peewee

from app.db import database


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False
