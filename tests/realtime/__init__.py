"""Tests of /ws/: actions, broadcasts, resume, several processes, dcrf-client."""
