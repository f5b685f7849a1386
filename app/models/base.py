"""The model base class, bound to the database proxy."""

from __future__ import annotations

import peewee

from app.db import database


class BaseModel(peewee.Model):
    """Peewee adds some attributes at run time, which a type checker cannot
    see: a model's `id` (the primary key when it declares none) and, for
    each foreign key `x`, the column `x_id`. Each model declares those it
    has as bare annotations, `id: peewee.AutoField[int]` and
    `x_id: peewee.ForeignKeyField[int]`: an int on a row, the field on the
    class (for queries), as at run time. An annotation without a value
    makes no field: Peewee's metaclass looks only at assigned values."""

    class Meta:
        database = database
        legacy_table_names = False
