"""Importable test workflows, run by the unit tests (local runner) and the integration tests
(cluster), which compare their results with `workflows.cases.CASES`."""
