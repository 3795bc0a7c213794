"""Message stores behind ``MessageStore``: where raw messages live (local folder, S3)."""
