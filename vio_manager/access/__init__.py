"""Who may do what, and who did what.

roles           admin > operator > viewer, as Django groups; superusers are admins
tokens          per-user API tokens, stored as SHA-256 hashes; authentication the DRF class
permissions     the DRF permission every endpoint uses (read_role / write_role on a view)
pages           the same roles for the browser pages (a decorator and a mixin)
audit           the append-only record of every change: who, when, what, from where
lockout         login throttling with django-axes, and the page that says when to retry
"""
