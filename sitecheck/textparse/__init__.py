"""Parsers of untrusted page text: dates, identity marks, list items, message boards.

Everything here reads what strangers wrote, so no function raises on any input:
a value that cannot be read comes back as None or an empty list.
"""
