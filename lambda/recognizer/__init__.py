"""Celebrity recognition for images in S3: event parsing, checks, Rekognition, storage."""
