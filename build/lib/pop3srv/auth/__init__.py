"""Authentication: providers behind ``Authenticator``, each returning a ``Principal``."""
