"""bulk (being written)"""
