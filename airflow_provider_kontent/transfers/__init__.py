"""Source-to-destination operators (the Airflow providers' ``transfers`` convention).

``kontent_to_sql.KontentToSqlOperator`` loads the pull's changes or an init snapshot into any SQL
database with a ``common.sql`` hook; the modules beside it are its Airflow-free parts (dialects,
schema, rows, loader, typed tables) and the SQL token store.
"""
