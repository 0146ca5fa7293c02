"""Stored-video celebrity recognition: start Rekognition's jobs, collect their results, sweep lost ones."""
