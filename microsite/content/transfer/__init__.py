"""Moving a site in and out: WordPress import, whole-site export/import, backups.

Each module has one job: `wxr` reads a WordPress export safely, `wpbody` turns WordPress post
text into our HTML, `wordpress` stores an export in one transaction, `permalinks` answers old
URLs with 301s, `archive` writes and reads the whole-site format, `backup` snapshots a running
site, and `cli` wires them to `flask` commands.
"""
