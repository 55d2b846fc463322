"""Search engines behind microsite.search: each module here is one backend."""
