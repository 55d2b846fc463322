"""revisions (being written)"""
