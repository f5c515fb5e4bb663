"""Tests of modules on their own (rules, named SQL, transactions), no transport."""
