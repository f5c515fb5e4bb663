"""The HTTP side: translate requests to actions and results to DRF replies."""
