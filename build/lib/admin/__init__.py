"""The admin web app (Quart-Trio on Hypercorn): live sessions, mailbox passwords, metrics."""
