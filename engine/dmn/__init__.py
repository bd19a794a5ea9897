"""The decision engine: FEEL, DMN decision models, evaluation with every hit policy, test tables.

Pure Python: nothing here imports SpiffWorkflow, the web layer or the database. Python-language
cells are run by a sandbox the caller injects (see python_cells.PythonRunner). The rules of
this package and the FEEL dialect it implements are in README.md beside this file.
"""
