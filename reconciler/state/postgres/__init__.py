"""The PostgreSQL state backend: the state as rows, an advisory lock, one session for both.

Imported only when ``state:`` is a ``postgresql://`` URL (see
:func:`~reconciler.state.backend.open_backend`); ``psycopg`` is imported by these modules only,
and only when they first talk to the database. :mod:`~reconciler.state.postgres.session` is the
connection of a project (and its masking of database errors);
:mod:`~reconciler.state.postgres.schema` the tables and their migrations;
:mod:`~reconciler.state.postgres.store` the document as rows, written by compare-and-set;
:mod:`~reconciler.state.postgres.lock` the session advisory lock and ``force-unlock``;
:mod:`~reconciler.state.postgres.backend` puts them together on one session.
"""
