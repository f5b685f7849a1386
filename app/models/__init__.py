"""Peewee models: the data, the rules, and each change as one transaction."""
