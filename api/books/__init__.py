"""The books: the one place the service's SQL lives.

Every statement runs on the DBAPI connection of a pooled transaction
(:func:`api.db.pooled_transaction`): :mod:`~api.books.driver` runs statements (dialect texts
side by side, rows in one go); :mod:`~api.books.reading` is what a batch of settlements reads
first (locks included); :mod:`~api.books.queries` the other reads; :mod:`~api.books.writing`
every row written — the ``accumulator`` table only through
:func:`~api.books.writing.accumulator_writes` and :func:`~api.books.writing.payment_writes`;
:mod:`~api.books.export` the books of a period as a table; :mod:`~api.books.checks` the checks
of ``medrelief db check``. The functions take keyword arguments.
"""
