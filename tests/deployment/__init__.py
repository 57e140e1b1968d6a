"""Tests that start real Airflow processes (marked ``deployment``)."""
