"""The HTTP face of caseflow: the JSON API under /api and the pages under / (FastAPI)."""
