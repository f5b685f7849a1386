"""Resolvers: each turns arguments into one model call and shapes the result."""
