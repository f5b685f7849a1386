"""Tornado handlers: parse input, call one model or API function, shape output."""
