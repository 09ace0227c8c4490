"""Grounded answers: paper cards, comparison tables, roundups and questions, every sentence cited.

Dependencies point one way: ``paperlens.answer`` reads through ``paperlens.index.Library`` and is
used by ``paperlens.api`` and ``paperlens.cli``; it never imports either of them.
"""
