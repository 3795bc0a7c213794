"""pop3srv: a POP3 server for the mail Amazon SES stores in S3."""

__version__ = "0.1.0"
