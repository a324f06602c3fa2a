"""The recommendation domain, one module per step of the pipeline (see docs/architecture.md).

The arithmetic (catalogue_arrays, signals, scoring, ranking, explanations, similar,
item_model, evaluation) works on numpy arrays and imports neither Flask, SQLAlchemy nor the
models; app.services.recommender is the front door that loads the data and runs it.
"""
