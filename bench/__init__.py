"""Dengue Ward benchmarks (issue 7). Run ``.venv/bin/python -m bench``; see README.md."""
