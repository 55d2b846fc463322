"""What every request passes through around the views: security headers (`security`), the
configured origin and trusted hosts (`origin`), stored reader pages (`page_cache`),
fragment-or-page rendering (`rendering`), view counting (`counting`), the client's address."""
