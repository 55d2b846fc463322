"""users (being written)"""
